"""Optional sampling profile of the Parley server during a phase (``--profile``), with py-spy.

py-spy attaches to the running server by pid (root, or ptrace permission, is needed) and samples
its Python stacks without stopping it. Sampling costs some CPU on a 2-core machine, so figures
of a profiled run are a little lower; the profile tells where the server's time goes.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import log


def find_py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.pid = pid
        self.out = out
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        exe = find_py_spy()
        if exe is None:
            log("[profile] py-spy not found (pip install py-spy); not profiling")
            return False
        argv = [exe, "record", "-p", str(self.pid), "-r", str(self.rate), "-f", "raw"]
        argv += ["-o", str(self.out), "--nonblocking"]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        return True

    def stop(self) -> dict[str, Any] | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if not self.out.exists():
            log("[profile] py-spy wrote nothing (is ptrace allowed?)")
            return None
        return summarize(self.out)


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Self time per line and inclusive time per function, as % of samples."""
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n_s = line.rpartition(" ")
        if not stack or not n_s.isdigit():
            continue
        n = int(n_s)
        total += n
        frames = stack.split(";")
        self_t[frames[-1]] += n
        for fn in {f.rsplit(":", 1)[0] for f in frames}:
            incl[fn] += n
    if not total:
        return {"samples": 0}

    def pct(c: Counter[str], keep: int) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in c.most_common(keep)]

    wrappers = ("<module> (parley/__main__.py", "main (parley/cli.py", "_serve (parley/cli.py")
    hot = [(k, v) for k, v in pct(incl, 400) if "parley/" in k and k not in wrappers][:top]
    return {
        "note": "py-spy --nonblocking: some stacks are cut short, so inclusive % are lower bounds",
        "samples": total,
        "raw_file": raw.name,
        "self_pct": pct(self_t, top),
        "parley_inclusive_pct": hot,
    }


def show(name: str, prof: dict[str, Any] | None, n: int = 8) -> None:
    if not prof or not prof.get("samples"):
        return
    log(f"[profile] {name}: {prof['samples']} samples; hottest lines (self %):")
    for k, v in prof["self_pct"][:n]:
        log(f"[profile]   {v:5.1f}%  {k}")
    log(f"[profile] {name}: parley functions (inclusive %):")
    for k, v in prof["parley_inclusive_pct"][:n]:
        log(f"[profile]   {v:5.1f}%  {k}")
