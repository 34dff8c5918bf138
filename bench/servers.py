"""Start, probe and stop the servers under test (Parley and the bare baseline), each in its own
process group on 127.0.0.1, so that nothing outlives the bench."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints

from harness.server import free_port  # bench/__init__.py puts tests/ on sys.path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# The uvicorn flags Parley is served with (docs/design.md, uvicorn notes); the baseline too.
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--ws",
    "websockets-sansio",
    "--ws-per-message-deflate",
    "false",
    "--log-level",
    "warning",
]

# Per-session limits raised so that the bench measures the relay, not the token buckets.
BENCH_ENV = {
    "PARLEY_MESSAGE_RATE": "1000000",
    "PARLEY_MESSAGE_BURST": "1000000",
    "PARLEY_FRAME_RATE": "1000000",
    "PARLEY_FRAME_BURST": "1000000",
    "PARLEY_NEXT_RATE": "1000000",
    "PARLEY_NEXT_BURST": "1000000",
    "PARLEY_TYPING_RATE": "1000000",
    "PARLEY_TYPING_BURST": "1000000",
    "PARLEY_MAX_CONNECTIONS_PER_IP": "1000000",
    "PARLEY_MAX_CONNECTIONS": "1000000",
    "PARLEY_DEVICE_MINT_RATE": "1000000",  # every bench client is a new device on 127.0.0.1
    "PARLEY_DEVICE_MINT_BURST": "1000000",
    "PARLEY_LOG_LEVEL": "warning",
    # On a shared 2-core machine at load ~18, 100 hellos in flight waited > 10 s for the store
    # and were closed 4002 before `welcome`: the bench measures memory, not that timeout.
    "PARLEY_HELLO_TIMEOUT": "60",
}

_live: list[Server] = []


def raise_nofile() -> tuple[int, int]:
    """Raise RLIMIT_NOFILE to the hard limit (children inherit it). Returns (soft, hard)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def parley_available() -> bool:
    return (ROOT / "src" / "parley" / "cli.py").exists()


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes] | None = None
    tmpdir: str | None = None
    log_path: Path | None = None
    _ps: psutil.Process | None = field(default=None, repr=False)
    final_log: str = ""
    #: Where ``parley`` is imported from: another checkout's src/ runs that version (a baseline).
    src: Path = ROOT / "src"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        self.tmpdir = tempfile.mkdtemp(prefix=f"parley-bench-{self.name}-")
        self.log_path = Path(self.tmpdir) / "server.log"
        env = {**os.environ, **self.env}
        env.setdefault("PARLEY_DATA_DIR", self.tmpdir)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), str(self.src), env.get("PYTHONPATH", "")) if p
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=str(ROOT) if self.name == "baseline" else self.tmpdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _live.append(self)
        self._ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy within {timeout:.0f} s:\n{self.log()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1.0) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def get(self, path: str, timeout: float = 5.0) -> str:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return str(r.read().decode())

    def log(self, tail: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return self.final_log[-tail:]
        return self.log_path.read_text(errors="replace")[-tail:]

    def log_problems(self) -> list[str]:
        """Lines of the server's output that look like errors or tracebacks."""
        text = self.log(200000)
        keys = ("Traceback", '"level": "error"', '"level": "critical"', "ERROR:", "Exception")
        return [line[:300] for line in text.splitlines() if any(k in line for k in keys)]

    def processes(self) -> list[psutil.Process]:
        if self._ps is None:
            return []
        try:
            return [self._ps, *self._ps.children(recursive=True)]
        except psutil.Error:
            return []

    def rss(self) -> int:
        """Resident set size in bytes of the server and its children."""
        total = 0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu_times(self) -> float:
        """User+system CPU seconds used so far by the server and its children."""
        total = 0.0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self in _live:
            _live.remove(self)
        if self.log_path is not None and self.log_path.exists():
            self.final_log = self.log(20000)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def stop_keeping_data(self) -> None:
        """Stop, keeping the data folder: the next :meth:`start` runs on the same database
        (``PARLEY_DATA_DIR``), which the caller removes."""
        assert self.tmpdir is not None
        self.env["PARLEY_DATA_DIR"] = self.env.get("PARLEY_DATA_DIR", self.tmpdir)
        self.tmpdir = None
        self.stop()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def baseline_server() -> Server:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline:app",
        "--host",
        HOST,
        "--port",
        str(port),
        *UVICORN_FLAGS,
    ]
    return Server("baseline", argv, {}, port)


def parley_server(extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "parley", "serve", "--host", HOST, "--port", str(port)]
    return Server("parley", argv, {**BENCH_ENV, **(extra_env or {})}, port)


def make_server(kind: str, extra_env: dict[str, str] | None = None) -> Server:
    if kind == "baseline":
        return baseline_server()
    if kind == "parley":
        return parley_server(extra_env)
    raise ValueError(kind)


def stop_all() -> None:
    for server in list(_live):
        server.stop()
