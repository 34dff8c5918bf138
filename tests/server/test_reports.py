"""Reports over a real server, read back from its database (docs/protocol.md `report`).

- A report is acknowledged with a reference only once it is in the database, with the pair's
  last lines from both sides as evidence (who said what, when), and survives kill -9
  (docs/design.md invariant 4).
- The evidence is a bounded ring buffer; a pair that just ended stays reportable for
  ``report_grace``, and no longer once the reporter is in a new chat or the grace has passed.
- Chat nobody reported is never written (invariant 5). ``parley purge`` applies the retention
  policy and keeps legal holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from harness.client import Client, ClosedError
from harness.safety import (
    REPORT_REF,
    chat,
    database,
    dev,
    isolated_pair,
    person,
    stored_bytes,
    unique_interest,
)
from harness.server import ServerHandle, start_server
from parley.store import ItemKind, ItemStatus

EVIDENCE_LINES = 5
GRACE = 2.0


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A server of this module's own: a 5-line evidence buffer and a 2 s report grace.
    Report rates and the mass-report threshold are the defaults."""
    handle = start_server(
        tmp_path_factory.mktemp("reports-server"),
        {
            "PARLEY_HEARTBEAT_INTERVAL": 1,
            "PARLEY_HEARTBEAT_TIMEOUT": 3,
            "PARLEY_EVIDENCE_LINES": EVIDENCE_LINES,
            "PARLEY_REPORT_GRACE": GRACE,
            "PARLEY_MINOR_POOL_OPEN": True,  # reports from the minor pool are tested here
        },
    )
    yield handle
    handle.stop()


async def report(c: Client, pair: str, category: str = "harassment", **fields: Any) -> str:
    """File a report and return its reference (fails on anything but ``reported``)."""
    rid = c.next_id()
    await c.send("report", pair=pair, category=category, id=rid, **fields)
    ack = await c.expect("reported", strict=True)
    assert (ack["pair"], ack["ref_id"]) == (pair, rid)
    assert REPORT_REF.match(ack["ref"]), ack
    return str(ack["ref"])


async def refused(c: Client, pair: str, code: str, category: str = "harassment") -> None:
    rid = c.next_id()
    await c.send("report", pair=pair, category=category, id=rid)
    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == (code, rid)


# ---- what a report stores -------------------------------------------------------------------


async def test_a_report_is_stored_with_both_sides_lines_and_acknowledged_with_a_reference(
    srv: ServerHandle,
) -> None:
    a, b, p = await isolated_pair(srv)
    lines = ["hi", "hey there", "where are you from?", "why do you ask"]
    t0 = time.time()
    await chat(a, b, lines)
    t1 = time.time()

    ref = await report(a, p, "harassment", comment="  they kept asking  ")

    # The chat goes on, and the reported person is not told.
    await b.say("still there?")
    assert (await a.expect("message", strict=True))["text"] == "still there?"
    assert not [f for f in b.history if f["type"] == "reported"]

    async with database(srv) as store:
        item = await store.get_item(ref)
        assert item is not None, "acknowledged but not in the database"
        assert (item.kind, item.ref, item.category, item.status) == (
            ItemKind.REPORT, ref, "harassment", ItemStatus.OPEN,
        )  # fmt: skip
        assert item.comment == "they kept asking"
        assert (item.reporter, item.reported) == (dev(a), dev(b))
        assert (item.pair_id, item.pool) == (p, "adult:text:en")
        said = [(line["from"], line["text"]) for line in item.transcript]
        assert said == [
            ("reporter", "hi"),
            ("reported", "hey there"),
            ("reporter", "where are you from?"),
            ("reported", "why do you ask"),
        ]
        times = [line["t"] for line in item.transcript]
        assert times == sorted(times)
        assert t0 - 1 <= times[0] and times[-1] <= t1 + 1
        # The reported person's address is kept as a keyed hash only, under the current key.
        assert item.reported_ip == await store.current_ip_hash("127.0.0.1")


