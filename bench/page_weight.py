"""Page weight: HTTP requests and bytes on the wire for a first visit, text mode.

One fresh headless Chromium context (empty cache, the harness's flags, ``Accept-Encoding`` as
Chromium sends it: gzip, deflate, br, zstd) opens ``/`` on a real Parley server started by the
test harness's launcher. Two phases are counted from the DevTools network events:

- ``landing``: from navigation until the page is ready (``body[data-ready=true]``) and the
  network has been idle for 500 ms;
- ``text_start``: after choosing text mode and pressing Start, until the page says it is
  waiting for a stranger (and the network is idle again).

For each request: its URL, type, status, ``Content-Encoding``, the encoded bytes as
transferred (``encodedDataLength``: headers plus the compressed body) and the decoded body
size. The WebSocket is listed apart (its upgrade is one request; frames are not page weight).

    python -m bench.page_weight [--out bench/results] [--viewport 1280x800]

Writes ``<out>/<timestamp>-page-weight.json``; the figure docs cite is copied to
``bench/reported/``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.video_connect import RESULTS_DIR, chromium, git_commit, log
from harness.browser import WAITING
from harness.components import CHROMIUM
from harness.server import start_server

QUIET_MS = 500  # network idle this long ends a phase
PHASE_TIMEOUT_S = 30.0


@dataclass
class Transfer:
    url: str
    kind: str  # DevTools resource type: Document, Script, Stylesheet, Fetch, WebSocket …
    status: int = 0
    encoding: str = ""  # Content-Encoding of the response ("" when sent as is)
    encoded_bytes: int = 0  # as transferred: headers + (compressed) body
    body_bytes: int = 0  # decoded body
    done: bool = False
    failed: str = ""


class NetworkLog:
    """Requests seen through a CDP session, keyed by request id, in arrival order."""

    def __init__(self) -> None:
        self.transfers: dict[str, Transfer] = {}
        self.last_event = asyncio.get_running_loop().time()

    def _touch(self) -> None:
        self.last_event = asyncio.get_running_loop().time()

    def on_request(self, ev: dict[str, Any]) -> None:
        self._touch()
        rid = ev["requestId"]
        if rid not in self.transfers:  # a redirect reuses the id; count the first request only
            self.transfers[rid] = Transfer(ev["request"]["url"], ev.get("type", "Other"))

    def on_response(self, ev: dict[str, Any]) -> None:
        self._touch()
        t = self.transfers.get(ev["requestId"])
        if t is None:
            return
        resp = ev["response"]
        t.status = int(resp.get("status", 0))
        headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
        t.encoding = headers.get("content-encoding", "")

    def on_data(self, ev: dict[str, Any]) -> None:
        self._touch()
        t = self.transfers.get(ev["requestId"])
        if t is not None:
            t.body_bytes += int(ev.get("dataLength", 0))

    def on_finished(self, ev: dict[str, Any]) -> None:
        self._touch()
        t = self.transfers.get(ev["requestId"])
        if t is not None:
            t.encoded_bytes = int(ev.get("encodedDataLength", 0))
            t.done = True

    def on_failed(self, ev: dict[str, Any]) -> None:
        self._touch()
        t = self.transfers.get(ev["requestId"])
        if t is not None:
            t.failed = str(ev.get("errorText", "failed"))
            t.done = True

    def on_ws(self, ev: dict[str, Any]) -> None:
        self._touch()
        self.transfers.setdefault(ev["requestId"], Transfer(ev["url"], "WebSocket", done=True))

    async def quiet(self, ms: int = QUIET_MS) -> None:
        """Until every HTTP request has finished and no event came for ``ms``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PHASE_TIMEOUT_S
        while loop.time() < deadline:
            pending = [t for t in self.transfers.values() if not t.done]
            if not pending and loop.time() - self.last_event >= ms / 1000:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"network not idle after {PHASE_TIMEOUT_S:.0f} s: {pending}")

    def take(self) -> list[Transfer]:
        """The transfers seen so far, forgetting them (the next phase starts from none)."""
        out = list(self.transfers.values())
        self.transfers = {}
        return out


def summary(transfers: list[Transfer], origin: str) -> dict[str, Any]:
    http = [t for t in transfers if t.kind != "WebSocket"]
    plain_text = [
        t.url
        for t in http
        if not t.encoding
        and t.body_bytes >= 1024
        and t.kind in ("Document", "Script", "Stylesheet")
    ]
    return {
        "requests": len(http),
        "websockets": len(transfers) - len(http),
        "encoded_bytes": sum(t.encoded_bytes for t in http),
        "body_bytes": sum(t.body_bytes for t in http),
        "uncompressed_text_over_1k": [u.removeprefix(origin) for u in plain_text],
        "failed": [t.url for t in http if t.failed],
        "transfers": [{**asdict(t), "url": t.url.removeprefix(origin)} for t in transfers],
    }


