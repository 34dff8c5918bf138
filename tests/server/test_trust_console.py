"""Issue 13, the console's findings, over a real server: login throttling without an account lock
anyone can trigger (finding 5), no moderator name in public answers (5), sessions that end on a
password reset or role change and have an absolute lifetime (10), no minor-pool still in a
moderator's export and exports audited as what they hold (1), ``Cache-Control: no-store`` on
evidence-bearing JSON (13), one moderator-name rule and deletable odd names (11).

Addresses are told apart through ``X-Forwarded-For``: the test's own server trusts 127.0.0.1 as
its proxy (the default ``PARLEY_FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import update

from conftest import ServerFactory
from harness.moderation import add_moderator, logged_in, reported_chat
from harness.safety import database
from parley.pool import Pool
from parley.store import device_hash
from parley.store.models import ModeratorRow

pytestmark = [pytest.mark.timeout(180)]


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _attempts(
    h: httpx.AsyncClient, name: str, password: str, address: str, n: int
) -> list[tuple[int, Any]]:
    out = []
    for _ in range(n):
        r = await h.post(
            "/api/mod/login", json={"name": name, "password": password}, headers=_from(address)
        )
        body = r.json()
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            assert body["retry_after"] >= 1 and isinstance(body["detail"], str)
            body = {"detail": body["detail"]}  # the wait itself depends on the clock
        out.append((r.status_code, body))
    return out


async def test_login_backoff_never_locks_out_the_real_moderator(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(PARLEY_MOD_LOGIN_MAX_FAILURES="3", PARLEY_MOD_LOGIN_LOCKOUT="600")
    password = add_moderator(srv, "lou")
    async with httpx.AsyncClient(base_url=srv.url) as h:
        # An attacker guesses at a real name from one address, and at an unknown name from
        # another: the answers are the same, status and body, attempt by attempt.
        real = await _attempts(h, "lou", "nope", "10.13.0.1", 6)
        # The attacker's address waits (1 s after the third failure), even with the right
        # password...
        r = await h.post(
            "/api/mod/login", json={"name": "lou", "password": password}, headers=_from("10.13.0.1")
        )
        assert r.status_code == 429
        ghost = await _attempts(h, "nobody", "nope", "10.13.0.2", 6)
        assert real == ghost
        assert [code for code, _ in real] == [401, 401, 401, 429, 429, 429]
        assert real[0][1] == {"detail": "wrong name or password"}
        # ...a third address that has guessed at "lou" before waits too (the name's backoff)...
        r = await h.post(
            "/api/mod/login", json={"name": "lou", "password": "x"}, headers=_from("10.13.0.3")
        )
        assert r.status_code == 401
        r = await h.post(
            "/api/mod/login", json={"name": "lou", "password": "y"}, headers=_from("10.13.0.3")
        )
        assert r.status_code == 429
        # ...but the real moderator, from an address that never failed for the name, logs in.
        r = await h.post(
            "/api/mod/login", json={"name": "lou", "password": password}, headers=_from("10.13.0.9")
        )
        assert r.status_code == 200, r.text
        # The HTML form gives the same answer for both, and never speaks of a lock.
        answers = []
        for name in ("lou", "nobody2"):
            page = await h.get("/mod/login")
            pre = page.text.split('name="pre" value="')[1].split('"')[0]
            r = await h.post(
                "/mod/login",
                data={"pre": pre, "name": name, "password": "wrong"},
                headers=_from("10.13.0.20"),
            )
            answers.append(r.status_code)
            assert "locked" not in r.text.lower() and "Wrong name or password." in r.text
        assert answers == [401, 401]


async def test_appeal_status_never_names_the_moderator(server_factory: ServerFactory) -> None:
    srv = server_factory(PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60")
    ref, _, reported = await reported_chat(srv)
    h = await logged_in(srv, "quietjudge", add_moderator(srv, "quietjudge"))
    r = await h.post(f"/api/mod/items/{ref}/action", json={"action": "ban_perm", "reason": "No."})
    assert r.status_code == 200
    await reported.wait_closed()
    async with httpx.AsyncClient(base_url=srv.url) as public:
        status = await public.post("/api/appeal/status", json={"device": reported.device})
        assert status.status_code == 200 and status.json()["banned"]
        assert "quietjudge" not in status.text and "created_by" not in status.text
        r = await public.post("/api/appeal", json={"device": reported.device, "text": "sorry"})
        assert r.status_code == 201
        assert "quietjudge" not in r.text and "created_by" not in r.text
        appeal_id = r.json()["id"]
        verdict = {"decision": "upheld", "reason": "Still no."}
        r = await h.post(f"/api/mod/appeals/{appeal_id}/decide", json=verdict)
        assert r.status_code == 200
        status = await public.post("/api/appeal/status", json={"device": reported.device})
        assert status.json()["decision"]["decision"] == "upheld"
        assert "quietjudge" not in status.text
    await h.aclose()


def _cli(srv: Any, action: str, name: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:  # the code under test, when it is not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [sys.executable, "-m", "parley", "moderator", action, name,
         "--data-dir", str(srv.data_dir)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def _cli_reset(srv: Any, name: str) -> str:
    out = _cli(srv, "reset", name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


async def test_password_reset_and_role_change_end_live_sessions(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(PARLEY_MOD_SESSION_IDLE="600")
    rita = await logged_in(srv, "rita", add_moderator(srv, "rita"))
    assert (await rita.get("/api/mod/me")).status_code == 200
    # A reset with the CLI (another process) ends the session at its next request.
    password = _cli_reset(srv, "rita")
    assert (await rita.get("/api/mod/me")).status_code == 401
    rita2 = await logged_in(srv, "rita", password)
    # A reset in the console ends it too, and the new one-time password works.
    admin = await logged_in(srv, "root", add_moderator(srv, "root", "admin"))
    r = await admin.post("/api/mod/moderators/rita/password")
    assert r.status_code == 200, r.text
    assert (await rita2.get("/api/mod/me")).status_code == 401
    rita3 = await logged_in(srv, "rita", r.json()["password"])
    # A role change (either way) ends it.
    r = await admin.post("/api/mod/moderators/rita/role", json={"role": "admin"})
    assert r.status_code == 200
    assert (await rita3.get("/api/mod/me")).status_code == 401
    # Nobody resets their own password in the console.
    assert (await admin.post("/api/mod/moderators/root/password")).status_code == 409
    log = (await admin.get("/api/mod/audit", params={"action": "moderator.password"})).json()
    assert [e["actor"] for e in log] == ["root", "cli"]
    for c in (rita, rita2, rita3, admin):
        await c.aclose()


async def test_sessions_have_an_absolute_lifetime(server_factory: ServerFactory) -> None:
    srv = server_factory(PARLEY_MOD_SESSION_IDLE="600", PARLEY_MOD_SESSION_MAX="2")
    h = await logged_in(srv, "busy", add_moderator(srv, "busy"))
    codes = []
    for _ in range(6):  # busy all along: the idle timer never runs out
        codes.append((await h.get("/api/mod/me")).status_code)
        await asyncio.sleep(0.5)
    await asyncio.sleep(0.2)
    codes.append((await h.get("/api/mod/me")).status_code)
    assert codes[0] == 200 and codes[-1] == 401, codes
    await h.aclose()


def _jpeg() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (32, 24), (200, 80, 40)).save(out, "JPEG", quality=80)
    return out.getvalue()


async def _held_report(srv: Any, pool: str, frame: bytes) -> str:
    async with database(srv) as store:
        ref = await store.add_report(
            reporter=device_hash("reporter-token-" + pool),
            reported=device_hash("reported-token-" + pool),
            category="minor_in_danger",
            pair_id="p-" + pool.replace(":", "-"),
            pool=Pool.parse(pool),
            still=frame,
        )
        assert await store.set_legal_hold(ref, actor="test", reason="urgent")
    return ref


async def test_export_of_a_minor_pool_item_carries_no_still_for_a_moderator(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    minor = await _held_report(srv, "minor:video:en", _jpeg())
    adult = await _held_report(srv, "adult:video:en", _jpeg())
    mod = await logged_in(srv, "plainmod", add_moderator(srv, "plainmod"))
    admin = await logged_in(srv, "chief", add_moderator(srv, "chief", "admin"))
    # The same rule as /still: a moderator gets neither the still nor its bytes in the export.
    assert (await mod.get(f"/api/mod/items/{minor}/still")).status_code == 403
    r = await mod.get(f"/api/mod/items/{minor}/export")
    assert r.status_code == 200, r.text
    frame = r.json()["evidence"]["frame"]
    assert "base64" not in frame and frame["withheld"] and len(frame["sha256"]) == 64
    assert r.json()["digests"]["frame_sha256"] == frame["sha256"]
    # An admin gets it; so does a moderator for an adult-pool item.
    r = await admin.get(f"/api/mod/items/{minor}/export")
    assert "base64" in r.json()["evidence"]["frame"]
    r = await mod.get(f"/api/mod/items/{adult}/export")
    assert "base64" in r.json()["evidence"]["frame"]
    # Every export is audited as what it showed.
    log = (await admin.get("/api/mod/audit", params={"action": "item."})).json()
    seen = sorted((e["actor"], e["item_id"], e["action"]) for e in log if "export" in e["action"])
    assert seen == sorted(
        [
            ("plainmod", minor, "item.legal_export"),
            ("chief", minor, "item.legal_export_still"),
            ("plainmod", adult, "item.legal_export_still"),
        ]
    )
    for c in (mod, admin):
        await c.aclose()


async def test_evidence_bearing_json_is_never_cached(server_factory: ServerFactory) -> None:
    srv = server_factory()
    ref = await _held_report(srv, "adult:video:en", _jpeg())
    admin = await logged_in(srv, "cachey", add_moderator(srv, "cachey", "admin"))
    answers = [
        await admin.get("/api/mod/queue"),
        await admin.get(f"/api/mod/items/{ref}"),
        await admin.get(f"/api/mod/items/{ref}/export"),
        await admin.get("/api/mod/items/R-AAAAAA"),  # an error
        await admin.get("/api/mod/audit"),
        await admin.get("/api/mod/moderators"),
        await admin.get("/api/mod/me"),
    ]
    async with httpx.AsyncClient(base_url=srv.url) as public:
        answers += [
            await public.post("/api/mod/login", json={"name": "cachey", "password": "no"}),
            await public.get("/api/mod/queue"),
            await public.post("/api/appeal/status", json={"device": "nonsense"}),
        ]
    for r in answers:
        assert r.headers.get("cache-control") == "no-store", (r.request.url, r.headers)
    # Public pages are still cacheable.
    async with httpx.AsyncClient(base_url=srv.url) as public:
        assert (await public.get("/")).headers.get("cache-control") != "no-store"
    await admin.aclose()


BAD_NAMES = ["has space", "sl/ash", "..", "-rf", "<b>x</b>", "q?x", "é", "x" * 65]


async def test_one_moderator_name_rule_everywhere(server_factory: ServerFactory) -> None:
    srv = server_factory()
    admin = await logged_in(srv, "namer", add_moderator(srv, "namer", "admin"))
    csrf = admin.headers["X-CSRF-Token"]
    for bad in BAD_NAMES:
        # the API...
        r = await admin.post("/api/mod/moderators", json={"name": bad, "role": "moderator"})
        assert r.status_code == 422, (bad, r.text)
        # ...the console's form...
        r = await admin.post("/mod/moderators", data={"csrf": csrf, "name": bad})
        assert r.status_code == 303 and "flash=" in r.headers["location"], bad
        # ...and the CLI refuse the same names.
        out = _cli(srv, "add", bad)
        assert out.returncode != 0 and ("name" in out.stderr or bad == "-rf"), (bad, out)
    names = {m["name"] for m in (await admin.get("/api/mod/moderators")).json()}
    assert names == {"namer"}
    # Accounts made before the rule (written straight into the database) can still be deleted,
    # in the console and with the API.
    async with database(srv) as store:
        for legacy in ("old/timer", "odd name?"):
            await store.add_moderator("placeholder", role="moderator", password_hash="x", actor="t")
            async with store._write() as session:  # the rule is in add_moderator
                await session.execute(
                    update(ModeratorRow)
                    .where(ModeratorRow.name == "placeholder")
                    .values(name=legacy)
                )
    page = await admin.get("/mod/moderators")
    assert "old/timer" in page.text and "odd name?" in page.text
    r = await admin.post("/mod/moderators/delete", data={"csrf": csrf, "name": "old/timer"})
    assert r.status_code == 303
    r = await admin.delete("/api/mod/moderators/" + quote("odd name?"))
    assert r.status_code == 204, r.text
    names = {m["name"] for m in (await admin.get("/api/mod/moderators")).json()}
    assert names == {"namer"}
    await admin.aclose()