async def test_the_evidence_is_the_last_lines_only(srv: ServerHandle) -> None:
    a, b, p = await isolated_pair(srv)
    lines = [f"line {n}" for n in range(12)]  # 6 each: within the message burst
    await chat(a, b, lines)

    ref = await report(b, p, "spam")

    async with database(srv) as store:
        item = await store.get_item(ref)
    assert item is not None
    assert [line["text"] for line in item.transcript] == lines[-EVIDENCE_LINES:]
    # b reports: b's lines (odd) are the reporter's, a's the reported's.
    assert [line["from"] for line in item.transcript] == [
        "reporter" if int(line["text"].split()[1]) % 2 else "reported" for line in item.transcript
    ]


async def test_minor_in_danger_comes_first_in_the_moderation_queue(srv: ServerHandle) -> None:
    a, b, p = await isolated_pair(srv, age=15)
    await chat(a, b, ["hello", "how old are you really"])

    refs = {cat: await report(a, p, cat) for cat in ("harassment", "nudity", "minor_in_danger")}

    async with database(srv) as store:
        queue = await store.queue(limit=1000)
        minor = await store.get_item(refs["minor_in_danger"])
    order = [item.ref for item in queue.items]
    priority = {item.ref: item.priority for item in queue.items}
    assert order.index(refs["minor_in_danger"]) < order.index(refs["nudity"])
    assert order.index(refs["nudity"]) < order.index(refs["harassment"])
    assert priority[refs["minor_in_danger"]] == max(priority.values()) == queue.items[0].priority
    assert (
        priority[refs["minor_in_danger"]] > priority[refs["nudity"]] > priority[refs["harassment"]]
    )
    assert minor is not None and minor.pool == "minor:text:en"


async def test_reports_are_rate_limited_and_a_refused_one_is_not_stored(
    srv: ServerHandle,
) -> None:
    a, b, p = await isolated_pair(srv)
    await chat(a, b, ["hi"])

    for _ in range(3):  # the burst
        await report(a, p)
    await refused(a, p, "rate_limited")

    async with database(srv) as store:
        history = await store.device_history(dev(b))
    assert len(history.reports) == 3


# ---- which pairs can be reported --------------------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "next", "disconnect"])
async def test_a_pair_that_just_ended_can_still_be_reported_with_its_evidence(
    srv: ServerHandle, how: str
) -> None:
    a, b, p = await isolated_pair(srv)
    await chat(a, b, ["hi", "you are gross", "bye"])
    b_device = dev(b)

    if how == "stop":
        await b.stop()
    elif how == "next":
        assert (await b.next())["type"] == "waiting"
    else:
        await b.close()
    left = await a.expect("partner_left", strict=True)
    assert left["pair"] == p

    ref = await report(a, p, "harassment")

    async with database(srv) as store:
        item = await store.get_item(ref)
        assert item is not None
        assert item.reported == b_device
        assert [(x["from"], x["text"]) for x in item.transcript] == [
            ("reporter", "hi"), ("reported", "you are gross"), ("reporter", "bye"),
        ]  # fmt: skip
        if how != "disconnect":
            # the one who left may report too
            ref_b = await report(b, p, "other")
            item_b = await store.get_item(ref_b)
            assert item_b is not None and item_b.reported == dev(a)
            assert len(item_b.transcript) == 3


async def test_after_the_reporters_next_match_the_old_pair_is_stale(srv: ServerHandle) -> None:
    interest = unique_interest()
    a, b, old = await isolated_pair(srv, interest)
    await chat(a, b, ["hi", "ugh"])
    assert (await a.next())["type"] == "waiting"
    await b.expect("partner_left", strict=True)
    c = await person(srv, interests=[interest], fallback=False)
    new = await c.start()
    assert new["type"] == "matched"
    assert (await a.expect("matched", strict=True))["pair"] == new["pair"] != old

    async with database(srv) as store:
        before = (await store.queue(limit=1)).open_reports
        await refused(a, old, "stale_pair")
        # b is not in a new chat: b can still report the old pair
        await report(b, old)
        assert (await store.queue(limit=1)).open_reports == before + 1
        assert not (await store.device_history(dev(b))).reports  # a's report was not stored


