"""``parley transparency sor`` and ``parley transparency report`` as an operator runs them: a
subprocess on a data directory holding a month of decisions (harness.transparency)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import pytest

from harness.transparency import END, START, seed_month
from parley.store import Store
from parley.transparency.report import transparency_report
from parley.transparency.statements import schema

VALIDATOR = jsonschema_rs.validator_for(schema(), validate_formats=True)


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    store = await Store.open(f"sqlite+aiosqlite:///{(data / 'parley.db').as_posix()}")
    try:
        await store.migrate()
        await seed_month(store)
    finally:
        await store.close()
    return data


async def test_report_as_json_csv_and_files(data_dir: Path, tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{(data_dir / 'parley.db').as_posix()}")
    try:
        expected = await transparency_report(store, START, END)
    finally:
        await store.close()
    period = ("--from", "2030-03-01", "--to", "2030-03-31", "--data-dir", str(data_dir))
    done = parley("transparency", "report", *period)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected  # --to is the last day, included
    assert json.loads(done.stdout)["notices"]["received"] == 6
    done = parley("transparency", "report", *period, "--format", "csv")
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["section", "figure", "breakdown", "value"]
    assert ["suspensions", "total", "", "7"] in rows
    out = tmp_path / "reports"
    done = parley("transparency", "report", *period, "--out", str(out))
    assert done.returncode == 0, done.stderr
    name = "transparency-report-2030-03-01-2030-03-31"
    assert json.loads((out / f"{name}.json").read_text()) == expected
    assert list(csv.reader(io.StringIO((out / f"{name}.csv").read_text()))) == rows
    assert done.stdout.split() == [str(out / f"{name}.json"), str(out / f"{name}.csv")]


async def test_sor_batches_validate(data_dir: Path, tmp_path: Path) -> None:
    # March: seven bans and two appeal decisions (April's ban is after --until).
    done = parley(
        "transparency", "sor", "--since", "2030-03-01", "--until", "2030-04-01",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bodies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [len(b["statements"]) for b in bodies] == [9]
    assert "9 statement(s) in 1 batch(es)" in done.stderr
    for body in bodies:
        assert VALIDATOR.is_valid(body), list(VALIDATOR.iter_errors(body))
    puids = [s["puid"] for s in bodies[0]["statements"]]
    assert sum(p.startswith("parley-appeal-") for p in puids) == 2
    # In files of four; without --until, April's ban too.
    out = tmp_path / "sor"
    done = parley(
        "transparency", "sor", "--since", "2030-03-01T00:00:00+00:00", "--batch-size", "4",
        "--out", str(out), "--data-dir", str(data_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["sor-00001.json", "sor-00002.json", "sor-00003.json"]
    sizes = [len(json.loads(f.read_text())["statements"]) for f in files]
    assert sizes == [4, 4, 2]


def test_bad_arguments_get_a_clear_error(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path))
    for args, message in (
        (("sor", "--since", "yesterday"), "is not a date"),
        (("sor", "--since", "2030-01-01", "--batch-size", "101"), "--batch-size is 1 to 100"),
        (("report", "--from", "2030-03-31", "--to", "2030-03-01"), "--to is before --from"),
        (("report", "--from", "2030-02-30", "--to", "2030-03-01"), "is not a date"),
        (("report", "--from", "2030-03-01"), "--to"),
    ):
        done = parley("transparency", *args, *data)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
