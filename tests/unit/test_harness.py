"""Tests of the test harness itself (no Parley server needed)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
import textwrap
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from harness import components
from harness.client import Client, ClosedError, connect, ws_url_of
from harness.server import (
    LOOPBACK_BUDGETS,
    ServerStartError,
    env_value,
    free_port,
    start_server,
)
from harness.services import start_redis, start_turn

TESTS = Path(__file__).resolve().parents[1]

# ---- require ---------------------------------------------------------------------------------


def test_require_passes_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    components.require("thing", True, "never shown")


def test_require_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no thing here"):
        components.require("thing", False, "no thing here")


@pytest.mark.parametrize("value", ["", "1", "false", "TRUE"])
def test_require_only_strict_when_ci_is_exactly_true(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        components.require("thing", False, "no thing here")


def test_require_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"thing is required under CI=true: no thing"):
        components.require("thing", False, "no thing here")


def test_describe_lists_every_component() -> None:
    text = "\n".join(components.describe())
    for name in ("chromium", "redis-server", "system redis", "postgres", "turnserver", "netns"):
        assert name in text


def test_netns_argv_wraps_command() -> None:
    argv = components.loopback_netns_argv(["echo", "hi there"])
    assert argv[:3] == ["unshare", "-n", "sh"]
    assert argv[-2:] == ["echo", "hi there"]


CI_GUARD_TESTS = """
    import pytest
    from harness.components import require

    def test_plain_skip():
        pytest.skip("plain skip")

    def test_required_component():
        require("widget", False, "no widget")

    @pytest.mark.ci_may_skip
    def test_allowed_skip():
        pytest.skip("allowed")

    @pytest.mark.xfail(reason="known")
    def test_xfail():
        assert False

    def test_ok():
        pass
"""


@pytest.fixture
def guarded_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester dir with this suite's conftest.py and harness/ copied in."""
    shutil.copy(TESTS / "conftest.py", pytester.path / "conftest.py")
    shutil.copytree(TESTS / "harness", pytester.path / "harness")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    )
    pytester.makepyfile(test_guard=textwrap.dedent(CI_GUARD_TESTS))
    return pytester


