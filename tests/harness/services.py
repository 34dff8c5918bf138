"""Test-owned instances of external services: redis-server, coturn's turnserver, nginx."""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from .components import redis_cli_binary, redis_ping, redis_server_binary
from .server import HOST, ServerHandle, free_port

_live: set[RedisHandle | TurnHandle | NginxHandle] = set()


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _kill_pid(pid: int | None, sig: int = signal.SIGKILL) -> None:
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _end(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal a child of ours to finish; SIGKILL it if it has not within 5 s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _pid_alive(pid: int | None) -> bool:
    """True while ``pid`` runs (a zombie waiting for a slow init to reap it counts as gone)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


# ---- redis -------------------------------------------------------------------------------


@dataclass(eq=False)
class RedisHandle:
    """A redis-server this test run started (daemonized; nothing kept on disk)."""

    port: int
    dir: Path
    pidfile: Path
    logfile: Path
    host: str = HOST

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return _read_pid(self.pidfile)

    def alive(self) -> bool:
        return redis_ping(self.host, self.port)

    def stop(self) -> None:
        """``redis-cli -p P shutdown nosave``; SIGKILL if that does not work."""
        pid = self.pid
        cli = redis_cli_binary()
        if cli is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [cli, "-h", self.host, "-p", str(self.port), "shutdown", "nosave"],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _kill_pid(pid)
        _live.discard(self)

    def restart(self, timeout: float = 10.0) -> None:
        """Start the server again on the same port, empty (after ``stop`` or ``kill``)."""
        binary = redis_server_binary()
        assert binary is not None
        argv = [binary, "--port", str(self.port), "--bind", self.host, "--save", "",
                "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(self.pidfile),
                "--logfile", str(self.logfile), "--dir", str(self.dir)]  # fmt: skip
        subprocess.run(argv, capture_output=True, timeout=timeout, check=True)
        deadline = time.monotonic() + timeout
        while not self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        _live.add(self)

    def kill(self) -> None:
        """SIGKILL the server (to test what happens when Redis dies)."""
        _kill_pid(self.pid)
        _live.discard(self)

    def logs(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def start_redis(
    binary: str,
    workdir: Path,
    *,
    timeout: float = 10.0,
    config: Path | None = None,
    extra: Sequence[str] = (),
) -> RedisHandle:
    """Start ``redis-server`` on a free port with its files under ``workdir``: with ``config``
    read first (a Sentinel needs a file of its own), and ``extra`` arguments last
    (``--replicaof``, ``--sentinel``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    last = ""
    for _ in range(3):
        port = free_port()
        h = RedisHandle(
            port=port,
            dir=workdir,
            pidfile=workdir / f"redis-{port}.pid",
            logfile=workdir / f"redis-{port}.log",
        )
        argv = [
            binary,
            *([str(config)] if config is not None else []),
            "--port", str(port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "yes",
            "--pidfile", str(h.pidfile),
            "--logfile", str(h.logfile),
            "--dir", str(workdir),
            *extra,
        ]  # fmt: skip
        r = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
        _live.add(h)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if h.alive():
                return h
            if "already in use" in h.logs().lower():
                break
            time.sleep(0.01)
        h.stop()
        output = (r.stdout + r.stderr).decode(errors="replace")
        last = f"exit {r.returncode}\n{output}\n---- redis log ----\n{h.logs()}"
        if "already in use" not in h.logs().lower():
            break
    raise RuntimeError(f"redis-server did not start: {last}")


# ---- coturn ------------------------------------------------------------------------------


@dataclass(eq=False)
class TurnHandle:
    """A coturn ``turnserver`` on loopback, in ``use-auth-secret`` mode (docs/design.md recipe)."""

    port: int
    secret: str
    realm: str
    proc: subprocess.Popen[bytes]
    dir: Path
    host: str = HOST

    @property
    def url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    def credentials(self, ttl: int = 3600, user: str = "test") -> tuple[str, str]:
        """(username, password) in coturn's REST-API scheme: ``expiry:user``, HMAC-SHA1."""
        username = f"{int(time.time()) + ttl}:{user}"
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return username, base64.b64encode(digest).decode()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def logs(self) -> str:
        try:
            return (self.dir / "turn.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        _end(self.proc)
        _live.discard(self)

    kill = stop


def start_turn(
    binary: str,
    workdir: Path,
    *,
    secret: str = "parley-test-secret",
    realm: str = "parley.test",
    min_port: int = 49160,
    max_port: int = 49200,
    timeout: float = 10.0,
) -> TurnHandle:
    """Start ``turnserver`` listening on 127.0.0.1 (UDP+TCP) on a free port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        binary, "-n",
        f"--listening-ip={HOST}", f"--relay-ip={HOST}", f"--listening-port={port}",
        f"--min-port={min_port}", f"--max-port={max_port}",
        "--use-auth-secret", f"--static-auth-secret={secret}", f"--realm={realm}",
        "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
        f"--userdb={workdir / 'turndb'}", f"--pidfile={workdir / 'turn.pid'}",
        f"--log-file={workdir / 'turn.log'}", "--simple-log", "-v",
    ]  # fmt: skip
    out = (workdir / "turn.stdout").open("wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    h = TurnHandle(port, secret, realm, proc, workdir)
    _live.add(h)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not h.alive():
            break
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return h  # TCP listener is up (UDP on the same port starts with it)
        time.sleep(0.02)
    h.stop()
    text = (workdir / "turn.stdout").read_text(errors="replace") + h.logs()
    raise RuntimeError(f"turnserver did not start on port {port}:\n{text[-4000:]}")


# ---- nginx -------------------------------------------------------------------------------

#: The main configuration (Debian's /etc/nginx/nginx.conf plays this part on a real host): one
#: worker, so round robin over the upstream is predictable; everything under the prefix.
MAIN_CONF = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {site};
}}
"""


@dataclass(eq=False)
class NginxHandle:
    proc: subprocess.Popen[bytes]
    prefix: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def logs(self) -> str:
        """nginx's own output and its error log."""
        parts = []
        for name in ("nginx.out", "error.log"):
            with contextlib.suppress(FileNotFoundError):
                parts.append((self.prefix / name).read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        _end(self.proc, signal.SIGQUIT)  # nginx's graceful stop
        _live.discard(self)

    kill = stop


def start_nginx(
    binary: str, prefix: Path, site: Path, ports: list[int], *, timeout: float = 10.0
) -> NginxHandle:
    """Run ``nginx -p PREFIX -c nginx.conf -g 'daemon off;'`` including ``site``, and wait until
    every port in ``ports`` (on 127.0.0.1) accepts connections."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    # As root nginx's workers would switch to "nobody", who cannot enter pytest's 0700 tmp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(MAIN_CONF.format(user=user, prefix=prefix, site=site))
    test = subprocess.run(
        [binary, "-t", "-q", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{test.stderr.decode()}")
    argv = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf),
            "-g", "daemon off;"]  # fmt: skip
    with (prefix / "nginx.out").open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    handle = NginxHandle(proc, prefix)
    _live.add(handle)
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending and time.monotonic() < deadline and handle.alive():
        with contextlib.suppress(OSError), socket.create_connection((HOST, pending[0]), 0.2):
            pending.pop(0)
            continue
        time.sleep(0.02)
    if pending:
        handle.stop()
        raise RuntimeError(f"nginx did not listen on {pending}:\n{handle.logs()[-4000:]}")
    return handle


@atexit.register
def _stop_leftovers() -> None:
    for h in list(_live):
        with contextlib.suppress(Exception):
            h.kill()


def redis_cluster(
    server_factory: Callable[..., ServerHandle],
    redis: RedisHandle | SentinelGroup,
    tmp_path: Path,
    n: int = 3,
    **env: str,
) -> list[ServerHandle]:
    """``n`` nodes as an operator runs them: one Redis (or one Sentinel group), one database and
    one secret. The heartbeat is long: people idle while a moderator works (``env`` may say
    otherwise)."""
    shared = tmp_path / "shared-data"
    shared.mkdir(exist_ok=True)
    env = {"PARLEY_HEARTBEAT_INTERVAL": "20", "PARLEY_HEARTBEAT_TIMEOUT": "60", **env}
    url = redis.url() if isinstance(redis, SentinelGroup) else redis.url
    return [
        server_factory(PARLEY_BROKER_URL=url, PARLEY_DATA_DIR=str(shared), **env) for _ in range(n)
    ]


def start_two_nodes(
    server_factory: Callable[..., ServerHandle],
    redis_factory: Callable[[], RedisHandle],
    tmp_path: Path,
    **env: str,
) -> tuple[RedisHandle, ServerHandle, ServerHandle]:
    """A Redis of the test's own and two ``redis_cluster`` nodes on it: the least that shows a
    count, a ban or a login made at one node holding at the other."""
    redis = redis_factory()
    n0, n1 = redis_cluster(server_factory, redis, tmp_path, 2, **env)
    return redis, n0, n1


# ---- redis sentinel ----------------------------------------------------------------------

SENTINEL_SERVICE = "parley"


@dataclass(eq=False)
class SentinelGroup:
    """A primary, its replicas and the Sentinels that watch them, all test-owned on loopback.
    ``primary`` is the one that was primary when the group started."""

    primary: RedisHandle
    replicas: list[RedisHandle]
    sentinels: list[RedisHandle]
    service: str = SENTINEL_SERVICE

    def url(self, **query: str) -> str:
        """The ``redis+sentinel://`` URL of the group, as an operator writes it."""
        hosts = ",".join(f"{s.host}:{s.port}" for s in self.sentinels)
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"redis+sentinel://{hosts}/{self.service}/0" + (f"?{tail}" if tail else "")

    def primary_port(self) -> int | None:
        """The primary's port as the Sentinels name it now (None if none answers)."""
        for s in self.sentinels:
            with contextlib.suppress(redis.RedisError, OSError):
                with redis.Redis(s.host, s.port, socket_timeout=1.0) as client:
                    addr = client.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service
                    )
                if addr:
                    return int(addr[1])
        return None

    def replicated(self, timeout_ms: int = 5000) -> int:
        """``WAIT`` on the primary: how many replicas have every write so far."""
        with redis.Redis(self.primary.host, self.primary.port, socket_timeout=10.0) as client:
            return int(client.wait(len(self.replicas), timeout_ms))

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every Sentinel knows the others and the replicas, and the replicas are in sync:
        before then a failover could not be agreed on."""
        deadline = time.monotonic() + timeout
        want_sentinels, want_replicas = len(self.sentinels) - 1, len(self.replicas)
        seen: list[str] = []
        while time.monotonic() < deadline:
            seen = [self._sentinel_view(s) for s in self.sentinels]
            synced = all(self._replica_synced(r) for r in self.replicas)
            if synced and seen == [f"{want_sentinels} {want_replicas}"] * len(self.sentinels):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"sentinel group not ready in {timeout:.0f} s: other sentinels and replicas seen "
            f"{seen}, want {want_sentinels} {want_replicas}"
        )

    def _sentinel_view(self, s: RedisHandle) -> str:
        try:
            with redis.Redis(s.host, s.port, socket_timeout=1.0) as client:
                state = client.sentinel_master(self.service)
        except (redis.RedisError, OSError) as exc:
            return f"unreachable ({exc})"
        return f"{state['num-other-sentinels']} {state['num-slaves']}"

    @staticmethod
    def _replica_synced(r: RedisHandle) -> bool:
        try:
            with redis.Redis(r.host, r.port, socket_timeout=1.0) as client:
                info = client.info("replication")
        except (redis.RedisError, OSError):
            return False
        return bool(info.get("master_link_status") == "up")

    def stop(self) -> None:
        for h in (*self.sentinels, *self.replicas, self.primary):
            h.kill()


def start_sentinel_group(
    binary: str,
    workdir: Path,
    *,
    replicas: int = 1,
    sentinels: int = 3,
    down_after_ms: int = 1000,
    failover_timeout_ms: int = 5000,
) -> SentinelGroup:
    """A primary, ``replicas`` replicas of it and ``sentinels`` Sentinels (quorum: a majority)
    that declare it down after ``down_after_ms`` without an answer, ready to fail over."""
    primary = start_redis(binary, workdir / "primary")
    copies = [
        start_redis(binary, workdir / f"replica{i}", extra=("--replicaof", HOST, str(primary.port)))
        for i in range(replicas)
    ]
    watchers = []
    quorum = sentinels // 2 + 1
    for i in range(sentinels):
        where = workdir / f"sentinel{i}"
        where.mkdir(parents=True, exist_ok=True)
        conf = where / "sentinel.conf"  # the Sentinel rewrites it with what it learns
        conf.write_text(
            f"sentinel monitor {SENTINEL_SERVICE} {HOST} {primary.port} {quorum}\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {down_after_ms}\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {SENTINEL_SERVICE} 1\n"
        )
        watchers.append(start_redis(binary, where, config=conf, extra=("--sentinel",)))
    group = SentinelGroup(primary, copies, watchers)
    try:
        group.wait_ready()
    except BaseException:
        group.stop()
        raise
    return group
