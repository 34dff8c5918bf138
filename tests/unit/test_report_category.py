"""A report's category has two forms: the wire's ``ReportCategory`` (what a client may send) and
the store's (what a report row may hold). They must name the same categories."""

from __future__ import annotations

from typing import get_args

from parley import protocol, store


def test_the_wire_and_the_store_know_the_same_report_categories() -> None:
    assert set(get_args(protocol.ReportCategory)) == {c.value for c in store.ReportCategory}
