"""``python -m bench.vision``: vision moderation with the real nudenet classifier (issue 7).

Three measurements, each against a baseline taken in the same run:

- **throughput**: stills classified per second per core at 320 px (320x240 synthetic camera
  frames and a 320 px photograph), by CPU time in this process with the same one-thread ONNX
  session the workers use. Baseline: decoding and preparing the same stills without the model
  (what any classifier pays). Then the real :class:`VisionPool` with 1 and with 2 worker
  processes, wall clock, to show how it scales on this machine.
- **latency** from a still's arrival to the action, through a real ``parley serve`` with the
  real classifier deciding. No test image here may show nudity, so the run adds
  ``FACE_FEMALE=0.3`` to the thresholds and sends a photograph of a face (Grace Hopper, shipped
  with matplotlib): the model really runs and really decides, and the action path (blur, end the
  pair, flag with the still, ban) really runs. Client side: frame sent → partner's
  ``moderation``; server side: the ``parley_vision_action_seconds`` histogram. Idle, then while
  ``--load-pairs`` other video pairs sample at the default rate.
- **capacity**: ``K`` video pairs, each client obeying ``sample`` (1 s in a pair's first 10 s,
  then 3 s), pairs started spread over the first interval; after a warm-up, the share of stills
  dropped over a measuring window. A level is sustained when under 1 % are dropped. Target:
  at least 40 pairs on a 2-core node (default workers: one per core).

    .venv/bin/python -m bench.vision                 # about 4 minutes
    .venv/bin/python -m bench.vision --quick         # about 1.5 minutes
    .venv/bin/python -m bench.vision --levels 30,40,50,60 --json out.json

Writes ``bench/results/<UTC timestamp>-vision.json`` and prints a table. Needs the ``vision``
extra (installed by scripts/bootstrap). The server is told ``PARLEY_VISION_CLASSIFIER=nudenet``:
with both extras installed, ``auto`` would leave vision off.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import math
import os
import re
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import log, ratio, summarize
from bench.servers import ROOT, Server, parley_server, raise_nofile, stop_all

RESULTS_DIR = ROOT / "bench" / "results"
TARGET_PAIRS = 40
NODE_CORES = 2
DEFAULT_INTERVAL = 3.0
MAX_DROP_SHARE = 0.01


# ---- stills --------------------------------------------------------------------------------


def camera_stills(n: int = 12) -> list[bytes]:
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.stills import fake_camera, jpeg, shapes

    return [jpeg(fake_camera(i * 5)) for i in range(n // 2)] + [
        jpeg(shapes(i, 320, 240)) for i in range(n - n // 2)
    ]


def portrait() -> bytes:
    """The photograph matplotlib ships (Grace Hopper) at 320 px."""
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.stills import portrait as still

    return still()


# ---- throughput ----------------------------------------------------------------------------


def cpu_rate(fn: Callable[[bytes], object], stills: list[bytes], seconds: float) -> float:
    """Stills per CPU-second of this process (independent of what the neighbours leave us)."""
    done = 0
    wall_end = time.monotonic() + seconds
    cpu0 = time.process_time()
    while time.monotonic() < wall_end:
        fn(stills[done % len(stills)])
        done += 1
    return done / max(1e-9, time.process_time() - cpu0)


def throughput(seconds: float, rounds: int) -> dict[str, Any]:
    import cv2
    import numpy as np
    from nudenet import nudenet as nn

    from parley.safety.classifier import NudeNetClassifier

    cv2.setNumThreads(1)
    classifier = NudeNetClassifier()
    classifier.load()
    stills = [*camera_stills(), portrait()]

    def prepare(jpeg: bytes) -> None:  # decode + the model's input blob, no model
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        nn._read_image(image, 320)

    classify_rates: list[float] = []
    baseline_rates: list[float] = []
    for r in range(rounds):
        order = [(prepare, baseline_rates), (classifier.classify, classify_rates)]
        for fn, into in order if r % 2 == 0 else order[::-1]:  # ABBA against neighbours' bursts
            into.append(cpu_rate(fn, stills, seconds))
    per_core = statistics.median(classify_rates)
    baseline = statistics.median(baseline_rates)
    log(f"[throughput] {per_core:.1f} stills/s per core (decode-only baseline {baseline:.0f}/s)")
    return {
        "stills_per_cpu_second": per_core,
        "rounds": classify_rates,
        "baseline_decode_per_cpu_second": baseline,
        "ratio_to_decode_baseline": ratio(per_core, baseline),
        "stills": len(stills),
        "px": 320,
    }


async def pool_rate(workers: int, n: int, spec: str = "nudenet") -> float:
    from parley.safety.vision import VisionPool

    stills = camera_stills()
    pool = VisionPool(spec, workers=workers, queue_bound=n + 1, nice=0)
    await pool.start()
    try:
        for s in stills[:workers]:  # warm every worker
            await pool.submit(s)
        t0 = time.monotonic()
        results = await asyncio.gather(*(pool.submit(stills[i % len(stills)]) for i in range(n)))
        elapsed = time.monotonic() - t0
    finally:
        await pool.close()
    assert all(r is not None for r in results)
    return n / elapsed


# ---- a real server -------------------------------------------------------------------------


def metric(server: Server, name: str) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def histogram(server: Server, name: str) -> dict[float, float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for le, count in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} ([0-9.e+-]+)$', text, re.M):
        out[float("inf") if le == "+Inf" else float(le)] = float(count)
    return out


# Thresholds as shipped, plus one on a face, so that a photograph triggers the action path.
FACE_TRIGGER = {
    "PARLEY_VISION_THRESHOLDS": "FEMALE_GENITALIA_EXPOSED=0.5,MALE_GENITALIA_EXPOSED=0.5,"
    "ANUS_EXPOSED=0.5,FEMALE_BREAST_EXPOSED=0.6,FACE_FEMALE=0.3",
}


def vision_server(extra: dict[str, str] | None = None) -> Server:
    env = {
        "PARLEY_VISION": "on",
        "PARLEY_VISION_CLASSIFIER": "nudenet",  # both extras are installed: name one
        "PARLEY_AUTO_IP_BAN_SECONDS": "0",  # every bench client shares 127.0.0.1
        # Not niced here: on a shared machine niced workers measure the neighbours, not Parley.
        "PARLEY_VISION_NICE": "0",
        **(extra or {}),
    }
    return parley_server(env).start(timeout=180)


@dataclass
class Peer:
    ws: Any
    pair: str | None = None
    interval: float | None = None


async def _peer(url: str, interest: str | None = None) -> Peer:
    from websockets.asyncio.client import connect

    ws = await connect(url, max_size=None, compression=None)
    hello: dict[str, Any] = {"type": "hello", "age": 30, "mode": "video", "language": "en"}
    if interest:  # only these two match each other, whoever else is waiting
        hello |= {"interests": [interest], "fallback": False}
    await ws.send(json.dumps(hello))
    return Peer(ws)


async def _recv(peer: Peer, within: float) -> dict[str, Any] | None:
    try:
        frame = json.loads(await asyncio.wait_for(peer.ws.recv(), within))
    except TimeoutError:
        return None
    kind = frame["type"]
    if kind == "ping":
        await peer.ws.send('{"type":"pong"}')
    elif kind == "matched":
        peer.pair = frame["pair"]
    elif kind == "sample" and frame["pair"] == peer.pair:
        peer.interval = frame["interval"]
    elif kind == "partner_left":
        peer.pair, peer.interval = None, None
    return dict(frame)


async def _matched_pair(url: str) -> tuple[Peer, Peer]:
    interest = f"probe{time.monotonic_ns()}"
    a, b = await _peer(url, interest), await _peer(url, interest)
    await a.ws.send('{"type":"start"}')
    await b.ws.send('{"type":"start"}')
    while a.pair is None or b.pair is None or a.pair != b.pair:
        await asyncio.gather(_recv(a, 0.05), _recv(b, 0.05))
    return a, b


async def _sampler(peer: Peer, stills: list[bytes], until: float, sent: list[int]) -> None:
    """Obey `sample` like the page: one still every `interval` s while in the pair."""
    i = 0
    next_at = time.monotonic()
    while time.monotonic() < until:
        wait = max(0.0, next_at - time.monotonic()) if peer.interval else 0.5
        await _recv(peer, min(wait, until - time.monotonic()) or 0.001)
        if peer.interval and peer.pair and time.monotonic() >= next_at:
            data = base64.b64encode(stills[i % len(stills)]).decode()
            await peer.ws.send(json.dumps({"type": "frame", "pair": peer.pair, "jpeg": data}))
            sent[0] += 1
            i += 1
            next_at = time.monotonic() + peer.interval


async def load(url: str, pairs: int, seconds: float, stills: list[bytes], spread: float) -> int:
    """``pairs`` video pairs sampling for ``seconds``, started over ``spread`` seconds."""
    until = time.monotonic() + seconds
    sent = [0]

    async def one(k: int) -> None:
        from websockets.exceptions import ConnectionClosed

        await asyncio.sleep(spread * (k // 2) / max(1, pairs))
        peer = await _peer(url)
        await peer.ws.send('{"type":"start"}')
        try:
            await _sampler(peer, stills[k % len(stills) :] + stills[: k % len(stills)], until, sent)
        except ConnectionClosed as exc:  # counted, not fatal: the figures say how many
            lost.append(f"{exc.rcvd.code if exc.rcvd else None}")
        finally:
            await peer.ws.close()

    lost: list[str] = []
    await asyncio.gather(*(one(k) for k in range(2 * pairs)))
    if lost:
        log(f"[load] {len(lost)} of {2 * pairs} clients were closed early: {sorted(set(lost))}")
    return sent[0]


async def positives(url: str, n: int, still: bytes) -> tuple[list[float], int]:
    """``n`` fresh pairs in turn; one side sends the triggering still; time to the partner's
    ``moderation``. Returns (latencies, missed)."""
    data = base64.b64encode(still).decode()
    latencies: list[float] = []
    missed = 0
    for _ in range(n):
        a, b = await _matched_pair(url)
        try:
            t0 = time.monotonic()
            await a.ws.send(json.dumps({"type": "frame", "pair": a.pair, "jpeg": data}))
            deadline = t0 + 10
            while time.monotonic() < deadline:
                frame = await _recv(b, deadline - time.monotonic())
                if frame is not None and frame["type"] == "moderation":
                    latencies.append(time.monotonic() - t0)
                    break
            else:
                missed += 1
        finally:
            await asyncio.gather(a.ws.close(), b.ws.close(), return_exceptions=True)
    return latencies, missed


def _hist_delta(after: dict[float, float], before: dict[float, float]) -> dict[str, Any]:
    """p50/p99 upper bounds from a Prometheus histogram's bucket deltas."""
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = delta[-1][1] if delta else 0.0
    out: dict[str, Any] = {"n": total}
    for q in (0.5, 0.99):
        out[f"p{int(q * 100)}_le"] = next((le for le, c in delta if c >= q * total), None)
    return out


