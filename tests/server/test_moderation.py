"""The moderator console's security and workflows against a real server (no browser here; the
browser journey is in test_moderation_browser.py).

Covers: no access without login, CSRF on every unsafe request, admin-only routes, login backoff,
idle session expiry, inert rendering of hostile evidence, a ban applied to a live session at
once, the appeal round trip, and a schemathesis run over the OpenAPI document with a login.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from conftest import ServerFactory
from harness.client import Client
from harness.moderation import add_moderator, logged_in, reported_chat
from harness.safety import database, person, unique_interest
from harness.server import ServerHandle
from harness.stores import JPEG, dev, lines
from parley.pool import Pool

pytestmark = [pytest.mark.timeout(180)]

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


@pytest_asyncio.fixture
async def srv(server_factory: ServerFactory) -> AsyncIterator[ServerHandle]:
    # long heartbeat: a reported person idles while the moderator works, and must still be
    # connected when the ban arrives
    yield server_factory(
        PARLEY_MOD_SESSION_IDLE="600", PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60"
    )


# ---- access ---------------------------------------------------------------------------------


async def test_no_access_without_login(srv: ServerHandle) -> None:
    async with httpx.AsyncClient(base_url=srv.url) as h:
        for path in ("/mod", "/mod/appeals", "/mod/audit", "/mod/dashboard", "/mod/items/R-AAAAAA"):
            r = await h.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/mod/login", path
        for path in ("/api/mod/queue", "/api/mod/me", "/api/mod/audit", "/api/mod/appeals"):
            assert (await h.get(path)).status_code == 401, path
        assert (await h.post("/api/mod/items/R-AAAAAA/claim")).status_code == 401
        # A chatter's device token grants nothing, whatever header or cookie carries it.
        c = await person(srv, interests=[unique_interest()])
        r = await h.get("/api/mod/queue", headers={"Authorization": f"Bearer {c.device}"})
        assert r.status_code == 401
        assert c.device is not None
        h.cookies.set("parley_mod", c.device)
        assert (await h.get("/api/mod/queue")).status_code == 401
        h.cookies.clear()
        login = await h.get("/mod/login")
        assert login.status_code == 200
        for testid in ("login-user", "login-password", "login-submit"):
            assert f'data-testid="{testid}"' in login.text


async def test_csrf_required_on_every_post(srv: ServerHandle) -> None:
    password = add_moderator(srv, "carol", "admin")
    h = await logged_in(srv, "carol", password)
    ref, _, _ = await reported_chat(srv)
    token = h.headers.pop("X-CSRF-Token")
    r = await h.post(f"/api/mod/items/{ref}/claim")
    assert r.status_code == 403
    r = await h.post(f"/api/mod/items/{ref}/claim", headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = await h.post("/api/mod/moderators", json={"name": "eve", "role": "admin"})
    assert r.status_code == 403
    # HTML forms: the hidden field is required
    r = await h.post(f"/mod/items/{ref}/claim", data={})
    assert r.status_code == 403
    r = await h.post(f"/mod/items/{ref}/action", data={"action": "ban_perm", "reason": "x"})
    assert r.status_code == 403
    r = await h.post("/mod/login", data={"name": "carol", "password": password})
    assert r.status_code == 403  # the login form has its own double-submit token
    assert (await h.get(f"/api/mod/items/{ref}")).json()["status"] == "open"
    r = await h.post(f"/api/mod/items/{ref}/claim", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["claimed"] is True
    await h.aclose()


async def test_moderator_cannot_reach_admin_routes(srv: ServerHandle) -> None:
    mod = await logged_in(srv, "mo", add_moderator(srv, "mo", "moderator"))
    admin = await logged_in(srv, "ad", add_moderator(srv, "ad", "admin"))
    assert (await mod.get("/api/mod/queue")).status_code == 200
    for method, path, body in (
        ("GET", "/api/mod/audit", None),
        ("GET", "/api/mod/moderators", None),
        ("POST", "/api/mod/moderators", {"name": "x1", "role": "admin"}),
        ("POST", "/api/mod/moderators/ad/role", {"role": "moderator"}),
        ("DELETE", "/api/mod/moderators/ad", None),
    ):
        r = await mod.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
    for path in ("/mod/audit", "/mod/moderators"):
        assert (await mod.get(path)).status_code == 403
    r = await mod.post("/mod/moderators", data={"csrf": mod.headers["X-CSRF-Token"], "name": "x2"})
    assert r.status_code == 403
    # the admin can, and a new account's one-time password works once created
    r = await admin.post("/api/mod/moderators", json={"name": "newbie", "role": "moderator"})
    assert r.status_code == 201
    newbie = await logged_in(srv, "newbie", r.json()["password"])
    # An account shows its last login; there is no lock to show (login backoff is per address).
    (listed,) = [
        m for m in (await admin.get("/api/mod/moderators")).json() if m["name"] == "newbie"
    ]
    assert set(listed) == {"name", "role", "created_at", "last_login_at"}
    assert listed["last_login_at"] is not None
    assert (await admin.get("/api/mod/audit", params={"action": "moderator."})).status_code == 200
    # demoting/deleting takes effect at once
    assert (await admin.delete("/api/mod/moderators/newbie")).status_code == 204
    assert (await newbie.get("/api/mod/queue")).status_code == 401
    page = await admin.get("/mod/audit", params={"action": "moderator.delete"})
    assert page.status_code == 200 and "newbie" in page.text
    for c in (mod, admin, newbie):
        await c.aclose()


async def test_login_lockout(server_factory: ServerFactory) -> None:
    # No account lock any more (issue 13, finding 5): failures lead to backoff, 429 with
    # Retry-After; the rest is in test_trust_console.py.
    srv = server_factory(PARLEY_MOD_LOGIN_MAX_FAILURES="3", PARLEY_MOD_LOGIN_LOCKOUT="600")
    password = add_moderator(srv, "lou")
    async with httpx.AsyncClient(base_url=srv.url) as h:
        codes = [
            (await h.post("/api/mod/login", json={"name": "lou", "password": "nope"})).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        r = await h.post("/api/mod/login", json={"name": "lou", "password": password})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        # the HTML form says so too
        page = await h.get("/mod/login")
        pre = page.text.split('name="pre" value="')[1].split('"')[0]
        r = await h.post("/mod/login", data={"pre": pre, "name": "lou", "password": password})
        assert r.status_code == 429 and "Too many attempts" in r.text
        # rate limit per address: a burst of attempts ends in 429
        codes = [
            (await h.post("/api/mod/login", json={"name": "x", "password": "y"})).status_code
            for _ in range(12)
        ]
        assert 429 in codes


async def test_session_expires_when_idle(server_factory: ServerFactory) -> None:
    srv = server_factory(PARLEY_MOD_SESSION_IDLE="1.5")
    h = await logged_in(srv, "idle", add_moderator(srv, "idle"))
    assert (await h.get("/api/mod/me")).status_code == 200
    await asyncio.sleep(1.0)
    assert (await h.get("/api/mod/me")).status_code == 200  # activity keeps it alive
    await asyncio.sleep(2.0)
    assert (await h.get("/api/mod/me")).status_code == 401
    r = await h.get("/mod", follow_redirects=False)
    assert r.status_code == 303
    await h.aclose()


async def test_cookie_flags(srv: ServerHandle) -> None:
    password = add_moderator(srv, "flags")
    async with httpx.AsyncClient(base_url=srv.url) as h:
        r = await h.post("/api/mod/login", json={"name": "flags", "password": password})
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" not in cookie  # plain http on 127.0.0.1: development
        # behind a proxy under another name, the cookie is Secure
        r = await h.post(
            "/api/mod/login",
            json={"name": "flags", "password": password},
            headers={"Host": "mod.example.org"},
        )
        assert "secure" in r.headers["set-cookie"].lower()


# ---- evidence and actions -------------------------------------------------------------------


async def test_hostile_evidence_renders_inert(srv: ServerHandle) -> None:
    ref, _, _ = await reported_chat(srv, [XSS, "hi " + XSS], comment="look " + XSS)
    h = await logged_in(srv, "x", add_moderator(srv, "x"))
    page = (await h.get(f"/mod/items/{ref}")).text
    assert "<script>window" not in page and "<img src=x" not in page
    assert html.escape(XSS, quote=True) in page or "&lt;img src=x" in page
    item = (await h.get(f"/api/mod/items/{ref}")).json()
    assert [x["text"] for x in item["transcript"]] == [XSS, "hi " + XSS]
    assert [x["speaker"] for x in item["transcript"]] == ["reporter", "reported"]
    assert item["comment"] == "look " + XSS
    await h.aclose()


async def test_queue_order_claims_and_ban_enforced_live(srv: ServerHandle) -> None:
    other, _, _ = await reported_chat(srv, category="spam")
    urgent, _, reported = await reported_chat(srv, category="minor_in_danger")
    nude, _, _ = await reported_chat(srv, category="nudity")
    one = await logged_in(srv, "one", add_moderator(srv, "one"))
    two = await logged_in(srv, "two", add_moderator(srv, "two"))
    q = (await one.get("/api/mod/queue")).json()
    assert [i["ref"] for i in q["items"]] == [urgent, nude, other]
    assert q["open_reports"] == 3 and q["oldest_open_seconds"] >= 0
    assert (await one.post(f"/api/mod/items/{urgent}/claim")).status_code == 200
    assert (await two.post(f"/api/mod/items/{urgent}/claim")).status_code == 409
    r = await two.post(f"/api/mod/items/{urgent}/action", json={"action": "dismiss", "reason": "x"})
    assert r.status_code == 409
    # a temporary ban names its duration, a reason says something: the schema says so too
    for bad in (
        {"action": "ban_temp", "reason": "Too long a chat."},
        {"action": "ban_perm", "reason": "\u200b \u202e"},
    ):
        r = await one.post(f"/api/mod/items/{urgent}/action", json=bad)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] in ("duration", "reason")
    # the reported person is still connected: the ban reaches them at once
    r = await one.post(
        f"/api/mod/items/{urgent}/action",
        json={"action": "ban_temp", "duration": "7d", "reason": "You asked a teen for photos."},
    )
    assert r.status_code == 200, r.text
    banned = await reported.expect("banned")
    assert banned["reason"] == "You asked a teen for photos." and banned["appeal_url"]
    assert await reported.wait_closed() == 4007
    # escalate: legal hold and its export
    r = await one.post(
        f"/api/mod/items/{urgent}/action", json={"action": "escalate", "reason": "CSAM risk"}
    )
    assert r.status_code == 200 and r.json()["legal_hold"] is True
    bundle = (await one.get(f"/api/mod/items/{urgent}/export")).json()
    assert "sha256" in str(bundle).lower()
    assert (await one.get(f"/api/mod/items/{other}/export")).status_code == 409
    # dismiss and warn close items; every action is in the audit log
    for ref, action in ((nude, "warn"), (other, "dismiss")):
        r = await two.post(f"/api/mod/items/{ref}/action", json={"action": action, "reason": "ok"})
        assert r.status_code == 200, r.text
    assert (await one.get("/api/mod/queue")).json()["items"] == []
    admin = await logged_in(srv, "boss", add_moderator(srv, "boss", "admin"))
    log = (await admin.get("/api/mod/audit", params={"item_id": urgent})).json()
    assert {"item.claim", "item.banned", "item.legal_hold"} <= {e["action"] for e in log}
    dash = await one.get("/api/mod/dashboard")
    assert dash.status_code == 200 and dash.json()["online"] >= 0
    assert (await one.get("/mod/dashboard")).status_code == 200
    for c in (one, two, admin):
        await c.aclose()


async def test_appeal_round_trip(srv: ServerHandle) -> None:
    ref, _, reported = await reported_chat(srv)
    token = reported.device
    h = await logged_in(srv, "judge", add_moderator(srv, "judge"))
    ban = {"action": "ban_perm", "reason": "Slurs."}
    r = await h.post(f"/api/mod/items/{ref}/action", json=ban)
    assert r.status_code == 200
    await reported.wait_closed()
    again = await Client.open(srv)
    await again.send("hello", age=25, device=token)
    assert (await again.expect("banned"))["reason"] == "Slurs."
    async with httpx.AsyncClient(base_url=srv.url) as public:
        # a ban id alone proves nothing; a forged token neither
        r = await public.post("/api/appeal", json={"device": "dv1.forged.token", "text": "pls"})
        assert r.status_code == 403
        status = (await public.post("/api/appeal/status", json={"device": token})).json()
        assert status["banned"] and status["can_appeal"] and status["ban"]["reason"] == "Slurs."
        r = await public.post("/api/appeal", json={"device": token, "text": "It was my brother."})
        assert r.status_code == 201
        r = await public.post("/api/appeal", json={"device": token, "text": "again"})
        assert r.status_code == 409  # once per ban
        appeals = (await h.get("/api/mod/appeals")).json()
        assert [a["text"] for a in appeals] == ["It was my brother."]
        r = await h.post(
            f"/api/mod/appeals/{appeals[0]['id']}/decide",
            json={"decision": "lifted", "reason": "Benefit of the doubt."},
        )
        assert r.status_code == 200
        assert (await h.get("/api/mod/appeals")).json() == []
        status = (await public.post("/api/appeal/status", json={"device": token})).json()
        assert not status["banned"]
        assert status["decision"]["decision"] == "lifted"
        assert status["decision"]["decision_reason"] == "Benefit of the doubt."
    # the user can connect again
    back = await person(srv, device=token, interests=[unique_interest()])
    assert back.device == token
    await h.aclose()


# ---- schemathesis ---------------------------------------------------------------------------


async def _seed_item_and_appeal(srv: ServerHandle) -> tuple[str, int]:
    """A video report with its still, and an appeal of a ban: real ids for the fuzzer to act on,
    so that it reaches what lies behind "no such item" too."""
    async with database(srv) as store:
        ref = await store.add_report(
            reporter=dev("fuzz-reporter"),
            reported=dev("fuzz-reported"),
            category="harassment",
            pair_id="p-fuzz",
            pool=Pool.parse("adult:video:en"),
            transcript=lines("hi", "something rude"),
            still=JPEG,
        )
        ban = await store.add_ban(
            device=dev("fuzz-banned"), reason="Spam.", category="spam", actor="mod"
        )
        appeal = await store.add_appeal(ban.id, "It was not me.")
    return ref, appeal.id


def test_openapi_schemathesis(server_factory: ServerFactory) -> None:
    """Every operation of the OpenAPI document under every default check of schemathesis: a
    request the schema allows is accepted (or refused for the state of what it names: 404,
    409...), one it does not allow is refused, and every answer has a status and a shape the
    document declares. Issue 13, finding 16."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.core.failures import FailureGroup  # a BaseExceptionGroup
    from schemathesis.core.result import Ok

    srv = server_factory()
    password = add_moderator(srv, "fuzz", "admin")
    with httpx.Client(base_url=srv.url) as h:
        r = h.post("/api/mod/login", json={"name": "fuzz", "password": password})
        assert r.status_code == 200
        csrf = r.json()["csrf"]
        cookie = h.cookies["parley_mod"]
    ref, appeal_id = asyncio.run(_seed_item_and_appeal(srv))
    real = {"ref": ref, "appeal_id": appeal_id}
    schema = schemathesis.openapi.from_url(f"{srv.url}/api/openapi.json")
    failures: dict[str, str] = {}  # one example of each distinct failure
    all_ops = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document has no invalid operation
        all_ops.append(result.ok())
    ops = [op for op in all_ops if op.path not in ("/api/mod/logout", "/api/mod/login")]
    assert any(o.path.startswith("/api/mod/") for o in ops)
    negated = set()
    # A transparency report's period is two dates that relate (``to`` not before ``from``, at
    # most 366 days apart), which no JSON Schema can state: the fuzzer is given a period and
    # varies the rest; dates that break the schema are still sent (negative runs).
    period = {"/api/mod/transparency/report": {"from": "2030-01-01", "to": "2030-12-31"}}

    for operation in ops:
        names = {p.name for p in operation.iter_parameters()}
        query = period.get(operation.path)
        runs: list[tuple[GenerationMode, dict[str, Any]]] = [(GenerationMode.POSITIVE, {})]
        if operation.body or names - {"X-CSRF-Token"}:  # else there is nothing to break
            runs.append((GenerationMode.NEGATIVE, {}))
        if pinned := {k: v for k, v in real.items() if k in names}:
            runs.append((GenerationMode.POSITIVE, pinned))
        for mode, path_parameters in runs:
            fixed = query if mode is GenerationMode.POSITIVE else None

            @settings(
                max_examples=10,
                deadline=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode, path_parameters=path_parameters, query=fixed))
            def check(case: schemathesis.Case[Any]) -> None:  # as_strategy() yields bare Case
                headers = {"X-CSRF-Token": csrf, "Cookie": f"parley_mod={cookie}"}
                response = case.call(headers=headers)
                try:
                    case.validate_response(response)  # every default check
                except FailureGroup as exc:  # collect, report all at the end
                    mode = case.meta.generation.mode.value if case.meta else ""
                    titles = sorted({f.title for f in exc.exceptions})
                    failures.setdefault(f"{mode} {case.operation.label}: {titles}", str(exc))

            try:
                check()
            except Unsatisfiable:
                # Nothing of this operation can be made invalid (no body, no bounded parameter).
                assert mode is GenerationMode.NEGATIVE, operation.label
                continue
            if mode is GenerationMode.NEGATIVE:
                negated.add(operation.path)
    assert not failures, "\n\n".join(f"{k}\n{v[:2000]}" for k, v in failures.items())
    # Every operation with a body was sent bodies its schema forbids.
    assert {"/api/mod/items/{ref}/action", "/api/appeal", "/api/mod/moderators"} <= negated
    # the session survived the run (nothing logged it out, the server is healthy)
    with httpx.Client(base_url=srv.url, cookies={"parley_mod": cookie}) as h:
        assert h.get("/api/mod/me").status_code == 200