async def test_a_pair_ends_being_reportable_when_the_grace_period_is_over(
    srv: ServerHandle,
) -> None:
    a, b, p = await isolated_pair(srv)
    await chat(a, b, ["hi", "go away"])
    await b.stop()
    await a.expect("partner_left", strict=True)
    ended = time.monotonic()

    await asyncio.sleep(GRACE + 0.3 - (time.monotonic() - ended))

    await refused(a, p, "stale_pair")
    await refused(b, p, "stale_pair")
    async with database(srv) as store:
        assert not (await store.device_history(dev(a))).reports
        assert not (await store.device_history(dev(b))).reports


async def test_a_pair_the_reporter_was_never_in_is_stale_and_nothing_is_stored(
    srv: ServerHandle,
) -> None:
    a, b, p = await isolated_pair(srv)
    c, d, q = await isolated_pair(srv)
    idle = await person(srv)
    await chat(a, b, ["hi", "hello"])

    async with database(srv) as store:
        before = (await store.queue(limit=1)).open_reports
        await refused(c, p, "stale_pair")  # someone else's live pair
        await refused(idle, p, "stale_pair")  # not in any pair
        await refused(idle, q, "stale_pair")
        await refused(d, "p_made.up", "stale_pair")
        assert (await store.queue(limit=1)).open_reports == before
        for who in (a, b, c, d):
            assert not (await store.device_history(dev(who))).reports
    # the pairs themselves are untouched
    await c.say("still here")
    assert (await d.expect("message", strict=True))["text"] == "still here"


# ---- what is never written ----------------------------------------------------------------------


async def test_unreported_chat_is_never_written(srv: ServerHandle) -> None:
    secret = f"unreported-{os.urandom(8).hex()}"
    control = f"reported-{os.urandom(8).hex()}"
    a, b, _ = await isolated_pair(srv)
    await chat(a, b, [f"{secret} one", f"{secret} two", f"{secret} three"])
    await a.stop()
    await b.expect("partner_left", strict=True)
    await a.close()
    await b.close()

    # Positive control: a reported chat is written, and the scan below finds it.
    c, d, q = await isolated_pair(srv)
    await chat(c, d, [f"{control} one", f"{control} two"])
    await report(c, q)

    data = stored_bytes(srv)
    assert control.encode() in data, "the scan cannot see what the server writes"
    assert secret.encode() not in data, "unreported chat text was written to the database"
    assert secret not in srv.logs(), "unreported chat text was written to the server log"


# ---- kill -9 -------------------------------------------------------------------------------------


