"""The console's JSON API under ``/api/mod`` (in the OpenAPI document), and the public appeal API
under ``/api/appeal``.

Authentication: the session cookie from ``POST /api/mod/login``; every unsafe request also sends
the session's CSRF token (returned by login and ``GET /api/mod/me``) in ``X-CSRF-Token``.

An account with a one-time password (``must_change_password`` in ``Me``) gets
``403 {"code": "password_change_required"}`` from every call but ``/me``, ``/logout`` and
``/password`` until ``POST /api/mod/password`` has set a password of its owner's choice.
"""

# No `from __future__ import annotations`: FastAPI must see the local Annotated aliases.

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from parley.moderation.auth import (
    CSRF_HEADER,
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    UNSAFE_METHODS,
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
    Console,
    ConsoleError,
    still_restricted,
)
from parley.moderation.sessions import ModSession
from parley.plain_text import SAYS_SOMETHING
from parley.problem import Problem
from parley.quotas.base import Quotas
from parley.safety.devices import DeviceTokens
from parley.store import (
    MAX_APPEAL_CHARS,
    MAX_REASON_CHARS,
    AppealExists,
    Ban,
    InvalidInput,
    ModeratorExists,
    QueueItem,
    Role,
    device_hash,
)
from parley.store.values import MAX_NAME_CHARS, MODERATOR_NAME_PATTERN
from parley.transparency.report import csv_text


class ApiError(Exception):
    def __init__(self, status: int, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code  # stable, for scripts (the detail is for people)

    def body(self) -> dict[str, str]:
        return {"detail": self.detail, "code": self.code} if self.code else {"detail": self.detail}


#: The 403 code of every call while the account's password is a one-time one.
PASSWORD_CHANGE_REQUIRED = "password_change_required"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """Either the request does not match the schema (``detail`` lists where, as FastAPI says
    it), or it breaks a rule of the item's state that no schema states (``detail`` says which)."""

    detail: str | list[FieldError]


def _doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body is not JSON text",
        401: "Not logged in, or the session expired",
        403: "Missing CSRF token, or the role does not allow this",
        404: "No such item",
        409: "Conflict with the item's state",
        422: "Invalid input",
        429: "Too many attempts",
    }
    return {c: {"model": Invalid if c == 422 else Problem, "description": text[c]} for c in codes}


class Limited(BaseModel):
    detail: str
    retry_after: int


LIMITED_DOC: dict[str, Any] = {
    "model": Limited,
    "description": "Too many attempts from this address, or for this name from this address",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
}


# ---- schemas -------------------------------------------------------------------------------


class LoginIn(BaseModel):
    name: str = Field(max_length=MAX_NAME_CHARS)
    password: str = Field(max_length=256)


class Me(BaseModel):
    name: str
    role: Role
    csrf: str
    must_change_password: bool = False  # True: POST /api/mod/password before anything else


class PasswordIn(BaseModel):
    current: str = Field(max_length=MAX_PASSWORD_CHARS)
    new: str = Field(max_length=MAX_PASSWORD_CHARS)


class Coded(BaseModel):
    """A refusal; ``code`` (stable) says which when a client acts on it."""

    detail: str | list[FieldError]
    code: str | None = None


class QueueItemOut(BaseModel):
    kind: str
    ref: str
    priority: int
    label: str
    created_at: datetime
    status: str
    claimed_by: str | None
    legal_hold: bool

    @classmethod
    def of(cls, q: QueueItem) -> "QueueItemOut":
        return cls(
            kind=q.kind.value,
            ref=q.ref,
            priority=q.priority,
            label=q.label,
            created_at=q.created_at,
            status=q.status.value,
            claimed_by=q.claimed_by,
            legal_hold=q.legal_hold,
        )


class QueueOut(BaseModel):
    open_reports: int
    open_flags: int
    claimed: int
    oldest_open_seconds: float
    items: list[QueueItemOut]