@pytest.mark.parametrize("decision", ["upheld", "lifted"])
async def test_the_appeal_decision_is_told_at_the_next_visit(
    srv: ServerHandle, decision: str
) -> None:
    ref, _, reported = await reported_chat(srv)
    token = reported.device
    h = await logged_in(srv, f"judge-{decision}", add_moderator(srv, f"judge-{decision}"))
    r = await h.post(f"/api/mod/items/{ref}/action", json={"action": "ban_perm", "reason": "Spam."})
    assert r.status_code == 200
    await reported.wait_closed()
    async with httpx.AsyncClient(base_url=srv.url) as public:
        r = await public.post("/api/appeal", json={"device": token, "text": "Not me."})
        assert r.status_code == 201
    appeal = (await h.get("/api/mod/appeals")).json()[0]
    r = await h.post(
        f"/api/mod/appeals/{appeal['id']}/decide", json={"decision": decision, "reason": "Checked."}
    )
    assert r.status_code == 200
    await h.aclose()

    visit = await Client.open(srv)
    await visit.send("hello", age=25, device=token, interests=[unique_interest()])
    if decision == "lifted":
        await visit.expect("welcome", strict=True)  # the ban is gone: welcomed, then told why
    notice = await visit.expect("notice", strict=True)
    assert notice["code"] == f"appeal_{decision}"
    if decision == "upheld":
        assert "Checked." in notice["text"]
        assert (await visit.expect("banned", strict=True))["reason"] == "Spam."
        return
    # Told once: the next visit is an ordinary one.
    later = await Client.open(srv)
    await later.send("hello", age=25, device=token, interests=[unique_interest()])
    await later.expect("welcome", strict=True)
    await later.assert_silent(0.3)
