"""A test-owned nginx (the Debian package's binary): a foreground child process with its own
prefix, pid file, error log and temp directories, serving a site file the test gives it."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .server import HOST

_live: set[NginxHandle] = set()

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
        """SIGQUIT (graceful), then SIGKILL if it lingers; only this nginx's own process."""
        if self.alive():
            self.proc.send_signal(signal.SIGQUIT)  # finish and exit
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _live.discard(self)


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
    for handle in list(_live):
        with contextlib.suppress(Exception):
            handle.stop()
