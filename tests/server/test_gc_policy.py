"""PARLEY_GC: ``parley serve`` applies the garbage-collector policy once it has started, and says
so in a log line (thresholds, objects frozen); a bad value stops it before it listens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.server import STARTUP_TIMEOUT, ServerHandle, start_server
from parley.gc_policy import TUNED_THRESHOLDS

pytestmark = pytest.mark.timeout(120)


def _gc_line(handle: ServerHandle) -> dict[str, Any]:
    """The server's "gc policy" log line (JSON: stderr is not a terminal), once it is written."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        for line in handle.logs().splitlines():
            if line.startswith("{") and "gc_policy" in line:
                record: dict[str, Any] = json.loads(line)
                return record
        assert handle.alive(), handle.logs()
        time.sleep(0.05)
    raise AssertionError(f"no gc policy line in the server's log:\n{handle.logs()}")


@pytest.mark.parametrize(
    ("value", "thresholds"),
    [
        (None, list(TUNED_THRESHOLDS)),
        ("tuned", list(TUNED_THRESHOLDS)),
        ("12345,6,7", [12345, 6, 7]),
    ],
)
def test_a_freezing_policy_is_applied_at_start(
    tmp_path: Path, value: str | None, thresholds: list[int]
) -> None:
    """None: PARLEY_GC unset, so the measured default (``tuned``) applies."""
    handle = start_server(tmp_path, {"PARLEY_GC": value})
    try:
        record = _gc_line(handle)
    finally:
        handle.stop()
    assert record["gc_thresholds"] == thresholds
    assert record["gc_frozen"] > 10_000  # the modules and the app, out of the collector's reach


def test_default_leaves_pythons_policy(tmp_path: Path) -> None:
    handle = start_server(tmp_path, {"PARLEY_GC": "default"})
    try:
        record = _gc_line(handle)
    finally:
        handle.stop()
    fresh = subprocess.run(
        [sys.executable, "-c", "import gc; print(*gc.get_threshold())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert record["gc_policy"] == "default"
    assert record["gc_thresholds"] == [int(t) for t in fresh.stdout.split()]
    assert record["gc_frozen"] == 0


@pytest.mark.parametrize("value", ["sometimes", "0,10,10", "700,10", "-1,10,10"])
def test_a_bad_value_stops_the_server_with_a_clear_line(tmp_path: Path, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(PARLEY_DATA_DIR=str(tmp_path / "data"), PARLEY_GC=value)
    done = subprocess.run(
        [sys.executable, "-m", "parley", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "PARLEY_GC" in done.stderr
    assert "Traceback" not in done.stderr
