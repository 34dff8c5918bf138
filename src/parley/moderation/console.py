"""The console's HTML pages under ``/mod`` and the public appeal page ``/appeal``.

Server-rendered Jinja2 with autoescaping everywhere: evidence, comments and names are text, never
markup. Forms post ``application/x-www-form-urlencoded`` with the session's CSRF token in a
hidden ``csrf`` field. The only scripts are static files (CSP ``script-src 'self'``).
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import ClientDisconnect

from parley.assets import Assets
from parley.moderation.auth import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    PRE_COOKIE,
    Auth,
    ChangeResult,
    LoginResult,
    Principal,
    client_ip,
    hash_password,
    new_password,
)
from parley.moderation.service import (
    BAN_PRESETS,
    MAX_REPORT_DAYS,
    Console,
    ConsoleError,
    Reading,
    still_allowed,
)
from parley.moderation.translations import (
    BAN_WARNING,
    REASONS,
    age,
    gettext,
    language_of,
    remember_language,
    when,
)
from parley.pages.language import LANGUAGES, choose_language
from parley.store import InvalidInput, ModeratorExists, Role
from parley.store.values import MODERATOR_NAME_PATTERN
from parley.transparency.report import rows

HERE = Path(__file__).parent
#: The store's name rule as an HTML ``pattern`` (anchored by the browser; "-" escaped for the
#: ``v`` flag).
NAME_PATTERN_HTML = MODERATOR_NAME_PATTERN.strip("^$").replace(".-]", r".\-]")
MAX_FORM_BYTES = 16 * 1024
#: The transparency report's sections, as the console titles them.
SECTIONS = (
    ("notices", "Notices (Article 16 DSA): reports"),
    ("own_initiative", "Own-initiative detection: automatic flags"),
    ("decisions", "Decisions"),
    ("complaints", "Complaints (Article 20 DSA): appeals"),
    ("suspensions", "Suspensions: bans"),
    ("hash_matches", "Matches against lists of known abuse images"),
    ("not_applicable", "Not applicable to Parley"),
    ("report", "About this report"),
)
#: What the change-password page says for each broken rule (``ChangeResult``).
PASSWORD_MESSAGES = {
    ChangeResult.WRONG: "The current password is wrong.",
    ChangeResult.SHORT: "The new password needs at least %(n)s characters.",
    ChangeResult.LONG: "The new password is too long.",
    ChangeResult.SAME: "The new password is your current one.",
    ChangeResult.NAME: "The new password is your name.",
}
#: The console's CSS and scripts, under /mod/static/<hash>/ (see parley.assets).
ASSETS = Assets(HERE / "static", "/mod/static")

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def _gettext(ctx: Context, text: str) -> str:
    return gettext(ctx.get("lang", "en"), text)


@pass_context
def _age(ctx: Context, seconds: float) -> str:
    return age(ctx.get("lang", "en"), seconds)


@pass_context
def _when(ctx: Context, value: datetime | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float | int):
        value = datetime.fromtimestamp(value, UTC)
    return when(ctx.get("lang", "en"), value)


@pass_context
def _since(ctx: Context, value: datetime) -> str:
    return age(ctx.get("lang", "en"), (datetime.now(UTC) - value).total_seconds())


_env.globals["static"] = ASSETS.prefix
_env.globals["name_pattern"] = NAME_PATTERN_HTML
_env.globals["languages"] = LANGUAGES
_env.globals["_"] = _gettext
_env.globals["ban_warning"] = BAN_WARNING
_env.filters["age"] = _age
_env.filters["when"] = _when
_env.filters["since"] = _since


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    pass


class PasswordChangeRequired(Exception):
    """A one-time password: the change-password page is the only one open."""


def render(name: str, status: int = 200, *, lang: str = "en", **ctx: Any) -> HTMLResponse:
    html = _env.get_template(name).render(lang=lang, **ctx)
    return HTMLResponse(
        html, status_code=status, headers={"Cache-Control": "no-store", "Content-Language": lang}
    )


async def read_form(request: Request) -> dict[str, str]:
    try:
        body = await request.body()
    except ClientDisconnect as exc:  # nobody is left to answer; not a server error
        raise ConsoleError(400, "the request ended early") from exc
    if len(body) > MAX_FORM_BYTES:
        raise ConsoleError(413, "form too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _sparkline(samples: list[Reading], attr: str, width: int = 480, height: int = 60) -> str:
    """SVG polyline points for one series (plain attributes: no inline style under the CSP)."""
    if len(samples) < 2:
        return ""
    t0, t1 = samples[0].at, samples[-1].at
    values = [float(getattr(s, attr)) for s in samples]
    top = max(values) or 1.0
    span = (t1 - t0) or 1.0
    return " ".join(
        f"{(s.at - t0) / span * width:.1f},{height - v / top * (height - 4) - 2:.1f}"
        for s, v in zip(samples, values, strict=True)
    )


def _rates(samples: list[Reading], attr: str) -> list[Reading]:
    """Turn a counter series into a per-interval series (same Reading shape, attr replaced)."""
    out: list[Reading] = []
    for a, b in itertools.pairwise(samples):
        minutes = max((b.at - a.at) / 60.0, 1e-6)
        delta = max(0.0, float(getattr(b, attr)) - float(getattr(a, attr))) / minutes
        values = {k: getattr(b, k) for k in Reading.__slots__}
        values[attr] = delta
        out.append(Reading(**values))
    return out


def build_console(auth: Auth, console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def who(request: Request, *, admin: bool = False, one_time: bool = False) -> Principal:
        """The logged-in moderator. ``one_time``: also one who must still change a one-time
        password (the change-password page and logout); everything else refuses them."""
        principal = await auth.principal(request)
        if principal is None:
            raise LoginRequired(request.url.path)
        if principal.must_change and not one_time:
            raise PasswordChangeRequired()
        if admin and not principal.admin:
            raise Forbidden()
        return principal

    async def posted(
        request: Request, *, admin: bool = False, one_time: bool = False
    ) -> tuple[Principal, dict[str, str]]:
        principal = await who(request, admin=admin, one_time=one_time)
        form = await read_form(request)
        if not auth.csrf_ok(principal, form.get("csrf")):
            raise Forbidden()
        return principal, form

    async def page(
        request: Request, name: str, p: Principal, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        waiting = (0, 0) if p.must_change else await console.waiting()
        response = render(
            name, status, lang=language_of(request), me=p, csrf=p.csrf, waiting=waiting,
            path=request.url.path, **ctx,
        )  # fmt: skip
        remember_language(request, response)
        return response

    def back(url: str, flash: str = "") -> RedirectResponse:
        if flash:
            url += ("&" if "?" in url else "?") + "flash=" + quote(flash)
        return RedirectResponse(url, status_code=303)

    # ---- login -----------------------------------------------------------------------------

    def login_form(request: Request, status: int = 200, error: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        response = render(
            "login.html", status, lang=language_of(request), pre=token, error=error, me=None
        )
        response.set_cookie(
            PRE_COOKIE, token, httponly=True, samesite="strict",
            secure=auth.secure_cookie(request), path="/mod/login", max_age=3600,
        )  # fmt: skip
        remember_language(request, response)
        return response

    @router.get("/mod/login")
    async def login_page(request: Request) -> Response:
        return login_form(request)

    @router.post("/mod/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        lang = language_of(request)
        pre = request.cookies.get(PRE_COOKIE, "")
        if not pre or not hmac.compare_digest(pre, form.get("pre", "")):
            message = gettext(lang, "Reload the page and try again.")
            return render("login.html", 403, lang=lang, pre="", error=message, me=None)
        name = form.get("name", "").strip()[:64]
        outcome = await auth.login(name, form.get("password", "")[:256], client_ip(request))
        session = outcome.session
        if session is None:
            limited = outcome.result == LoginResult.LIMITED
            message = (
                gettext(lang, "Too many attempts. Try again in %(n)s s.")
                % {"n": outcome.retry_after}
                if limited
                else gettext(lang, "Wrong name or password.")
            )
            response = login_form(request, 429 if limited else 401, message)
            if limited:
                response.headers["Retry-After"] = str(outcome.retry_after)
            return response
        target = form.get("next", "/mod")
        if not target.startswith("/mod") or target.startswith("//"):
            target = "/mod"
        mod = await auth.store.get_moderator(session.name)
        if mod is not None and mod.must_change_password:
            target = "/mod/password"
        redirect = RedirectResponse(target, status_code=303)
        auth.set_cookie(request, redirect, session)
        redirect.delete_cookie(PRE_COOKIE, path="/mod/login")
        return redirect

    # ---- own password ----------------------------------------------------------------------

    @router.get("/mod/password")
    async def password_page(request: Request) -> Response:
        p = await who(request, one_time=True)
        return await page(request, "password.html", p, min_chars=MIN_PASSWORD_CHARS, error="")

    @router.post("/mod/password")
    async def change_password(request: Request) -> Response:
        p, form = await posted(request, one_time=True)
        lang = language_of(request)
        current = form.get("current", "")[: MAX_PASSWORD_CHARS + 1]
        new = form.get("new", "")[: MAX_PASSWORD_CHARS + 1]

        async def again(status: int, message: str, n: int = MIN_PASSWORD_CHARS) -> Response:
            return await page(
                request, "password.html", p, status, min_chars=MIN_PASSWORD_CHARS,
                error=gettext(lang, message) % {"n": n},
            )  # fmt: skip

        if new != form.get("again", ""):
            return await again(422, "The two new passwords differ.")
        outcome = await auth.change_password(p, current, new, client_ip(request))
        if outcome.result == LoginResult.LIMITED:
            message = "Too many attempts. Try again in %(n)s s."
            response = await again(429, message, outcome.retry_after)
            response.headers["Retry-After"] = str(outcome.retry_after)
            return response
        if outcome.session is None:
            wrong = outcome.result == ChangeResult.WRONG
            return await again(403 if wrong else 422, PASSWORD_MESSAGES[outcome.result])
        redirect = back("/mod", gettext(lang, "Password changed."))
        auth.set_cookie(request, redirect, outcome.session)  # the old cookie is dead already
        return redirect

    @router.post("/mod/logout")
    async def logout(request: Request) -> Response:
        await posted(request, one_time=True)
        await auth.logout(request)
        response = RedirectResponse("/mod/login", status_code=303)
        auth.clear_cookie(request, response)
        return response

    # ---- queue and items -------------------------------------------------------------------

    @router.get("/mod")
    async def queue_page(request: Request, flash: str = "") -> Response:
        p = await who(request)
        q = await console.queue()
        return await page(
            request,
            "queue.html",
            p,
            queue=q,
            oldest=q.oldest_age(datetime.now(UTC)),
            flash=flash[:200],
        )

    @router.post("/mod/items/{ref}/claim")
    async def claim(ref: str, request: Request) -> Response:
        p, _ = await posted(request)
        try:
            won = await console.claim(ref, p.name)
        except ConsoleError as exc:
            return back("/mod", exc.message)
        if not won:
            message = gettext(
                language_of(request), "%(ref)s is held by another moderator or closed."
            )
            return back("/mod", message % {"ref": ref})
        return back(f"/mod/items/{quote(ref)}")

    @router.get("/mod/items/{ref}")
    async def item_page(ref: str, request: Request, flash: str = "") -> Response:
        p = await who(request)
        try:
            view = await console.item(ref)
        except ConsoleError as exc:
            return await page(request, "error.html", p, exc.status, message=exc.message)
        item = view.item
        mine = item.claimed_by == p.name or item.status.value == "open"
        return await page(
            request,
            "item.html",
            p,
            item=item,
            history=view.history,
            can_act=mine and item.status.value != "closed",
            presets=list(BAN_PRESETS),
            reasons=REASONS,
            flash=flash[:200],
            still_allowed=still_allowed(item, admin=p.admin),
        )

    @router.get("/mod/items/{ref}/still")
    async def still(ref: str, request: Request) -> Response:
        p = await who(request)
        try:
            jpeg = await console.still(ref, p.name, admin=p.admin)
        except ConsoleError as exc:
            return await page(request, "error.html", p, exc.status, message=exc.message)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @router.post("/mod/items/{ref}/action")
    async def act(ref: str, request: Request) -> Response:
        p, form = await posted(request)
        lang = language_of(request)
        if form.get("action") == "ban_perm" and form.get("confirmed") != "yes":
            # Nothing is banned for good without a second, deliberate step (the page's dialog
            # sends "confirmed"; without scripts, this page asks).
            return await page(
                request, "confirm.html", p, ref=ref, reason=form.get("reason", "")[:1000]
            )
        try:
            result = await console.act(
                ref, p.name, form.get("action", ""), form.get("reason", ""), form.get("duration")
            )
        except ConsoleError as exc:
            return back(f"/mod/items/{quote(ref)}", exc.message)
        if result.action == "escalate":
            held = gettext(lang, "%(ref)s is under legal hold.") % {"ref": ref}
            return back(f"/mod/items/{quote(ref)}", held)
        done = {"dismiss": "dismissed", "warn": "warned", "ban_temp": "banned",
                "ban_perm": "banned permanently"}[result.action]  # fmt: skip
        return back("/mod", f"{ref}: {gettext(lang, done)}.")

    @router.post("/mod/items/{ref}/release")
    async def release(ref: str, request: Request) -> Response:
        p, _ = await posted(request)
        try:
            await console.release(ref, p.name)
        except ConsoleError as exc:
            return back("/mod", exc.message)
        message = gettext(language_of(request), "%(ref)s is back in the queue.")
        return back("/mod", message % {"ref": ref})

    # ---- appeals ---------------------------------------------------------------------------

    @router.get("/mod/appeals")
    async def appeals_page(request: Request, flash: str = "") -> Response:
        p = await who(request)
        return await page(
            request, "appeals.html", p, appeals=await console.appeals(), flash=flash[:200]
        )

    @router.post("/mod/appeals/{appeal_id}/decide")
    async def decide(appeal_id: int, request: Request) -> Response:
        p, form = await posted(request)
        try:
            a = await console.decide(
                appeal_id, form.get("decision", ""), p.name, form.get("reason", "")
            )
        except ConsoleError as exc:
            return back("/mod/appeals", exc.message)
        lang = language_of(request)
        return back(
            "/mod/appeals", f"{gettext(lang, 'Appeal')} {a.id}: {gettext(lang, a.decision or '')}."
        )

    # ---- dashboard -------------------------------------------------------------------------

    @router.get("/mod/dashboard")
    async def dashboard_page(request: Request) -> Response:
        p = await who(request)
        f = await console.figures()
        cutoff = time.time() - 86400
        hist = [s for s in f.history if s.at >= cutoff]
        charts = [
            ("People online", _sparkline(hist, "online")),
            ("Waiting", _sparkline(hist, "waiting")),
            ("Matches per minute", _sparkline(_rates(hist, "matches"), "matches")),
            ("Open queue", _sparkline(hist, "queue_open")),
        ]
        rt = await console.response_times.measure()
        return await page(request, "dashboard.html", p, f=f, charts=charts, rt=rt)

    @router.get("/mod/transparency")
    async def transparency_page(
        request: Request,
        first: Annotated[str, Query(alias="from", max_length=32)] = "",
        last: Annotated[str, Query(alias="to", max_length=32)] = "",
    ) -> Response:
        p = await who(request, admin=True)
        today = datetime.now(UTC).date()
        ctx: dict[str, Any] = {
            "first": first or (today - timedelta(days=29)).isoformat(),
            "last": last or today.isoformat(),
            "max_days": MAX_REPORT_DAYS,
            "error": "",
            "sections": [],
        }
        try:
            period = (date.fromisoformat(ctx["first"]), date.fromisoformat(ctx["last"]))
        except ValueError:
            return await page(
                request, "transparency.html", p, 422, **{**ctx, "error": "Give two dates."}
            )
        try:
            figures = await console.transparency_report(*period)
        except ConsoleError as exc:
            return await page(
                request, "transparency.html", p, exc.status, **{**ctx, "error": exc.message}
            )
        grouped: dict[str, list[tuple[str, str, str]]] = {}
        for section, figure, breakdown, value in rows(figures):
            grouped.setdefault(section, []).append((figure, breakdown, value))
        ctx["sections"] = [(key, title, grouped.get(key, [])) for key, title in SECTIONS]
        ctx["query"] = urlencode({"from": period[0].isoformat(), "to": period[1].isoformat()})
        return await page(request, "transparency.html", p, **ctx)

    # ---- admin -----------------------------------------------------------------------------

    @router.get("/mod/audit")
    async def audit_page(
        request: Request,
        actor: str = "",
        action: str = "",
        item_type: str = "",
        item_id: str = "",
    ) -> Response:
        p = await who(request, admin=True)
        filters = {
            "actor": actor[:64],
            "action": action[:64],
            "item_type": item_type[:32],
            "item_id": item_id[:64],
        }
        rows = await console.store.audit_log(
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            item_type=filters["item_type"] or None,
            item_id=filters["item_id"] or None,
            limit=200,
        )
        return await page(request, "audit.html", p, rows=rows, filters=filters)

    @router.get("/mod/moderators")
    async def moderators_page(request: Request, flash: str = "") -> Response:
        p = await who(request, admin=True)
        mods = await console.store.list_moderators()
        return await page(
            request, "moderators.html", p, mods=mods, roles=list(Role), flash=flash[:200]
        )

    @router.post("/mod/moderators")
    async def add_moderator(request: Request) -> Response:
        p, form = await posted(request, admin=True)
        name = form.get("name", "").strip()
        password = new_password()
        try:
            await console.store.add_moderator(
                name,
                role=form.get("role", "moderator"),
                password_hash=hash_password(password),
                actor=p.name,
            )
        except (ModeratorExists, InvalidInput) as exc:
            return back("/mod/moderators", str(exc))
        mods = await console.store.list_moderators()
        return await page(
            request,
            "moderators.html",
            p,
            mods=mods,
            roles=list(Role),
            created=(name, password),
            flash="",
        )

    # The account's name travels in the form, not in the path: any name can be changed or
    # deleted, including one made before the name rule.
    @router.post("/mod/moderators/role")
    async def set_role(request: Request) -> Response:
        p, form = await posted(request, admin=True)
        name = form.get("name", "")
        if name == p.name:
            return back(
                "/mod/moderators", gettext(language_of(request), "You cannot change your own role.")
            )
        try:
            await console.store.set_moderator_role(name, form.get("role", ""), actor=p.name)
        except InvalidInput as exc:
            return back("/mod/moderators", str(exc))
        await auth.end_sessions_of(name)
        return back("/mod/moderators", f"{name}: {gettext(language_of(request), 'role changed')}.")

    @router.post("/mod/moderators/delete")
    async def delete_moderator(request: Request) -> Response:
        p, form = await posted(request, admin=True)
        name = form.get("name", "")
        if name == p.name:
            return back(
                "/mod/moderators", gettext(language_of(request), "You cannot delete yourself.")
            )
        await console.store.delete_moderator(name, actor=p.name)
        await auth.end_sessions_of(name)
        return back("/mod/moderators", f"{name}: {gettext(language_of(request), 'deleted')}.")

    # ---- public appeal page ----------------------------------------------------------------

    @router.get("/appeal")
    async def appeal_page(request: Request) -> Response:
        lang = choose_language(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        return render("appeal.html", lang=lang, me=None)

    return router
