"""The transparency report over a seeded database, every figure worked out by hand below.

The period is March 2030 (``[2030-03-01, 2030-04-01)``), seeded by
``harness.transparency.seed_month`` with explicit times: what happens when, and so what each
figure must be, is written there and recounted here.
"""

from __future__ import annotations

import csv
import io

from harness.transparency import END, START, at, seed_month
from parley.store import Store
from parley.transparency.report import csv_text, transparency_report


async def test_report_figures_over_a_seeded_month(store: Store) -> None:
    await seed_month(store)
    figures = await transparency_report(store, START, END)
    assert figures["report"]["period_start"] == "2030-03-01T00:00:00+00:00"
    assert figures["report"]["period_end"] == "2030-04-01T00:00:00+00:00"
    # Notices: R1-R6 came in during March (R0 in February, R7 in April).
    assert figures["notices"] == {
        "received": 6,
        "by_category": {
            "STATEMENT_CATEGORY_CYBER_VIOLENCE": 3,  # three harassment
            "STATEMENT_CATEGORY_OTHER_VIOLATION_TC": 2,  # nudity, spam
            "STATEMENT_CATEGORY_PROTECTION_OF_MINORS": 1,
        },
        "by_parley_category": {"harassment": 3, "minor_in_danger": 1, "nudity": 1, "spam": 1},
        "by_sender": {"recipients_of_the_service": 6, "trusted_flaggers": 0},
        # R0 (warned), R1, R2 (banned), R6 (the machine's ban); R3 was dismissed.
        "acted_on": 4,
        "decided_by_moderators": 4,  # R0, R1, R2, R3 closed in March
        "acted_on_automatically": 1,  # R6
        # 30, 600, 1800 and 864000 s: the median is (600 + 1800) / 2.
        "median_seconds_to_action": 1200,
    }
    assert figures["own_initiative"] == {
        "detections": 4,
        "by_kind": {"grooming": 1, "hash_match": 1, "mass_report": 1, "vision": 1},
        "decided_by_moderators": 2,  # F1 banned, F2 dismissed
    }
    assert figures["decisions"] == {
        # Machines: mass report, vision, flood, hash match. People: three bans (R1, R2, F1), a
        # warning (R0), two dismissals (R3, F2), two appeal decisions.
        "total": 12,
        "automated": 4,
        "by_moderators": 8,
        "by_type": {
            "account_suspension": 4,  # R1, mass report, vision, flood
            "account_termination": 3,  # R2, F1, hash match
            "address_only_suspension": 0,  # the two address bans belong to R1's and vision's
            "warning": 1,
            "no_action": 2,
            "appeal_decision": 2,
            "ban_lifted": 0,  # the lifted vision ban is an appeal decision
        },
        "restrictions_by_ground": {
            "DECISION_GROUND_ILLEGAL_CONTENT": 1,  # the hash match
            "DECISION_GROUND_INCOMPATIBLE_CONTENT": 6,
        },
        "restrictions_by_category": {
            "STATEMENT_CATEGORY_CYBER_VIOLENCE": 1,  # the mass report, from harassment reports
            "STATEMENT_CATEGORY_OTHER_VIOLATION_TC": 3,  # R1 nudity, vision, flood
            "STATEMENT_CATEGORY_PROTECTION_OF_MINORS": 3,  # R2, F1 grooming, hash match
        },
        "restrictions_detected_automatically": 4,  # F1, vision, flood, hash match
        "legal_holds": {"moderator": 1},
    }
    assert figures["complaints"] == {
        "received": 3,  # on R1's, vision's and R2's bans
        "decided": 2,
        "upheld": 1,
        "reversed": 1,
        "median_seconds_to_decide": 46800,  # 86400 (upheld) and 7200 (lifted)
    }
    assert figures["suspensions"] == {
        "total": 7,
        "temporary": 4,
        "permanent": 3,
        "automatic": 4,
        "by_moderators": 3,
        "by_cause": {
            "flood": 1,
            "hash_match": 1,
            "mass_report": 1,
            "minor_in_danger": 2,
            "nudity": 2,
        },
    }
    assert figures["hash_matches"] == {"detected": 1, "suspensions": 1}

    rows = list(csv.reader(io.StringIO(csv_text(figures))))
    assert rows[0] == ["section", "figure", "breakdown", "value"]
    assert ["notices", "received", "", "6"] in rows
    assert ["notices", "by_category", "STATEMENT_CATEGORY_CYBER_VIOLENCE", "3"] in rows
    assert ["complaints", "median_seconds_to_decide", "", "46800"] in rows
    assert ["decisions", "by_type", "account_termination", "3"] in rows


async def test_an_empty_period_has_zeros_and_no_medians(store: Store) -> None:
    await seed_month(store)
    figures = await transparency_report(store, at(1, 0, month=6), at(1, 0, month=7))
    assert figures["notices"]["received"] == 0
    assert figures["notices"]["median_seconds_to_action"] is None
    assert figures["complaints"]["median_seconds_to_decide"] is None
    assert figures["decisions"]["total"] == 0 and figures["suspensions"]["total"] == 0
    assert ["notices", "median_seconds_to_action", "", ""] in list(
        csv.reader(io.StringIO(csv_text(figures)))
    )
