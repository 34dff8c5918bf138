"""The transparency report: the figures of the EU's harmonised template that apply to Parley.

Commission Implementing Regulation (EU) 2024/2835 lays down the templates for the transparency
reports of Articles 15 and 24 DSA (in use for periods from 1 July 2025). Of its quantitative
sections, these apply to a chat service without accounts, trusted flaggers or money:

- notices (Article 16): how many came in, by category and by who sent them; actions taken on
  them; the median time from a notice to the action;
- own-initiative moderation: what the automatic checks detected;
- decisions: restrictions by type, ground and category, automated or by a person;
- complaints (Article 20, Parley's appeals): received, decided, upheld, reversed, and the median
  time to decide;
- suspensions (bans), and matches against lists of known abuse images.

Orders from authorities (Articles 9 and 10), out-of-court disputes (Article 21) and suspensions
of people who misuse the notice system (Article 23(2)) do not pass through Parley; the report
says so rather than leave them out silently. Every figure is counted from the audit log (which
the retention purge never deletes) over ``[start, end)``: a notice in the period it came in, a
decision in the period it was made. Times are medians of whole seconds, ``null`` when nothing
was decided.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley.store import AuditEntry, Store
from parley.transparency.decisions import (
    DECISION_ACTIONS,
    AppealOutcome,
    Restriction,
    moments,
    resolve,
)
from parley.transparency.statements import (
    HASH_MATCH,
    RULES,
    cause,
    detected_automatically,
    rule_for,
)

TEMPLATE = (
    "Commission Implementing Regulation (EU) 2024/2835, Annex I: the harmonised templates for "
    "transparency reports under Articles 15 and 24 of Regulation (EU) 2022/2065 (DSA)"
)
#: Item closures by a moderator: each is a decision (a ban's is counted with the ban).
_CLOSED = {"item.dismissed": "no_action", "item.warned": "warning", "item.banned": "ban"}
_ACTIONS = (
    "report.add",
    "flag.add",
    *_CLOSED,
    "item.legal_hold",
    "ban.lift",
    "appeal.add",
    *DECISION_ACTIONS,
)


@dataclass
class _Tally:
    """Everything counted while reading the period's audit entries once."""

    notices: Counter[str] = field(default_factory=Counter)  # Parley category
    detections: Counter[str] = field(default_factory=Counter)  # flag kind
    closed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (item type, outcome)
    legal_holds: Counter[str] = field(default_factory=Counter)  # automatic / moderator
    lifted: int = 0  # bans lifted other than on appeal
    restrictions: list[Restriction] = field(default_factory=list)
    appeals_in: list[AuditEntry] = field(default_factory=list)
    appeals_out: list[AppealOutcome] = field(default_factory=list)
    acted_on: dict[str, datetime] = field(default_factory=dict)  # notice ref -> first action


async def transparency_report(store: Store, start: datetime, end: datetime) -> dict[str, Any]:
    """The figures for ``[start, end)`` as a JSON-ready dict (:func:`csv_text` flattens it)."""
    t = _Tally()
    async for entries in moments(store, _ACTIONS, since=start, until=end):
        _count(t, entries)
        for d in await resolve(store, [e for e in entries if e.action in DECISION_ACTIONS]):
            if isinstance(d, AppealOutcome):
                t.appeals_out.append(d)
            else:
                t.restrictions.append(d)
                if d.automatic and d.source_report is not None:
                    _first(t.acted_on, d.source_report, d.at)
    received = await store.first_entries("report.add", "report", list(t.acted_on))
    to_action = [
        (at - received[ref].at).total_seconds() for ref, at in t.acted_on.items() if ref in received
    ]
    filed = await store.first_entries(
        "appeal.add", "appeal", [str(a.appeal_id) for a in t.appeals_out]
    )
    to_decide = [
        (a.at - filed[str(a.appeal_id)].at).total_seconds()
        for a in t.appeals_out
        if str(a.appeal_id) in filed
    ]
    return _figures(t, start, end, to_action, to_decide)


def _count(t: _Tally, entries: list[AuditEntry]) -> None:
    for e in entries:
        details = e.details or {}
        if e.action == "report.add":
            t.notices[str(details.get("category", "other"))] += 1
        elif e.action == "flag.add":
            t.detections[str(details.get("kind", "other"))] += 1
        elif e.action in _CLOSED:
            t.closed[(e.item_type or "", _CLOSED[e.action])] += 1
            if e.item_type == "report" and e.action != "item.dismissed" and e.item_id:
                _first(t.acted_on, e.item_id, e.at)
        elif e.action == "item.legal_hold":
            t.legal_holds["automatic" if e.actor.startswith("system:") else "moderator"] += 1
        elif e.action == "ban.lift" and not {"with", "appeal"} & details.keys():
            # One decision: its address companion's entry ("with") and a lift on appeal
            # ("appeal", counted with the appeals) are not decisions of their own.
            t.lifted += 1
        elif e.action == "appeal.add":
            t.appeals_in.append(e)