def test_skips_stay_skips_outside_ci(
    guarded_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = guarded_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-ra")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    result.stdout.fnmatch_lines(["*widget not available: no widget*"])


def test_every_skip_fails_under_ci(
    guarded_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = guarded_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-ra")
    result.assert_outcomes(passed=1, failed=2, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*widget is required under CI=true: no widget*",
            "*skipped under CI=true, which must not skip*plain skip*",
        ]
    )


# ---- ports and the server handle -------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    ports = {free_port() for _ in range(5)}
    assert len(ports) >= 2  # the kernel hands out different ephemeral ports
    port = ports.pop()
    assert 1024 < port < 65536
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_env_value() -> None:
    assert env_value(True) == "true"
    assert env_value(False) == "false"
    assert env_value(1.5) == "1.5"
    assert env_value("x") == "x"


STAND_IN = """
    import http.server, json, os, signal, sys, time
    mode = sys.argv[2] if len(sys.argv) > 2 else "ok"
    if mode == "crash":
        print("stand-in: configuration is broken", flush=True)
        sys.exit(3)
    if mode == "slow":
        time.sleep(60)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/env":
                body = json.dumps({k: v for k, v in os.environ.items()
                                   if k.startswith("PARLEY_")}).encode()
            elif self.path == "/healthz":
                body = b"ok"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)
    print("stand-in listening", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Callable[[str], list[str]]:
    script = tmp_path / "stand_in.py"
    script.write_text(textwrap.dedent(STAND_IN))
    return lambda mode: [sys.executable, str(script), "{port}", mode]


def test_start_server_with_stand_in(
    tmp_path: Path, stand_in: Callable[[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_FROM_DEVELOPER_SHELL", "leaks")
    h = start_server(tmp_path / "srv", {"PARLEY_X": 1, "PARLEY_FLAG": True}, command=stand_in("ok"))
    try:
        assert h.alive()
        assert h.url == f"http://127.0.0.1:{h.port}"
        assert h.ws_url == f"ws://127.0.0.1:{h.port}/ws"
        assert h.healthz() == 200

        with urllib.request.urlopen(h.url + "/env", timeout=5) as r:
            env = json.loads(r.read())
        assert env == {
            "PARLEY_X": "1",
            "PARLEY_FLAG": "true",
            "PARLEY_DATA_DIR": str(tmp_path / "srv" / "data"),
            **{k: env_value(v) for k, v in LOOPBACK_BUDGETS.items()},
        }
        assert h.data_dir.is_dir()
        assert "stand-in listening" in h.logs()
    finally:
        code = h.stop()
    assert code is not None
    assert not h.alive()
    assert h.healthz() is None


def test_kill_is_sigkill(tmp_path: Path, stand_in: Callable[[str], list[str]]) -> None:
    h = start_server(tmp_path, command=stand_in("ok"))
    assert h.kill() == -9


def test_start_failure_reports_output(tmp_path: Path, stand_in: Callable[[str], list[str]]) -> None:
    with pytest.raises(ServerStartError, match=r"(?s)exited with code 3.*configuration is broken"):
        start_server(tmp_path, command=stand_in("crash"))


def test_start_timeout_kills_server(tmp_path: Path, stand_in: Callable[[str], list[str]]) -> None:
    with pytest.raises(ServerStartError, match="did not answer 200 on /healthz within 1 s"):
        start_server(tmp_path, command=stand_in("slow"), startup_timeout=1.0)


# ---- the WebSocket client against a stand-in server ------------------------------------------

Handler = Callable[[ServerConnection], Awaitable[None]]


@pytest.fixture
async def ws_stand_in() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers = []

    async def start(handler: Handler) -> str:
        srv = await serve(handler, "127.0.0.1", 0)
        servers.append(srv)
        port = next(iter(srv.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


def test_ws_url_of() -> None:
    assert ws_url_of("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/ws"
    assert ws_url_of("ws://127.0.0.1:8000/ws") == "ws://127.0.0.1:8000/ws"
    assert ws_url_of("https://example.test/ws") == "wss://example.test/ws"


async def test_client_pings_expect_and_silence(
    ws_stand_in: Callable[[Handler], Awaitable[str]],
) -> None:
    got: list[dict[str, object]] = []

    async def handler(ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        got.append(hello)
        await ws.send(json.dumps({"type": "ping"}))
        got.append(json.loads(await ws.recv()))  # the automatic pong
        await ws.send(json.dumps({"type": "welcome", "session": "s_1", "device": "d_1"}))
        await ws.send(json.dumps({"type": "notice", "code": "a"}))
        await ws.send(json.dumps({"type": "ping"}))
        await ws.send(json.dumps({"type": "matched", "pair": "p_1", "role": "offerer"}))
        await ws.send(json.dumps({"type": "message", "pair": "p_1", "text": "x"}))
        await asyncio.sleep(0.5)
        await ws.close(4003, "refused")

    url = await ws_stand_in(handler)
    async with connect(url, age=30, interests=["chess"]) as c:
        assert c.session == "s_1" and c.device == "d_1"
        with pytest.raises(AssertionError, match="expected matched, got"):
            await c.expect("matched", strict=True)  # the notice comes first
        m = await c.expect("matched", role=lambda r: r in ("offerer", "answerer"))
        assert m["pair"] == "p_1" == c.pair
        with pytest.raises(AssertionError, match="expected silence"):
            await c.assert_silent(0.2)
        await c.assert_silent(0.1)
        assert await c.wait_closed(3) == 4003
        assert c.close_code == 4003
        assert c.closed
    assert got == [
        {"type": "hello", "age": 30, "interests": ["chess"]},
        {"type": "pong"},
    ]
    assert [f["type"] for f in c.history].count("ping") == 2


async def test_client_timeouts_and_close_errors(
    ws_stand_in: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "waiting", "stage": "anyone"}))
        msg = await ws.recv()
        await ws.send(msg)  # echo the raw frame back
        await ws.close(4002, "heartbeat_timeout")

    url = await ws_stand_in(handler)
    c = await Client.open(url)
    with pytest.raises(AssertionError, match=r"(?s)expected matched within 0.2 s.*waiting"):
        await c.expect("matched", timeout=0.2)
    await c.send_raw('{"type":"typing","on":true}')
    assert await c.recv() == {"type": "typing", "on": True}
    with pytest.raises(ClosedError) as e:
        await c.recv(timeout=2)
    assert e.value.code == 4002


# ---- test-owned services ---------------------------------------------------------------------


def test_own_redis_starts_and_stops(tmp_path: Path) -> None:
    binary = components.require_redis_server()
    h = start_redis(binary, tmp_path)
    try:
        assert h.alive()
        assert h.url == f"redis://127.0.0.1:{h.port}/0"
    finally:
        h.stop()
    assert not h.alive()


def test_own_turnserver_starts_and_signs(tmp_path: Path) -> None:
    binary = components.require_turnserver()
    h = start_turn(binary, tmp_path)
    try:
        assert h.alive()
        user, password = h.credentials(ttl=60, user="alice")
        expiry, name = user.split(":")
        assert name == "alice" and int(expiry) > 0
        assert len(password) == 28  # base64 of a 20-byte SHA-1 HMAC
    finally:
        h.stop()
    assert not h.alive()