class Line(BaseModel):
    t: float
    speaker: str
    text: str
    seat: str | None = None  # question mode: "asker", "stranger1" or "stranger2"


class PublicBan(BaseModel):
    """A ban as the banned person sees it: no moderator's name reaches the public."""

    id: int
    reason: str
    category: str
    created_at: datetime
    ends_at: datetime | None
    lifted_at: datetime | None

    @classmethod
    def of(cls, b: Ban) -> Self:
        return cls.model_validate(b, from_attributes=True)  # only the fields declared here


class BanOut(PublicBan):
    """A ban as moderators see it: who made it, too."""

    created_by: str


class HistoryOut(BaseModel):
    reports: list[QueueItemOut]
    flags: list[QueueItemOut]
    bans: list[BanOut]


class ItemOut(BaseModel):
    kind: str
    ref: str
    category: str
    priority: int
    comment: str
    created_at: datetime
    status: str
    claimed_by: str | None
    resolution: str | None
    legal_hold: bool
    pool: str
    reported: str
    transcript: list[Line]
    frame_sha256: str | None
    # Only admins may open the still (minor pool, or it matched a list of known abuse images).
    still_restricted: bool = False
    # What raised a flag: a classifier's detections, a known-image list and the distance, ...
    details: dict[str, Any] | None = None
    history: HistoryOut


#: Free text a reader is shown: more than invisible characters and white space (plain_text).
Said = Annotated[str, Field(min_length=1, pattern=SAYS_SOMETHING)]
Reason = Annotated[Said, Field(max_length=MAX_REASON_CHARS)]
Duration = Literal["1h", "24h", "7d", "30d"]  # BAN_PRESETS


class CloseIn(BaseModel):
    """Dismiss, warn, ban for good, or escalate as a legal hold."""

    action: Literal["dismiss", "warn", "ban_perm", "escalate"]
    reason: Reason
    duration: Duration | None = None  # ignored: only a temporary ban lasts a while


class TempBanIn(BaseModel):
    """Ban for one of the preset durations."""

    action: Literal["ban_temp"]
    reason: Reason
    duration: Duration


#: What a moderator does with an item (the schema says that a temporary ban needs a duration).
ActionIn = Annotated[CloseIn | TempBanIn, Field(discriminator="action")]


class ActionOut(BaseModel):
    ref: str
    action: str
    ban: BanOut | None
    legal_hold: bool


class ClaimOut(BaseModel):
    ref: str
    claimed: bool


class AppealOut(BaseModel):
    id: int
    ban_id: int
    text: str
    created_at: datetime
    decision: str | None
    decision_reason: str | None
    ban: BanOut | None


class DecideIn(BaseModel):
    decision: Literal["upheld", "lifted"]
    reason: Reason


class Dashboard(BaseModel):
    online: int
    waiting: dict[str, int]
    matches_per_minute: float
    reports_per_hour: float
    flags_per_hour: float
    queue_open: int
    queue_claimed: int
    queue_oldest_seconds: float


class ClassTimesOut(BaseModel):
    name: str  # critical (1000+), urgent (100+), high (50+), normal (10+), low
    waiting: int
    oldest_seconds: float
    decided: int
    p50_seconds: float | None
    p95_seconds: float | None


class OverdueOut(BaseModel):
    ref: str
    waiting_seconds: float


class ResponseTimesOut(BaseModel):
    at: datetime
    window_seconds: float
    alert_after_seconds: float
    classes: list[ClassTimesOut]
    overdue: list[OverdueOut]


REPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figures as JSON, or as CSV rows (section, figure, breakdown, value)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    **_doc(422),
}


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    item_type: str | None
    item_id: str | None
    reason: str | None
    details: dict[str, Any] | None


class ModeratorOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None


class ModeratorIn(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=MODERATOR_NAME_PATTERN)
    role: Role = Role.MODERATOR


class NewModerator(BaseModel):
    name: str
    role: Role
    password: str  # shown once


class RoleIn(BaseModel):
    role: Role


