"""Run a real Parley server (``python -m parley serve``, uvicorn) in a subprocess for tests, or
an app on uvicorn in the test's own process (``serve_in_process``: for a test that swaps in a
broker class of its own)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

HOST = "127.0.0.1"
# A guard, not a goal: start-up takes ~1 s, but imports alone took 9 s on a machine at load 25.
STARTUP_TIMEOUT = 60.0
_live: set[ServerHandle] = set()
#: The code of the checkout these tests belong to: a clone's tests run the clone's ``src``, not
#: the ``parley`` installed in the shared virtualenv.
SRC_DIR = Path(__file__).resolve().parents[2] / "src"


def cli_env() -> dict[str, str]:
    """The environment of a ``python -m parley`` command a test runs: this checkout's ``src``
    first on PYTHONPATH, then the caller's own; nothing else of the caller's (no PARLEY_*)."""
    path = [str(SRC_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(path)}


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (bind to port 0, then release it).

    Another process can take it before the caller binds it; ``start_server`` retries on that.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_in_process(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port in this process; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, log_config=None, ws="websockets-sansio")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn offers no event to await
            assert not serving.done(), "the in-process server did not start"
            await asyncio.sleep(0.01)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        await serving


def env_value(value: object) -> str:
    """Render a Python value as an environment variable (bools as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ServerStartError(RuntimeError):
    """The server did not become healthy; the message carries its output."""


@dataclass(eq=False)
class ServerHandle:
    """A running ``parley serve`` subprocess."""

    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # the PARLEY_* variables it was given
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def logs(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _signal(self, sig: int) -> None:
        # The server runs in its own process group, so this reaches any child it spawned too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Graceful stop: SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns the exit code."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
        else:
            self._signal(signal.SIGKILL)  # reap any orphaned children of a dead server
        _live.discard(self)
        return self.proc.returncode

    def kill(self) -> int | None:
        """Crash the server: SIGKILL, no chance to clean up. Returns the exit code."""
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        _live.discard(self)
        return self.proc.returncode

    def healthz(self, timeout: float = 1.0) -> int | None:
        """HTTP status of ``GET /healthz``, or None when nothing answers."""
        return http_status(self.host, self.port, "/healthz", timeout)

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"exited {self.proc.returncode}"
        return f"<ServerHandle {self.url} pid={self.proc.pid} {state}>"


def http_status(host: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def server_command(host: str, port: int, extra_args: Sequence[str] = ()) -> list[str]:
    if importlib.util.find_spec("parley.__main__") is not None:
        entry = ["-m", "parley"]
    else:  # no __main__.py (yet): call the CLI entry point directly
        entry = ["-c", "import sys; from parley.cli import main; sys.exit(main())"]
    return [sys.executable, *entry, "serve", "--host", host, "--port", str(port), *extra_args]


def _tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _bind_race(log: str) -> bool:
    low = log.lower()
    return "address already in use" in low or "errno 98" in low


#: Every test client comes from 127.0.0.1, so per-address budgets (reports, new device tokens)
#: and the per-address under-age memory would be one for a whole module's tests. Lifted here
#: unless a test passes its own (tests/server/test_trust_abuse.py does, through a trusted proxy).
LOOPBACK_BUDGETS: dict[str, object] = {
    "PARLEY_REPORT_ADDRESS_BURST": 100_000,
    "PARLEY_DEVICE_MINT_BURST": 100_000,
    "PARLEY_AGE_REFUSAL_IP_SECONDS": 0,
    # Every test client is 127.0.0.1: tests that flood on purpose must not ban the others.
    "PARLEY_ABUSE_ADDRESS_BAN_AFTER": 100_000,
}


def start_server(
    workdir: Path,
    env: Mapping[str, object] | None = None,
    *,
    extra_args: Sequence[str] = (),
    port: int | None = None,
    host: str = HOST,
    startup_timeout: float = STARTUP_TIMEOUT,
    command: Sequence[str] | None = None,
    health_path: str = "/healthz",
) -> ServerHandle:
    """Start ``parley serve`` on a free port and wait until ``GET /healthz`` answers 200.

    ``env`` adds/overrides ``PARLEY_*`` variables (a value of None removes one). Every
    ``PARLEY_*`` variable of the calling environment is dropped first, so tests do not depend on
    the developer's shell. ``PARLEY_DATA_DIR`` defaults to ``workdir/data`` so tests never touch
    ``./data``; pass it explicitly to restart a server on an earlier server's data (crash tests).
    Output goes to ``workdir/server-<port>.log`` (see ``ServerHandle.logs()``).

    ``command`` replaces the server command line (for testing the harness itself); ``{host}`` and
    ``{port}`` in it are substituted.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**LOOPBACK_BUDGETS, **(env or {})}
    given = {k: env_value(v) for k, v in env.items() if v is not None}
    removed = {k for k, v in env.items() if v is None}
    given.setdefault("PARLEY_DATA_DIR", str(workdir / "data"))
    data_dir = Path(given["PARLEY_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)

    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    proc_env.update(given)
    for k in removed:
        proc_env.pop(k, None)
    proc_env["PYTHONUNBUFFERED"] = "1"

    attempts = 1 if port is not None else 3
    last_error: ServerStartError | None = None
    for _ in range(attempts):
        p = port if port is not None else free_port(host)
        if command is None:
            argv = server_command(host, p, extra_args)
        else:
            argv = [a.format(host=host, port=p) for a in command]
        log_path = workdir / f"server-{p}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=proc_env,
                cwd=str(workdir),
                start_new_session=True,
            )
        handle = ServerHandle(p, proc, log_path, data_dir, given, host)
        _live.add(handle)
        try:
            _wait_healthy(handle, startup_timeout, health_path, argv)
            return handle
        except ServerStartError as e:
            handle.kill()
            last_error = e
            if not _bind_race(handle.logs()):
                raise
    assert last_error is not None
    raise last_error


def _wait_healthy(handle: ServerHandle, timeout: float, path: str, argv: Sequence[str]) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    status: int | None = None
    while True:
        code = handle.proc.poll()
        if code is not None:
            raise ServerStartError(
                f"server exited with code {code} before {path} answered\n"
                f"command: {' '.join(argv)}\n---- server output ----\n{_tail(handle.logs())}"
            )
        status = http_status(handle.host, handle.port, path, timeout=1.0)
        if status == 200:
            return
        if time.monotonic() >= deadline:
            raise ServerStartError(
                f"server did not answer 200 on {path} within {timeout:.0f} s "
                f"(last status: {status})\ncommand: {' '.join(argv)}\n"
                f"---- server output ----\n{_tail(handle.logs())}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


@atexit.register
def _kill_leftovers() -> None:
    """Never leave a server running after the test process ends, whatever happened."""
    for handle in list(_live):
        handle.kill()
