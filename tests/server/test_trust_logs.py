"""Issue 13, finding 12: at ``PARLEY_LOG_LEVEL=debug``, no SQL parameter, request body, report
comment, transcript line, appeal text or password reaches the logs (a real server, its real log).
"""

from __future__ import annotations

import httpx
import pytest

from conftest import ServerFactory
from harness.moderation import add_moderator, logged_in, reported_chat

pytestmark = [pytest.mark.timeout(180)]


async def test_debug_logs_hold_no_bodies_parameters_or_texts(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(
        PARLEY_LOG_LEVEL="debug", PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60"
    )
    secrets = {
        "line": "zebra-line-4417",
        "reply": "quokka-reply-9921",
        "comment": "walrus-comment-3308",
        "appeal": "narwhal-appeal-7765",
        "reason": "ibis-reason-1206",
    }
    ref, reporter, reported = await reported_chat(
        srv, [secrets["line"], secrets["reply"]], comment=secrets["comment"]
    )
    password = add_moderator(srv, "logwatch")
    h = await logged_in(srv, "logwatch", password)
    assert (await h.get(f"/api/mod/items/{ref}")).status_code == 200
    r = await h.post(
        f"/api/mod/items/{ref}/action", json={"action": "ban_perm", "reason": secrets["reason"]}
    )
    assert r.status_code == 200
    await reported.wait_closed()
    async with httpx.AsyncClient(base_url=srv.url) as public:
        r = await public.post(
            "/api/appeal", json={"device": reported.device, "text": secrets["appeal"]}
        )
        assert r.status_code == 201
        r = await public.post("/api/mod/login", json={"name": "logwatch", "password": "hunter2x"})
        assert r.status_code == 401
    await h.aclose()
    await reporter.close()
    logs = srv.logs()
    assert '"level": "debug"' in logs  # the level is really debug
    for what, text in {**secrets, "password": password, "wrong": "hunter2x"}.items():
        assert text not in logs, what
    assert reported.device is not None and reported.device not in logs