async def measure(browser: Any, url: str, viewport: tuple[int, int]) -> dict[str, Any]:
    w, h = viewport
    context = await browser.new_context(locale="en-US", viewport={"width": w, "height": h})
    try:
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        net = NetworkLog()
        cdp.on("Network.requestWillBeSent", net.on_request)
        cdp.on("Network.responseReceived", net.on_response)
        cdp.on("Network.dataReceived", net.on_data)
        cdp.on("Network.loadingFinished", net.on_finished)
        cdp.on("Network.loadingFailed", net.on_failed)
        cdp.on("Network.webSocketCreated", net.on_ws)
        await cdp.send("Network.enable")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # a first visit

        await page.goto(url)
        await page.wait_for_selector("body[data-ready=true]", state="attached")
        await net.quiet()
        landing = net.take()

        await page.get_by_test_id("age").fill("30")
        await page.get_by_test_id("mode-text").check()
        await page.get_by_test_id("start").click()
        await page.wait_for_function(
            "(w) => document.querySelector('[data-testid=status]').textContent.includes(w)",
            arg=WAITING,
            timeout=PHASE_TIMEOUT_S * 1000,
        )
        await net.quiet()
        started = net.take()
    finally:
        await context.close()
    origin = url.rstrip("/")
    return {"landing": summary(landing, origin), "text_start": summary(started, origin)}


def table(report: dict[str, Any]) -> str:
    head = f"{'phase':<12} {'requests':>8} {'ws':>3} {'on the wire':>12} {'decoded':>10}"
    lines = [head, "-" * len(head)]
    total_req = total_enc = total_body = 0
    for name in ("landing", "text_start"):
        p = report["phases"][name]
        total_req += p["requests"]
        total_enc += p["encoded_bytes"]
        total_body += p["body_bytes"]
        lines.append(
            f"{name:<12} {p['requests']:>8} {p['websockets']:>3} "
            f"{p['encoded_bytes'] / 1024:>9.1f} KiB {p['body_bytes'] / 1024:>6.1f} KiB"
        )
    lines.append(
        f"{'total':<12} {total_req:>8} {'':>3} {total_enc / 1024:>9.1f} KiB "
        f"{total_body / 1024:>6.1f} KiB"
    )
    lines.append("")
    lines.append(f"{'request':<60} {'enc':>5} {'wire':>8} {'body':>8}")
    for name in ("landing", "text_start"):
        for t in report["phases"][name]["transfers"]:
            path = urlsplit(t["url"]).path or t["url"]
            lines.append(
                f"{path[:60]:<60} {t['encoding'] or '-':>5} {t['encoded_bytes']:>8} "
                f"{t['body_bytes']:>8}"
            )
    plain = [
        u
        for n in ("landing", "text_start")
        for u in report["phases"][n]["uncompressed_text_over_1k"]
    ]
    if plain:
        lines.append("")
        lines.append(f"sent uncompressed (text ≥ 1 KiB): {', '.join(plain)}")
    return "\n".join(lines)


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = start_server(workdir, {"PARLEY_LOG_LEVEL": "warning"})
    try:
        async with chromium(args.chromium) as browser:
            phases = await measure(browser, server.url + "/", args.viewport)
    finally:
        server.stop()
    return {
        "bench": "page_weight",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "params": {"viewport": list(args.viewport), "mode": "text"},
        "phases": phases,
        "totals": {
            "requests": sum(p["requests"] for p in phases.values()),
            "encoded_bytes": sum(p["encoded_bytes"] for p in phases.values()),
            "body_bytes": sum(p["body_bytes"] for p in phases.values()),
        },
    }


def viewport(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.page_weight", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--chromium", default=CHROMIUM)
    ap.add_argument("--viewport", type=viewport, default=(1280, 800), help="WxH (1280x800)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    if not os.access(args.chromium, os.X_OK):
        log(f"page_weight: no Chromium at {args.chromium} (apt-get install chromium)")
        return 2
    with tempfile.TemporaryDirectory(prefix="parley-page-weight-") as tmp:
        report = asyncio.run(bench(args, Path(tmp)))
    log(table(report))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}-page-weight.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    log(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