async def latency(server: Server, n: int, load_pairs: int, stills: list[bytes]) -> dict[str, Any]:
    url = server.url.replace("http://", "ws://") + "/ws"
    still = portrait()
    before = histogram(server, "parley_vision_action_seconds")
    idle, idle_missed = await positives(url, n, still)
    mid = histogram(server, "parley_vision_action_seconds")
    log(f"[latency] idle: p50 {statistics.median(idle) * 1000:.0f} ms over {len(idle)}")
    seconds = max(30.0, n * 1.0) + 15
    load_task = asyncio.create_task(load(url, load_pairs, seconds, stills, spread=3.0))
    await asyncio.sleep(14)  # past every pair's fast first 10 s
    busy, busy_missed = await positives(url, n, still)
    after = histogram(server, "parley_vision_action_seconds")
    await load_task
    log(f"[latency] {load_pairs} pairs: p50 {statistics.median(busy) * 1000:.0f} ms")
    return {
        "trigger": "FACE_FEMALE>=0.3 on a 320 px photograph (threshold tweak; see docstring)",
        "idle_client": summarize(idle),
        "idle_missed": idle_missed,
        "idle_server_hist": _hist_delta(mid, before),
        "load_pairs": load_pairs,
        "load_client": summarize(busy),
        "load_missed": busy_missed,
        "load_server_hist": _hist_delta(after, mid),
    }