def _first(acted: dict[str, datetime], ref: str, at: datetime) -> None:
    if ref not in acted or at < acted[ref]:
        acted[ref] = at


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values)) if values else None


def _figures(
    t: _Tally, start: datetime, end: datetime, to_action: list[float], to_decide: list[float]
) -> dict[str, Any]:
    rs = t.restrictions
    automatic = [r for r in rs if r.automatic]
    by_moderators = [r for r in rs if not r.automatic]
    devices = [r for r in rs if r.device]
    sor_category: Counter[str] = Counter()
    for category, n in t.notices.items():
        sor_category[RULES.get(category, RULES["other"]).category] += n
    closed_without_ban = {
        outcome: sum(n for (_, o), n in t.closed.items() if o == outcome)
        for outcome in ("warning", "no_action")
    }
    human = len(by_moderators) + sum(closed_without_ban.values()) + len(t.appeals_out) + t.lifted
    lifted_on_appeal = sum(1 for a in t.appeals_out if a.decision == "lifted")
    hash_flags = t.detections.get(HASH_MATCH, 0)
    return {
        "report": {
            "template": TEMPLATE,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "counted_from": "the audit log: notices when they came in, decisions when made",
        },
        "notices": {
            "received": sum(t.notices.values()),
            "by_category": dict(sorted(sor_category.items())),
            "by_parley_category": dict(sorted(t.notices.items())),
            "by_sender": {
                "recipients_of_the_service": sum(t.notices.values()),
                "trusted_flaggers": 0,
            },
            "acted_on": len(t.acted_on),
            "decided_by_moderators": _closed(t, "report"),
            "acted_on_automatically": len({r.source_report for r in automatic if r.source_report}),
            "median_seconds_to_action": _median(to_action),
        },
        "own_initiative": {
            "detections": sum(t.detections.values()),
            "by_kind": dict(sorted(t.detections.items())),
            "decided_by_moderators": _closed(t, "flag"),
        },
        "decisions": {
            "total": len(automatic) + human,
            "automated": len(automatic),
            "by_moderators": human,
            "by_type": {
                "account_suspension": sum(1 for r in devices if r.ends_at is not None),
                "account_termination": sum(1 for r in devices if r.ends_at is None),
                "address_only_suspension": sum(1 for r in rs if not r.device),
                "warning": closed_without_ban["warning"],
                "no_action": closed_without_ban["no_action"],
                "appeal_decision": len(t.appeals_out),
                "ban_lifted": t.lifted,
            },
            "restrictions_by_ground": _tally(
                "DECISION_GROUND_ILLEGAL_CONTENT"
                if rule_for(r).illegal
                else "DECISION_GROUND_INCOMPATIBLE_CONTENT"
                for r in rs
            ),
            "restrictions_by_category": _tally(rule_for(r).category for r in rs),
            "restrictions_detected_automatically": sum(1 for r in rs if detected_automatically(r)),
            "legal_holds": dict(sorted(t.legal_holds.items())),
        },
        "complaints": {
            "received": len(t.appeals_in),
            "decided": len(t.appeals_out),
            "upheld": len(t.appeals_out) - lifted_on_appeal,
            "reversed": lifted_on_appeal,
            "median_seconds_to_decide": _median(to_decide),
        },
        "suspensions": {
            "total": len(rs),
            "temporary": sum(1 for r in rs if r.ends_at is not None),
            "permanent": sum(1 for r in rs if r.ends_at is None),
            "automatic": len(automatic),
            "by_moderators": len(by_moderators),
            "by_cause": _tally(r.category for r in rs),
        },
        "hash_matches": {
            "detected": hash_flags,
            "suspensions": sum(1 for r in rs if cause(r) == HASH_MATCH),
        },
        "not_applicable": {
            "orders_from_authorities": "Articles 9 and 10: orders reach the operator, not Parley",
            "out_of_court_disputes": "Article 21: settled outside Parley",
            "misuse_suspensions": "Article 23(2): Parley does not suspend people for notices",
        },
    }


def _closed(t: _Tally, item_type: str) -> int:
    return sum(n for (kind, _), n in t.closed.items() if kind == item_type)


def _tally(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def rows(report: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """The report as (section, figure, breakdown, value) rows: nested figures become one row
    per breakdown; a missing median is an empty value."""
    for section, figures in report.items():
        for figure, value in figures.items():
            if isinstance(value, dict):
                for key, inner in value.items():
                    yield section, figure, str(key), _cell(inner)
            else:
                yield section, figure, "", _cell(value)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def csv_text(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "figure", "breakdown", "value"))
    writer.writerows(rows(report))
    return out.getvalue()