class DeviceIn(BaseModel):
    device: str = Field(max_length=80)


class AppealIn(BaseModel):
    device: str = Field(max_length=80)
    text: Annotated[Said, Field(max_length=MAX_APPEAL_CHARS)]


class PublicAppeal(BaseModel):
    id: int
    ban_id: int
    text: str
    created_at: datetime
    decision: str | None
    decision_reason: str | None
    ban: PublicBan | None


class AppealStatus(BaseModel):
    banned: bool
    ban: PublicBan | None
    can_appeal: bool
    appeal: PublicAppeal | None  # the appeal of the ban in force, if any
    decision: PublicAppeal | None  # a decided appeal the user has not seen yet


def _appeal_out(a: Any, ban: Ban | None) -> AppealOut:
    return AppealOut(
        id=a.id,
        ban_id=a.ban_id,
        text=a.text,
        created_at=a.created_at,
        decision=a.decision,
        decision_reason=a.decision_reason,
        ban=BanOut.of(ban) if ban else None,
    )


def _public_appeal(a: Any, ban: Ban | None) -> PublicAppeal:
    return PublicAppeal(
        id=a.id,
        ban_id=a.ban_id,
        text=a.text,
        created_at=a.created_at,
        decision=a.decision,
        decision_reason=a.decision_reason,
        ban=PublicBan.of(ban) if ban else None,
    )


#: What each broken password rule says (the ``code`` is ``ChangeResult``'s).
PASSWORD_RULES = {
    ChangeResult.SHORT: f"the new password needs at least {MIN_PASSWORD_CHARS} characters",
    ChangeResult.LONG: f"the new password has more than {MAX_PASSWORD_CHARS} characters",
    ChangeResult.SAME: "the new password is the current one",
    ChangeResult.NAME: "the new password is your name",
}


# ---- routers -------------------------------------------------------------------------------