async def capacity(
    server: Server, levels: list[int], warm: float, window: float, stills: list[bytes]
) -> dict[str, Any]:
    url = server.url.replace("http://", "ws://") + "/ws"
    out: dict[str, Any] = {"levels": {}}
    best = 0
    for pairs in levels:
        task = asyncio.create_task(load(url, pairs, warm + window, stills, spread=3.0))
        await asyncio.sleep(warm)
        r0, c0, d0 = (
            metric(server, f"parley_vision_frames_{k}_total")
            for k in ("received", "classified", "dropped")
        )
        cpu0 = server.cpu_times()  # the server and its classifier workers
        await asyncio.sleep(window)
        cpu1 = server.cpu_times()
        r1, c1, d1 = (
            metric(server, f"parley_vision_frames_{k}_total")
            for k in ("received", "classified", "dropped")
        )
        await task
        received, classified, dropped = r1 - r0, c1 - c0, d1 - d0
        share = dropped / received if received else 0.0
        ok = share <= MAX_DROP_SHARE
        # CPU-seconds the node spends per still classified (server + workers): what a dedicated
        # 2-core node would have, independent of what this shared machine's neighbours take.
        cpu_per_still = (cpu1 - cpu0) / classified if classified else math.nan
        per_pair = 2 / DEFAULT_INTERVAL  # two cameras per pair, one still every 3 s each
        projected = NODE_CORES / (cpu_per_still * per_pair) if classified else math.nan
        out["levels"][pairs] = {
            "received_per_s": received / window,
            "classified_per_s": classified / window,
            "dropped_per_s": dropped / window,
            "drop_share": share,
            "sustained": ok,
            "server_cpu_per_still_s": cpu_per_still,
            "server_cpu_share": (cpu1 - cpu0) / window,
            "projected_pairs_2_cores": projected,
        }
        log(
            f"[capacity] {pairs} pairs: {received / window:.1f} stills/s in, "
            f"{classified / window:.1f} classified/s, drop {share:.1%} -> "
            f"{'ok' if ok else 'over'}; {cpu_per_still * 1000:.0f} ms CPU per still, "
            f"{(cpu1 - cpu0) / window:.2f} cores used -> {projected:.0f} pairs on 2 free cores"
        )
        if ok:
            best = pairs
        await asyncio.sleep(3)  # the queue drains between levels
    out["max_sustained_pairs"] = best
    projections = [v["projected_pairs_2_cores"] for v in out["levels"].values()]
    out["projected_pairs_2_cores"] = statistics.median(projections) if projections else None
    out["target_pairs"] = TARGET_PAIRS
    return out


