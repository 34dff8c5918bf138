"""``python -m bench.turn_bandwidth``: bytes a TURN server relays per second for one video pair.

What an operator pays for with relay-only ICE (the default when TURN is configured). A coturn on
loopback and a real ``parley serve`` configured with it (``PARLEY_TURN_URLS`` and
``PARLEY_TURN_SECRET`` only: the relay policy is Parley's default), two headless Chromium pages
with fake cameras and microphones (640x480 asked, as the page asks a real camera) in a video
chat. Once both see the other's video and a warm-up has passed (the encoders ramp up their
bitrate), each page's selected ICE candidate pair is read with ``getStats()`` at the start and
the end of the window:

- ``bytesSent``/``bytesReceived`` are what the browsers put in and took out of UDP packets to
  and from the relay (RTP, RTCP, DTLS, STUN; no IP/UDP headers). Summed over both pages they are
  the relay's ingress and egress for the pair;
- on the wire each packet also carries a 4-byte TURN ChannelData header and 28 bytes of IPv4+UDP
  headers, estimated from ``packetsSent``/``packetsReceived``.

coturn's own count is read as a cross-check: with ``-v`` each allocation logs ``rb`` (bytes
received from its client) and ``sb`` (bytes sent to it) since its previous ``usage`` line, about
every 2048 packets.

Runs inside a loopback-only network namespace (like scripts/test's netns tests), re-executing
itself under ``unshare -n`` unless it already runs in one:

    unshare -n sh -c 'ip link set lo up && exec "$@"' sh .venv/bin/python -m bench.turn_bandwidth
    .venv/bin/python -m bench.turn_bandwidth --seconds 20 --warmup 5

Prints the figures and writes ``bench/results/<UTC timestamp>-turn-bandwidth.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.video_connect import (
    FIND_SELECTED_PAIR_JS,
    IN_NETNS_ENV,
    RESULTS_DIR,
    Stoppable,
    chromium,
    chromium_version,
    git_commit,
    log,
    reexec_in_netns,
    start_coturn,
    start_parley,
    start_video_pair,
)
from harness.components import CHROMIUM, loopback_only_netns, turnserver_binary

#: Per packet on the wire beyond what getStats counts: TURN ChannelData (4) + UDP (8) + IPv4 (20).
WIRE_OVERHEAD_BYTES = 4 + 8 + 20
#: coturn -v, per allocation, about every 2048 packets: "<secs since start>: : session N: usage:
#: realm=<…>, username=<…>, rp=N, rb=N, sp=N, sb=N", counts since the previous such line.
USAGE = re.compile(
    r"^(\d+): : session \d+: usage: realm=<[^>]*>, username=<([^>]+)>, "
    r"rp=\d+, rb=(\d+), sp=\d+, sb=(\d+)",
    re.MULTILINE,
)

PAIR_STATS_JS = f"""async () => {{{FIND_SELECTED_PAIR_JS}
  let video = null;
  stats.forEach((r) => {{
    if (r.type === "outbound-rtp" && r.kind === "video") {{
      video = {{width: r.frameWidth, height: r.frameHeight, fps: r.framesPerSecond,
               limitedBy: r.qualityLimitationReason}};
    }}
  }});
  return {{
    video,
    at: performance.now(),
    policy: pc.getConfiguration().iceTransportPolicy,
    local: stats.get(pair.localCandidateId).candidateType,
    remote: stats.get(pair.remoteCandidateId).candidateType,
    bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
    packetsSent: pair.packetsSent, packetsReceived: pair.packetsReceived,
  }};
}}"""


async def pair_stats(page: Any) -> dict[str, Any]:
    snap: dict[str, Any] | None = await page.evaluate(PAIR_STATS_JS)
    if snap is None:
        raise RuntimeError("no selected candidate pair")
    return snap


def coturn_rates(log_text: str) -> dict[str, dict[str, float]]:
    """Per TURN username, from coturn's usage lines: bytes per second received from the client
    (``rb``) and sent to it (``sb``), over the span between its first and last line (the first
    line's counts are from before that span). Whole seconds in the log: a rough cross-check."""
    lines: dict[str, list[tuple[int, int, int]]] = {}
    for m in USAGE.finditer(log_text):
        lines.setdefault(m.group(2), []).append((int(m.group(1)), int(m.group(3)), int(m.group(4))))
    out: dict[str, dict[str, float]] = {}
    for user, rows in lines.items():
        span = rows[-1][0] - rows[0][0]
        if len(rows) >= 2 and span > 0:
            out[user] = {
                "seconds": span,
                "rb_Bps": round(sum(r[1] for r in rows[1:]) / span),
                "sb_Bps": round(sum(r[2] for r in rows[1:]) / span),
            }
    return out


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    procs: list[Stoppable] = []
    try:
        coturn, turn_url = start_coturn(workdir, secret)
        procs.append(coturn)
        env = {"PARLEY_TURN_URLS": turn_url, "PARLEY_TURN_SECRET": secret}
        server, url = start_parley(workdir, env)
        procs.append(server)
        async with chromium(args.chromium) as browser:
            contexts: list[Any] = []
            pages = await start_video_pair(browser, url, contexts)
            log(f"connected; warming up {args.warmup:.0f} s, then measuring {args.seconds:.0f} s")
            await asyncio.sleep(args.warmup)
            start = [await pair_stats(p) for p in pages]
            await asyncio.sleep(args.seconds)
            end = [await pair_stats(p) for p in pages]
            for context in contexts:
                await context.close()
        server.stop()
        turn_log = (workdir / "turn.log").read_text(errors="replace")
        if args.keep_log is not None:
            args.keep_log.write_text(turn_log)
        usage = coturn_rates(turn_log)
    finally:
        for p in procs:
            p.stop()
    return summarize(start, end, usage, args)


def summarize(
    start: list[dict[str, Any]],
    end: list[dict[str, Any]],
    usage: dict[str, dict[str, float]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    pages = []
    for s, e in zip(start, end, strict=True):
        secs = (e["at"] - s["at"]) / 1000
        sent = e["bytesSent"] - s["bytesSent"]
        received = e["bytesReceived"] - s["bytesReceived"]
        packets_sent = e["packetsSent"] - s["packetsSent"]
        packets_received = e["packetsReceived"] - s["packetsReceived"]
        pages.append(
            {
                "seconds": round(secs, 2),
                "policy": e["policy"],
                "candidates": f"{e['local']}/{e['remote']}",
                "video_sent": e["video"],  # size, frame rate, what limits quality (at the end)
                "sent_Bps": round(sent / secs),
                "received_Bps": round(received / secs),
                "sent_wire_Bps": round((sent + packets_sent * WIRE_OVERHEAD_BYTES) / secs),
                "received_wire_Bps": round(
                    (received + packets_received * WIRE_OVERHEAD_BYTES) / secs
                ),
            }
        )
    ingress = sum(p["sent_wire_Bps"] for p in pages)  # what both browsers send to the relay
    egress = sum(p["received_wire_Bps"] for p in pages)  # what the relay sends to them
    return {
        "bench": "turn_bandwidth",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_start": args.loadavg_start,
            "chromium": chromium_version(args.chromium),
        },
        "git": git_commit(),
        "params": {"seconds": args.seconds, "warmup": args.warmup},
        "pages": pages,
        "all_relay": all(p["candidates"] == "relay/relay" for p in pages),
        "policy_relay": all(p["policy"] == "relay" for p in pages),
        "per_pair": {
            "ingress_Bps": ingress,
            "egress_Bps": egress,
            "total_Bps": ingress + egress,
            "total_Mbit_s": round((ingress + egress) * 8 / 1e6, 2),
            "per_direction_per_person_Mbit_s": round(
                sum(p["sent_wire_Bps"] for p in pages) / len(pages) * 8 / 1e6, 2
            ),
        },
        "coturn_rates": usage,
    }


def table(report: dict[str, Any]) -> str:
    lines = []
    for i, p in enumerate(report["pages"]):
        lines.append(
            f"page {'ab'[i]}: {p['candidates']} (policy {p['policy']}), "
            f"sends {p['sent_wire_Bps'] / 1000:.0f} kB/s, receives "
            f"{p['received_wire_Bps'] / 1000:.0f} kB/s on the wire "
            f"(payload {p['sent_Bps'] / 1000:.0f} / {p['received_Bps'] / 1000:.0f} kB/s); "
            f"sends video {p['video_sent']}"
        )
    pp = report["per_pair"]
    lines.append(
        f"per pair through the relay: in {pp['ingress_Bps'] / 1000:.0f} kB/s + out "
        f"{pp['egress_Bps'] / 1000:.0f} kB/s = {pp['total_Mbit_s']} Mbit/s "
        f"({pp['per_direction_per_person_Mbit_s']} Mbit/s per person per direction)"
    )
    for user, r in report["coturn_rates"].items():
        lines.append(
            f"coturn, allocation {user.partition(':')[2]}: from its client "
            f"{r['rb_Bps'] / 1000:.0f} kB/s, to it {r['sb_Bps'] / 1000:.0f} kB/s "
            f"(over {r['seconds']:.0f} s of the call)"
        )
    lines.append(f"load average at start: {report['machine']['loadavg_start'][0]:.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m bench.turn_bandwidth", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--seconds", type=float, default=20.0, help="measured window (default 20)")
    ap.add_argument("--warmup", type=float, default=5.0, help="after connecting (default 5)")
    ap.add_argument("--chromium", default=CHROMIUM)
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    ap.add_argument("--keep-log", type=Path, help="copy coturn's log to this file")
    args = ap.parse_args(raw)
    if args.seconds <= 0 or args.warmup < 0:
        ap.error("--seconds must be positive and --warmup not negative")
    if not loopback_only_netns():
        if os.environ.get(IN_NETNS_ENV) == "1":
            log("turn_bandwidth: still not in a loopback-only namespace after unshare")
            return 2
        return reexec_in_netns(raw, module="bench.turn_bandwidth")
    if turnserver_binary() is None:
        log("turn_bandwidth: no turnserver binary (apt-get install coturn)")
        return 2
    if not os.access(args.chromium, os.X_OK):
        log(f"turn_bandwidth: no Chromium at {args.chromium} (apt-get install chromium)")
        return 2
    args.loadavg_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="parley-turn-bench-") as tmp:
        report = asyncio.run(measure(args, Path(tmp)))
    log("")
    log(table(report))
    if not (report["all_relay"] and report["policy_relay"]):
        log("turn_bandwidth: the call did not run relay-only; the figures are not a relay's")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}-turn-bandwidth.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
