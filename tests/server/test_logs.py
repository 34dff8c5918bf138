"""Logs: JSON lines for machines, text for a person at a terminal, and the listen address first.

``parley serve --port 0`` runs as a real subprocess: once with stderr a pipe (as under systemd or
a container runtime) and once with stderr a pseudo-terminal (a person running it by hand).
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server import HOST, STARTUP_TIMEOUT, http_status

pytestmark = pytest.mark.timeout(120)

PARLEY = Path(sys.executable).parent / "parley"
LISTEN = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|DEBUG) \S+: ")
#: The listen address must be among the first lines, not after the start-up chatter.
FIRST_LINES = 3


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(PARLEY_DATA_DIR=str(tmp_path / "data"), PARLEY_VISION="off", PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def serve(tmp_path: Path, stderr: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [str(PARLEY), "serve", "--host", HOST, "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=_env(tmp_path),
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def read_lines_until_listening(fd: int, proc: subprocess.Popen[bytes]) -> tuple[list[str], str]:
    """Lines from ``fd`` until one gives the listen address; returns (lines, url)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    buf = b""
    lines: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # a pty's reader gets EIO once the child is gone
                chunk = b""
            if not chunk and proc.poll() is not None:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace").rstrip("\r")
                lines.append(line)
                if match := LISTEN.search(line):
                    return lines, match.group(1)
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no listen address logged; output so far:\n{chr(10).join(lines)}")


def wait_healthy(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while http_status(host, int(port), "/healthz") != 200:
        assert time.monotonic() < deadline, f"{url}/healthz never answered 200"
        time.sleep(0.05)


def test_piped_stderr_gives_json_lines_and_the_address_comes_first(tmp_path: Path) -> None:
    with serve(tmp_path, subprocess.PIPE) as proc:
        assert proc.stderr is not None
        lines, url = read_lines_until_listening(proc.stderr.fileno(), proc)
        assert len(lines) <= FIRST_LINES, lines
        docs = [json.loads(line) for line in lines]  # every line is one JSON object
        assert docs[-1]["url"] == url and docs[-1]["level"] == "info"
        assert not url.endswith(":0")  # the port the kernel picked, not the one asked for
        wait_healthy(url)
    with proc.stderr:  # the pipe is ours to close once read to its end
        rest = proc.stderr.read().decode().splitlines()
    assert rest, "the service logged nothing after start-up"
    for line in rest:
        json.loads(line)
    assert not any("setup plugin" in line for line in lines + rest)


def test_a_terminal_gets_text_lines(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    try:
        with serve(tmp_path, secondary) as proc:
            os.close(secondary)
            secondary = -1
            lines, url = read_lines_until_listening(primary, proc)
            assert len(lines) <= FIRST_LINES, lines
            for line in lines:
                assert TEXT_LINE.match(line), f"not a text log line: {line!r}"
            assert lines[-1].endswith(f"listening on {url} url={url}")
            wait_healthy(url)
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