# ---- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.vision", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--levels", default=None, help="pairs per capacity level, e.g. 30,40,50")
    p.add_argument("--load-pairs", type=int, default=TARGET_PAIRS)
    p.add_argument("--positives", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    q = args.quick
    levels = [int(x) for x in (args.levels or ("40" if q else "30,40,50,60")).split(",")]
    n_pos = args.positives or (10 if q else 40)
    raise_nofile()
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    stills = camera_stills()
    try:
        report["throughput"] = throughput(2.0 if q else 5.0, 2 if q else 4)
        for workers in (1, 2):
            rate = asyncio.run(pool_rate(workers, 60 if q else 200))
            report["throughput"][f"pool_{workers}_workers_per_s"] = rate
            log(f"[throughput] pool of {workers}: {rate:.1f} stills/s wall")
        server = vision_server(FACE_TRIGGER)
        try:
            report["latency"] = asyncio.run(latency(server, n_pos, args.load_pairs, stills))
        finally:
            server.stop()
        server = vision_server()  # thresholds as shipped
        try:
            report["capacity"] = asyncio.run(
                capacity(server, levels, 14.0, 10.0 if q else 20.0, stills)
            )
        finally:
            server.stop()
    finally:
        stop_all()
    print_table(report)
    write_report(report, args.json, "vision")
    return 0


def write_report(report: dict[str, Any], out: Path | None, kind: str) -> None:
    """The run's figures as JSON: ``out``, or bench/results/<UTC timestamp>-<kind>.json."""
    report["load_avg_after"] = os.getloadavg()
    out = out or RESULTS_DIR / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{kind}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    log(f"wrote {out}")


def _ms(s: dict[str, Any], key: str) -> str:
    value = s.get(key)
    return f"{value * 1000:.0f} ms" if isinstance(value, float) else "-"


def print_table(r: dict[str, Any]) -> None:
    t, lat, cap = r.get("throughput", {}), r.get("latency", {}), r.get("capacity", {})
    rows = [
        ("stills/s per core (CPU time, 320 px)", f"{t.get('stills_per_cpu_second', 0):.1f}"),
        ("  decode-only baseline, per core", f"{t.get('baseline_decode_per_cpu_second', 0):.0f}"),
        ("pool, 1 worker (wall)", f"{t.get('pool_1_workers_per_s', 0):.1f}/s"),
        ("pool, 2 workers (wall)", f"{t.get('pool_2_workers_per_s', 0):.1f}/s"),
        ("frame -> moderation, idle p50 / p99", f"{_ms(lat.get('idle_client', {}), 'p50')} / "
         f"{_ms(lat.get('idle_client', {}), 'p99')}"),
        (f"frame -> moderation, {lat.get('load_pairs')} pairs p50 / p99",
         f"{_ms(lat.get('load_client', {}), 'p50')} / {_ms(lat.get('load_client', {}), 'p99')}"
         f" (missed {lat.get('load_missed')})"),
        ("max pairs sustained here (drop <= 1 %)",
         f"{cap.get('max_sustained_pairs')} (target >= {TARGET_PAIRS})"),
        ("pairs on a 2-core node, from CPU per still",
         f"{cap.get('projected_pairs_2_cores') or 0:.0f} (target >= {TARGET_PAIRS})"),
    ]  # fmt: skip
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
