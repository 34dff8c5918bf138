"""Reading the files a hash list comes in, for ``parley hashes import`` (docs/moderation.md,
"Known images").

Three shapes, told apart by the first line that is not blank or a ``#`` comment:

- **PDQ hex, one per line**: 64 hex digits, optionally followed by whitespace, a comma or a tab
  and anything else (ignored). What ``hashtool256``, HMA's ``pdq`` exports and most tools print.
- **CSV or TSV with a header** (tab-separated when the header has a tab, else comma-separated).
  The hash is the column named ``signal_str``, ``signal``, ``pdq``, ``hash`` or ``pdq_hash``
  (the first of those present, case-insensitive). When a ``signal_type`` (or ``type``) column
  is present, only rows whose value is ``pdq`` (any case) are read: others are skipped and
  counted. The entry's own reference is the ``id``, ``indicator_id`` or ``signal_id`` column
  when present. This is what ``threatexchange dataset -P --csv`` writes (``collab,
  signal_type,signal_str,category,tags``).
- **CSV or TSV without a header**, the hash in the first column: HMA's and ThreatExchange's
  indicator dumps (``hash,indicator id,time,tags``, e.g. HMA's sample ``pdq.csv``). The second
  column, when it is present and looks like an id (letters, digits, ``-_.:``, at most 64), is
  kept as the entry's reference.

Rows whose hash is not 64 hex digits are skipped and counted with their line numbers (the
first few are shown), never guessed at. The file is read whole; a list of a million hashes
is about 65 MB of hex.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from parley.safety.pdq import HEX_DIGITS, parse_hex

HASH_COLUMNS = ("signal_str", "signal", "pdq", "hash", "pdq_hash")
TYPE_COLUMNS = ("signal_type", "type")
REF_COLUMNS = ("id", "indicator_id", "signal_id")
_HEX_START = re.compile(rf"^[0-9a-fA-F]{{{HEX_DIGITS}}}(?:$|[\s,])")
_REF = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_BAD_LINES_SHOWN = 5


class HashFileError(ValueError):
    """The file cannot be read as a hash list at all (the message says why)."""


@dataclass(slots=True)
class HashFile:
    """What a file held: the hashes (32 bytes each, with the list's own reference or None), its
    shape, and the rows skipped by reason."""

    shape: str
    entries: list[tuple[bytes, str | None]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    bad_lines: list[int] = field(default_factory=list)  # the first few, for the operator

    def skip(self, reason: str, line: int) -> None:
        self.skipped[reason] += 1
        if reason == "not a PDQ hash" and len(self.bad_lines) < MAX_BAD_LINES_SHOWN:
            self.bad_lines.append(line)


def read_hash_file(path: Path) -> HashFile:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HashFileError(f"cannot read {path}: {exc}") from exc
    return parse_hash_text(text)


def parse_hash_text(text: str) -> HashFile:
    lines = text.splitlines()
    first = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None
    )
    if first is None:
        raise HashFileError("the file holds no hashes")
    head = lines[first]
    if _HEX_START.match(head.strip()):
        return _plain(lines, first)
    delimiter = "\t" if "\t" in head else ","
    columns = [c.strip().lower() for c in next(csv.reader([head], delimiter=delimiter))]
    hash_at = next((columns.index(c) for c in HASH_COLUMNS if c in columns), None)
    if hash_at is None:
        raise HashFileError(
            "not a list of PDQ hashes: the first line is neither 64 hex digits nor a header "
            f"with a column named {', '.join(HASH_COLUMNS)}"
        )
    type_at = next((columns.index(c) for c in TYPE_COLUMNS if c in columns), None)
    ref_at = next((columns.index(c) for c in REF_COLUMNS if c in columns), None)
    shape = "tsv with a header" if delimiter == "\t" else "csv with a header"
    out = HashFile(shape)
    body = io.StringIO("\n".join(lines[first + 1 :]))
    for n, row in enumerate(csv.reader(body, delimiter=delimiter), start=first + 2):
        if not row or not any(cell.strip() for cell in row) or row[0].startswith("#"):
            continue
        if type_at is not None and _cell(row, type_at).lower() != "pdq":
            out.skip("not a PDQ signal", n)
            continue
        ref = _cell(row, ref_at) if ref_at is not None else ""
        _add(out, _cell(row, hash_at), ref or None, n)
    return out


def _plain(lines: list[str], first: int) -> HashFile:
    """One hash per line, or a headerless CSV/TSV with the hash first."""
    sample = lines[first]
    delimiter = "\t" if "\t" in sample else "," if "," in sample else None
    out = HashFile("pdq hex, one per line" if delimiter is None else "csv/tsv without a header")
    for n, line in enumerate(lines[first:], start=first + 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if delimiter is None:
            _add(out, line.split()[0], None, n)
            continue
        cells = next(csv.reader([line], delimiter=delimiter))
        ref = cells[1].strip() if len(cells) > 1 and _REF.match(cells[1].strip()) else None
        _add(out, cells[0], ref, n)
    return out


def _cell(row: list[str], at: int | None) -> str:
    return row[at].strip() if at is not None and at < len(row) else ""


def _add(out: HashFile, value: str, ref: str | None, line: int) -> None:
    try:
        digest = parse_hex(value)
    except ValueError:
        out.skip("not a PDQ hash", line)
        return
    out.entries.append((digest, ref))