async def test_every_acknowledged_report_survives_kill_9(server_factory: Any) -> None:
    srv = server_factory(
        PARLEY_REPORT_RATE=10_000,
        PARLEY_REPORT_BURST=10_000,
        PARLEY_FRAME_RATE=10_000,
        PARLEY_FRAME_BURST=10_000,
        PARLEY_MASS_REPORT_THRESHOLD=1000,
    )
    pairs = [await isolated_pair(srv) for _ in range(3)]
    for a, b, _ in pairs:
        await chat(a, b, ["hi", "evidence"])
    acknowledged: list[tuple[str, str, Client]] = []  # (ref, pair, reporter)
    enough = asyncio.Event()
    kill_after = random.randint(30, 70)

    async def keep_reporting(a: Client, p: str) -> None:
        """Up to 4 reports in flight; a ref counts only once its `reported` arrived."""
        in_flight = 0
        try:
            while True:
                while in_flight < 4:
                    await a.send("report", pair=p, category="harassment", id=a.next_id())
                    in_flight += 1
                frame = await a.recv(timeout=30)
                assert frame["type"] == "reported", frame
                in_flight -= 1
                acknowledged.append((frame["ref"], p, a))
                if len(acknowledged) >= kill_after:
                    enough.set()
        except (ClosedError, ConnectionClosed, OSError):  # the crash closed the connection
            return

    tasks = [asyncio.create_task(keep_reporting(a, p)) for a, _, p in pairs]
    # Generous guards: each report is fsynced, and a loaded CI machine can be slow.
    await asyncio.wait_for(enough.wait(), 120)
    srv.kill()  # mid-loop: reports are in flight
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert len(acknowledged) >= kill_after

    restarted = server_factory(PARLEY_DATA_DIR=str(srv.data_dir))
    async with database(restarted) as store:
        missing = []
        for ref, p, reporter in acknowledged:
            item = await store.get_item(ref)
            if item is None:
                missing.append(ref)
                continue
            assert (item.pair_id, item.reporter) == (p, dev(reporter))
            assert [x["text"] for x in item.transcript] == ["hi", "evidence"]
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged reports lost"
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA integrity_check")).scalar() == "ok"
    assert len({ref for ref, _, _ in acknowledged}) == len(acknowledged)
    again = await person(restarted)  # and the restarted server serves
    assert again.welcome is not None


# ---- parley purge --------------------------------------------------------------------------------


def run_purge(data_dir: Any, retention_days: float) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {"PARLEY_DATA_DIR": str(data_dir), "PARLEY_RETENTION_DAYS": repr(retention_days)}
    done = subprocess.run(
        [sys.executable, "-m", "parley", "purge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_purge_removes_old_reports_and_keeps_legal_holds(server_factory: Any) -> None:
    srv = server_factory()
    a, b, p = await isolated_pair(srv)
    await chat(a, b, ["hi", "something awful"])
    old = await report(a, p, "harassment")
    held = await report(a, p, "minor_in_danger")
    await a.send("block", pair=p)
    await a.expect("blocked", strict=True)
    a_dev, b_dev = dev(a), dev(b)
    srv.stop()

    retention_days = 1e-6  # 86 ms
    async with database(srv) as store:
        assert await store.set_legal_hold(held, actor="mod:test", reason="CyberTipline report")
        old_item = await store.get_item(old)
        assert old_item is not None
        key_before = await store.current_ip_hash("127.0.0.1")
    # Wait until the reports are older than the retention period (a deadline, not a guess).
    age = time.time() - old_item.created_at.timestamp()
    await asyncio.sleep(max(0.0, retention_days * 86400 - age + 0.05))

    result = await asyncio.to_thread(run_purge, srv.data_dir, retention_days)

    assert result["reports_deleted"] == 1
    assert result["legal_holds_kept"] == 1
    assert result["flags_deleted"] == 0
    assert result["devices_deleted"] == 2
    assert result["ip_key_rotated"] is True
    async with database(srv) as store:
        assert await store.get_item(old) is None
        kept = await store.get_item(held)
        assert kept is not None and kept.legal_hold
        assert [x["text"] for x in kept.transcript] == ["hi", "something awful"]
        assert kept.reported_ip is not None  # its key is retired, not deleted yet
        assert await store.is_blocked(a_dev, b_dev), "blocks are kept"
        assert (await store.current_ip_hash("127.0.0.1")).key_id != key_before.key_id

    # The next purge deletes the retired key and every hash made with it; the hold stays.
    await asyncio.sleep(retention_days * 86400 + 0.05)
    second = await asyncio.to_thread(run_purge, srv.data_dir, retention_days)
    assert second["ip_keys_deleted"] == 1 and second["reports_deleted"] == 0
    async with database(srv) as store:
        kept = await store.get_item(held)
        assert kept is not None and kept.reported_ip is None