def build_api(
    auth: Auth, console: Console, devices: DeviceTokens, quotas: Quotas
) -> list[APIRouter]:
    async def signed_in(
        request: Request,
        x_csrf_token: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
    ) -> Principal:
        """Logged in, and the CSRF token on an unsafe request; a one-time password is fine."""
        principal = await auth.principal(request)
        if principal is None:
            raise ApiError(401, "login required")
        if request.method in UNSAFE_METHODS and not auth.csrf_ok(principal, x_csrf_token):
            raise ApiError(403, "missing or wrong CSRF token")
        return principal

    async def who(p: Annotated[Principal, Depends(signed_in)]) -> Principal:
        if p.must_change:
            raise ApiError(
                403, "change your one-time password first (POST /api/mod/password)",
                PASSWORD_CHANGE_REQUIRED,
            )  # fmt: skip
        return p

    async def admin(p: Annotated[Principal, Depends(who)]) -> Principal:
        if not p.admin:
            raise ApiError(403, "admins only")
        return p

    Mod = Annotated[Principal, Depends(who)]
    Anyone = Annotated[Principal, Depends(signed_in)]  # also with a one-time password
    Admin = Annotated[Principal, Depends(admin)]
    Ref = Annotated[str, Path(max_length=16)]

    mod = APIRouter(prefix="/api/mod", tags=["moderation"], responses=_doc(401, 403))

    @mod.post("/login", response_model=Me, responses={**_doc(400, 401, 422), 429: LIMITED_DOC})
    async def login(body: LoginIn, request: Request) -> Response:
        """Log in; sets the session cookie and returns the CSRF token for unsafe requests."""
        outcome = await auth.login(body.name.strip(), body.password, client_ip(request))
        session = outcome.session
        if outcome.result == LoginResult.LIMITED:
            return JSONResponse(
                {"detail": "too many attempts", "retry_after": outcome.retry_after},
                status_code=429,
                headers={"Retry-After": str(outcome.retry_after)},
            )
        if session is None:
            return JSONResponse({"detail": "wrong name or password"}, status_code=401)
        return await _me_with_cookie(request, session)

    async def _me_with_cookie(request: Request, session: ModSession) -> Response:
        mod_ = await console.store.get_moderator(session.name)
        me = Me(
            name=session.name,
            role=mod_.role if mod_ else Role.MODERATOR,
            csrf=session.csrf,
            must_change_password=bool(mod_ and mod_.must_change_password),
        )
        response = JSONResponse(me.model_dump(mode="json"))
        auth.set_cookie(request, response, session)
        return response

    @mod.post(
        "/password",
        response_model=Me,
        responses={
            400: {"model": Problem, "description": "The body is not JSON text"},
            401: {"model": Problem, "description": "Not logged in, or the session expired"},
            403: {"model": Coded, "description": "Missing CSRF token, or wrong_password"},
            422: {"model": Coded, "description": "The new password breaks a rule (code)"},
            429: LIMITED_DOC,
        },
    )
    async def change_password(body: PasswordIn, request: Request, p: Anyone) -> Response:
        """Set your own password: ``current`` is the one you logged in with, ``new`` has at
        least 12 characters (``auth.MIN_PASSWORD_CHARS``) and is neither the current one nor
        your name. Every session of the account ends; this answer carries a new session cookie
        and a new CSRF token."""
        outcome = await auth.change_password(p, body.current, body.new, client_ip(request))
        if outcome.result == LoginResult.LIMITED:
            return JSONResponse(
                {"detail": "too many attempts", "retry_after": outcome.retry_after},
                status_code=429,
                headers={"Retry-After": str(outcome.retry_after)},
            )
        if outcome.session is None:
            wrong = outcome.result == ChangeResult.WRONG
            detail = "the current password is wrong" if wrong else PASSWORD_RULES[outcome.result]
            return JSONResponse(
                {"detail": detail, "code": outcome.result}, status_code=403 if wrong else 422
            )
        return await _me_with_cookie(request, outcome.session)

    @mod.post("/logout", status_code=204, response_class=Response)
    async def logout(request: Request, p: Anyone) -> Response:
        """End this session."""
        await auth.logout(request)
        response = Response(status_code=204)
        auth.clear_cookie(request, response)
        return response

    @mod.get("/me", response_model=Me)
    async def me(p: Anyone) -> Me:
        return Me(name=p.name, role=p.role, csrf=p.csrf, must_change_password=p.must_change)

    @mod.get("/queue", response_model=QueueOut)
    async def queue(p: Mod, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> QueueOut:
        """Open and claimed reports and flags, by priority then age."""
        from datetime import UTC

        q = await console.queue(limit)
        return QueueOut(
            open_reports=q.open_reports,
            open_flags=q.open_flags,
            claimed=q.claimed,
            oldest_open_seconds=round(q.oldest_age(datetime.now(UTC)), 1),
            items=[QueueItemOut.of(i) for i in q.items],
        )

    @mod.get("/items/{ref}", response_model=ItemOut, responses=_doc(404))
    async def item(ref: Ref, p: Mod) -> ItemOut:
        """One report or flag with its evidence and the reported device's history."""
        view = await console.item(ref)
        it, h = view.item, view.history
        return ItemOut(
            kind=it.kind.value,
            ref=it.ref,
            category=it.category,
            priority=it.priority,
            comment=it.comment,
            created_at=it.created_at,
            status=it.status.value,
            claimed_by=it.claimed_by,
            resolution=it.resolution,
            legal_hold=it.legal_hold,
            pool=it.pool,
            reported=it.reported,
            transcript=[
                Line(t=x["t"], speaker=x["from"], text=x["text"], seat=x.get("seat"))
                for x in it.transcript
            ],
            frame_sha256=it.frame_sha256,
            still_restricted=still_restricted(it),
            details=it.details,
            history=HistoryOut(
                reports=[QueueItemOut.of(x) for x in h.reports],
                flags=[QueueItemOut.of(x) for x in h.flags],
                bans=[BanOut.of(b) for b in h.bans],
            ),
        )

    @mod.post("/items/{ref}/claim", response_model=ClaimOut, responses=_doc(404, 409))
    async def claim(ref: Ref, p: Mod) -> ClaimOut:
        """Take the item for review; 409 if another moderator holds it or it is closed."""
        if not await console.claim(ref, p.name):
            raise ApiError(409, "another moderator holds this item, or it is closed")
        return ClaimOut(ref=ref, claimed=True)

    @mod.post("/items/{ref}/release", response_model=ClaimOut, responses=_doc(404))
    async def release(ref: Ref, p: Mod) -> ClaimOut:
        """Give the item back to the queue."""
        released = await console.release(ref, p.name)
        return ClaimOut(ref=ref, claimed=not released)

    @mod.post("/items/{ref}/action", response_model=ActionOut, responses=_doc(400, 404, 409, 422))
    async def action(ref: Ref, body: ActionIn, p: Mod) -> ActionOut:
        """Dismiss, warn, ban (temporary: ``duration`` one of the presets; or permanent) or
        escalate as a legal hold. ``reason`` is the statement of reasons shown to the user."""
        result = await console.act(ref, p.name, body.action, body.reason, body.duration)
        return ActionOut(
            ref=result.ref,
            action=result.action,
            ban=BanOut.of(result.ban) if result.ban else None,
            legal_hold=result.legal_hold,
        )

    @mod.get(
        "/items/{ref}/still",
        response_class=Response,
        responses={
            **_doc(403, 404),
            200: {"content": {"image/jpeg": {}}, "description": "The JPEG still"},
        },
    )
    async def still(ref: Ref, p: Mod) -> Response:
        """The item's still frame (JPEG). Stills from the minor pool: admins only. Every view
        is recorded in the audit log."""
        jpeg = await console.still(ref, p.name, admin=p.admin)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @mod.get("/items/{ref}/export", responses=_doc(404, 409))
    async def export(ref: Ref, p: Mod) -> dict[str, Any]:
        """The legal-hold bundle of an item (evidence, timestamps, hashed identifiers, SHA-256
        digests). The still's bytes are in it only for those who may open the still (minor
        pool: admins); its digest always is. Recorded in the audit log as what it holds."""
        return await console.export(ref, p.name, admin=p.admin)

    @mod.get("/ban-presets", response_model=list[str])
    async def presets(p: Mod) -> list[str]:
        return list(BAN_PRESETS)

    @mod.get("/appeals", response_model=list[AppealOut])
    async def appeals(p: Mod) -> list[AppealOut]:
        """Undecided appeals, oldest first."""
        return [_appeal_out(a, b) for a, b in await console.appeals()]

    @mod.post(
        "/appeals/{appeal_id}/decide",
        response_model=AppealOut,
        responses=_doc(400, 404, 409, 422),
    )
    async def decide(
        appeal_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: DecideIn, p: Mod
    ) -> AppealOut:
        """Uphold or lift; ``reason`` is shown to the user."""
        a = await console.decide(appeal_id, body.decision, p.name, body.reason)
        return _appeal_out(a, await console.store.get_ban(a.ban_id))

    @mod.get("/dashboard", response_model=Dashboard)
    async def dashboard(p: Mod) -> Dashboard:
        """Live figures, from the same counters as /metrics."""
        f = await console.figures()
        return Dashboard(
            online=f.online,
            waiting=f.waiting,
            matches_per_minute=f.matches_per_minute,
            reports_per_hour=f.reports_per_hour,
            flags_per_hour=f.flags_per_hour,
            queue_open=f.queue_open,
            queue_claimed=f.queue_claimed,
            queue_oldest_seconds=f.queue_oldest_seconds,
        )

    @mod.get("/response-times", response_model=ResponseTimesOut)
    async def response_times(p: Mod) -> ResponseTimesOut:
        """How long reports and flags wait, per priority class: waiting now, the oldest, and
        the median and 95th percentile time to a decision over PARLEY_RESPONSE_TIME_WINDOW;
        minor_in_danger reports waiting longer than PARLEY_MINOR_IN_DANGER_ALERT_SECONDS."""
        t = await console.response_times.measure()
        return ResponseTimesOut(
            at=t.at,
            window_seconds=t.window_seconds,
            alert_after_seconds=t.alert_after_seconds,
            classes=[ClassTimesOut(**dataclasses.asdict(c)) for c in t.classes],
            overdue=[OverdueOut(ref=o.ref, waiting_seconds=o.waiting_seconds) for o in t.overdue],
        )

    @mod.get("/transparency/report", response_model=dict[str, dict[str, Any]], responses=REPORT_DOC)
    async def transparency(
        p: Admin,
        first: Annotated[date, Query(alias="from")],
        last: Annotated[date, Query(alias="to")],
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        """The transparency report's figures (EU harmonised template) from ``from`` to ``to``,
        both days included, at most 366 days (admins only)."""
        figures = await console.transparency_report(first, last)
        if format == "json":
            return figures
        name = f"transparency-report-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            csv_text(figures),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @mod.get("/audit", response_model=list[AuditOut])
    async def audit(
        p: Admin,
        actor: Annotated[str | None, Query(max_length=MAX_NAME_CHARS)] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
        item_type: Annotated[str | None, Query(max_length=32)] = None,
        item_id: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[AuditOut]:
        """The audit log, newest first (admins only). ``action`` ending in "." is a prefix."""
        rows = await console.store.audit_log(
            actor=actor or None,
            action=action or None,
            item_type=item_type or None,
            item_id=item_id or None,
            limit=limit,
            offset=offset,
        )
        return [
            AuditOut(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                item_type=r.item_type,
                item_id=r.item_id,
                reason=r.reason,
                details=r.details,
            )
            for r in rows
        ]

    @mod.get("/moderators", response_model=list[ModeratorOut])
    async def moderators(p: Admin) -> list[ModeratorOut]:
        """Every account (admins only)."""
        return [
            ModeratorOut(
                name=m.name,
                role=m.role,
                created_at=m.created_at,
                last_login_at=m.last_login_at,
            )
            for m in await console.store.list_moderators()
        ]

    @mod.post(
        "/moderators", response_model=NewModerator, status_code=201, responses=_doc(400, 409, 422)
    )
    async def add_moderator(body: ModeratorIn, p: Admin) -> NewModerator:
        """Create an account; the one-time password is in the answer, and only there."""
        password = new_password()
        try:
            m = await console.store.add_moderator(
                body.name, role=body.role, password_hash=hash_password(password), actor=p.name
            )
        except ModeratorExists as exc:
            raise ApiError(409, "that name is taken") from exc
        except InvalidInput as exc:
            raise ApiError(422, str(exc)) from exc
        return NewModerator(name=m.name, role=m.role, password=password)

    @mod.post(
        "/moderators/{name}/role", response_model=ModeratorOut, responses=_doc(400, 404, 409, 422)
    )
    async def set_role(
        name: Annotated[str, Path(max_length=MAX_NAME_CHARS)], body: RoleIn, p: Admin
    ) -> ModeratorOut:
        """Change an account's role (not your own)."""
        if name == p.name:
            raise ApiError(409, "you cannot change your own role")
        if not await console.store.set_moderator_role(name, body.role, actor=p.name):
            raise ApiError(404, "no such moderator")
        await auth.end_sessions_of(name)  # the stamp would end them at their next request
        m = await console.store.get_moderator(name)
        if m is None:
            raise ApiError(404, "no such moderator")
        return ModeratorOut(
            name=m.name,
            role=m.role,
            created_at=m.created_at,
            last_login_at=m.last_login_at,
        )

    @mod.post("/moderators/{name}/password", response_model=NewModerator, responses=_doc(404, 409))
    async def reset_password(
        name: Annotated[str, Path(max_length=MAX_NAME_CHARS)], p: Admin
    ) -> NewModerator:
        """A new one-time password for an account (not your own), in the answer only; the
        account's live sessions end."""
        if name == p.name:
            raise ApiError(409, "change your own password with POST /api/mod/password")
        password = new_password()
        if not await console.store.set_moderator_password(
            name, hash_password(password), actor=p.name
        ):
            raise ApiError(404, "no such moderator")
        await auth.end_sessions_of(name)
        m = await console.store.get_moderator(name)
        if m is None:
            raise ApiError(404, "no such moderator")
        return NewModerator(name=m.name, role=m.role, password=password)

    @mod.delete(
        # :path so that an account named before the name rule (with a "/") can be deleted too
        "/moderators/{name:path}",
        status_code=204,
        response_class=Response,
        responses=_doc(404, 409),
    )
    async def delete_moderator(
        name: Annotated[str, Path(max_length=MAX_NAME_CHARS)], p: Admin
    ) -> Response:
        """Delete an account (not your own) and end its sessions."""
        if name == p.name:
            raise ApiError(409, "you cannot delete yourself")
        if not await console.store.delete_moderator(name, actor=p.name):
            raise ApiError(404, "no such moderator")
        await auth.end_sessions_of(name)
        return Response(status_code=204)

    # ---- public: appeals -------------------------------------------------------------------

    public = APIRouter(prefix="/api/appeal", tags=["appeal"])

    async def limited(request: Request) -> None:
        # One bucket per address for every node (``redis://``), keyed by a keyed digest: no
        # quota key holds a network address.
        s = auth.settings
        key = f"appeal:{devices.address_tag(client_ip(request))}"
        if not await quotas.take(key, s.appeal_rate, s.appeal_burst):
            raise ApiError(429, "too many requests")

    async def ban_of(request: Request, token: str) -> Ban | None:
        # The device token proves whose ban it is: it is signed by this server, and a ban id
        # alone is never trusted.
        if not devices.verify(token):
            raise ApiError(403, "this browser's identity is not valid")
        store = console.store
        ips = await store.ip_hash(client_ip(request))
        return await store.active_ban(device_hash(token), ips)

    @public.post("/status", response_model=AppealStatus, responses=_doc(400, 403, 422, 429))
    async def appeal_status(body: DeviceIn, request: Request) -> AppealStatus:
        """The ban in force on this browser, its appeal, and an appeal decision not yet seen
        (which this call marks as seen)."""
        await limited(request)
        ban = await ban_of(request, body.device)
        store = console.store
        appeal = await store.appeal_for_ban(ban.id) if ban else None
        ips = await store.ip_hash(client_ip(request))
        decided = await store.pending_decision_for(device_hash(body.device), ips)
        decision = None
        if decided is not None:
            decision = _public_appeal(decided, await store.get_ban(decided.ban_id))
            await store.mark_decision_seen(decided.id)
        return AppealStatus(
            banned=ban is not None,
            ban=PublicBan.of(ban) if ban else None,
            can_appeal=ban is not None and appeal is None,
            appeal=_public_appeal(appeal, ban) if appeal else None,
            decision=decision,
        )

    @public.post(
        "", response_model=PublicAppeal, status_code=201, responses=_doc(400, 403, 409, 422, 429)
    )
    async def appeal(body: AppealIn, request: Request) -> PublicAppeal:
        """Appeal the ban in force on this browser (once per ban)."""
        await limited(request)
        ban = await ban_of(request, body.device)
        if ban is None:
            raise ApiError(403, "there is no ban in force on this browser")
        try:
            a = await console.store.add_appeal(ban.id, body.text)
        except AppealExists as exc:
            raise ApiError(409, "this ban has been appealed already") from exc
        except InvalidInput as exc:
            raise ApiError(422, str(exc)) from exc
        return _public_appeal(a, ban)

    return [mod, public]


def console_error_status(exc: ConsoleError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)
