"""Invariant 4: an acknowledged write survives a crash.

A child process writes reports in a loop and prints each reference only after ``add_report``
returned, which is the moment the server would acknowledge it. The test SIGKILLs the child in
the middle of the loop, reopens the database, and checks that every printed reference is there,
on SQLite (WAL, synchronous=FULL) and on PostgreSQL.

(kill -9 tests the process crash. Power loss is covered by synchronous=FULL / fsync at commit,
which this machine cannot simulate.)
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.stores import BACKENDS, target
from parley.store import Store
from parley.store.models import ReportRow

WRITER = r"""
import asyncio, sys, time
from parley.pool import Pool
from parley.store import Store, device_hash

async def main(url: str, schema: str) -> None:
    store = await Store.open(url, schema=schema or None)
    print("ready", flush=True)
    i = 0
    while True:
        ref = await store.add_report(
            reporter=device_hash(f"reporter-{i}"), reported=device_hash("bad"),
            category="harassment", pair_id=f"p{i}", pool=Pool.parse("adult:text:en"),
            transcript=[{"t": time.time(), "from": "reported", "text": f"line {i}"}],
        )
        sys.stdout.write(ref + "\n")
        sys.stdout.flush()  # the acknowledgement
        i += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.parametrize("backend", BACKENDS)
async def test_acknowledged_reports_survive_kill_9(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    async with target(backend, request, tmp_path) as where:
        store = await where.open()
        await store.migrate()
        await store.close()

        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, where.url, where.schema or "",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert child.stdout is not None
        acknowledged: list[str] = []
        kill_after = random.randint(20, 60)
        try:
            async with asyncio.timeout(20):
                assert (await child.stdout.readline()).strip() == b"ready"
                while len(acknowledged) < kill_after:
                    line = await child.stdout.readline()
                    assert line, "the writer died on its own"
                    acknowledged.append(line.decode().strip())
                child.send_signal(signal.SIGKILL)  # mid-loop: a write is in flight
                # whatever it printed before it died was acknowledged too
                rest = await child.stdout.read()
                acknowledged += rest.decode().split()
                assert await child.wait() == -signal.SIGKILL
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()

        reopened = await Store.open(where.url, schema=where.schema)
        try:
            async with reopened._read() as session:
                stored = set((await session.scalars(select(ReportRow.ref))).all())
                total = await session.scalar(select(func.count(ReportRow.id)))
            missing = [ref for ref in acknowledged if ref not in stored]
            assert not missing, f"{len(missing)} acknowledged reports lost: {missing[:5]}"
            # at most the one write in flight was committed without being acknowledged
            assert len(acknowledged) <= (total or 0) <= len(acknowledged) + 1
            if backend == "sqlite":
                async with reopened.engine.connect() as conn:
                    check = (await conn.exec_driver_sql("PRAGMA integrity_check")).scalar()
                assert check == "ok"
            assert await reopened.get_item(acknowledged[-1]) is not None
        finally:
            await reopened.close()
