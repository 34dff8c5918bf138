"""Statements of reasons for the EU's DSA Transparency Database, one for every kind of decision
Parley makes, each validated against the vendored schema (``sor_schema.json``).

The decisions are made by the real code paths (the console's actions, the automatic sanctions,
appeals) on a real store, SQLite and PostgreSQL; only the hash-match ban is written by hand, as
the audit entry the hash matching will write (a ban of category ``hash_match`` by
``system:hash-match`` for a flag of kind ``hash_match``), because that feature lands separately.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest

from parley.broker import create_broker
from parley.config import Settings
from parley.metrics import Metrics
from parley.moderation.service import ActionResult, Console
from parley.pool import Pool
from parley.quotas.memory import MemoryQuotas
from parley.safety.sanctions import Sanctions
from parley.store import Ban, DeviceHash, Store, device_hash
from parley.transparency.decisions import (
    AppealOutcome,
    Decision,
    Restriction,
    decisions,
)
from parley.transparency.statements import (
    BATCH_LIMIT,
    StatementOptions,
    batches,
    schema,
    statement,
    statements,
)
from parley.transparency.territory import EEA, EU, territorial_scope

VALIDATOR = jsonschema_rs.validator_for(schema(), validate_formats=True)
START = datetime(2020, 1, 1, tzinfo=UTC)


def device(name: str) -> DeviceHash:
    return device_hash(f"d_{name}.{hashlib.sha256(name.encode()).hexdigest()[:8]}")


def errors(body: dict[str, Any]) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in VALIDATOR.iter_errors(body)]


def valid(one: dict[str, Any]) -> dict[str, Any]:
    problems = errors({"statements": [one]})
    assert not problems, (one["puid"], problems)
    return one


async def no_enforce(ban: Ban) -> None:
    return None


def ban_id(result: ActionResult) -> int:
    assert result.ban is not None
    return result.ban.id


async def made_decisions(store: Store) -> dict[str, Decision]:
    """One decision of every kind, by the code that makes it; keyed by what it is."""
    settings = Settings(mod_ip_ban_seconds=3600)
    metrics = Metrics()
    broker = create_broker("memory://", interest_fallback=1.0, observer=metrics)
    console = Console(settings, store, broker, metrics, no_enforce)
    sanctions = Sanctions(settings, store, MemoryQuotas())
    ip = await store.current_ip_hash("198.51.100.7")
    made: dict[str, int] = {}

    # A moderator bans on a user's report (the address goes with the device).
    ref = await store.add_report(
        reporter=device("kid"), reported=device("troll"), category="harassment",
        pair_id="p1", pool=Pool.parse("adult:text:en"), reported_ip=ip,
    )  # fmt: skip
    made["moderator_report_ban"] = ban_id(
        await console.act(ref, "alice", "ban_temp", "Insults.", "7d")
    )
    # ...and permanently on an automatic grooming flag.
    flag = await store.add_flag(
        kind="grooming", device=device("groomer"), pair_id="p2", pool=Pool.parse("minor:text:en")
    )
    result = await console.act(flag, "alice", "ban_perm", "Asked a child for pictures.")
    made["moderator_flag_ban"] = ban_id(result)
    # Automatic: vision, in the adult and in the minor pool.
    for key, pool in (
        ("vision", Pool.parse("adult:video:en")),
        ("vision_minor", Pool.parse("minor:video:en")),
    ):
        f = await store.add_flag(kind="vision", device=device(key), pair_id=key, pool=pool)
        made[key] = (await sanctions.after_vision(device(key), ip, f, pool)).id
    # Automatic: several people on different networks report one person.
    for n in range(settings.mass_report_threshold):
        last = await store.add_report(
            reporter=device(f"r{n}"), reported=device("spammer"), category="spam",
            pair_id=f"m{n}", pool=Pool.parse("adult:text:en"),
            reporter_ip=await store.current_ip_hash(f"203.0.113.{n + 1}"),
        )  # fmt: skip
    mass = await sanctions.after_report(
        device("spammer"), None, last, "m0", Pool.parse("adult:text:en")
    )
    assert mass is not None
    made["mass_report"] = mass.id
    # Automatic: a connection that floods.
    flood = None
    for _ in range(settings.abuse_ban_after):
        flood = await sanctions.after_abuse_close(device("flooder"), None) or flood
    assert flood is not None
    made["flood"] = flood.id
    # Appeals: one upheld (of a moderator's ban), one lifted (of an automatic ban).
    upheld = await store.add_appeal(made["moderator_report_ban"], "I was joking.")
    await console.decide(upheld.id, "upheld", "bob", "Insults are not jokes.")
    lifted = await store.add_appeal(made["vision"], "It was a poster behind me.")
    await console.decide(lifted.id, "lifted", "bob", "The still shows a poster.")
    # The hash matching's ban, as its audit entries will be written.
    hash_flag = "F-HASH22"
    await store.audit(
        actor="system", action="flag.add", item_type="flag", item_id=hash_flag,
        details={"kind": "hash_match", "priority": 1000, "pool": "minor:video:en"},
    )  # fmt: skip
    await store.audit(
        actor="system:hash-match", action="ban.add", item_type="ban", item_id=999_001,
        reason="An image you sent matched a list of known child sexual abuse material.",
        details={"category": "hash_match", "device": device("abuser"), "ip": True,
                 "ends_at": None, "source": None, "flag": hash_flag, "pool": "minor:video:en"},
    )  # fmt: skip
    made["hash_match"] = 999_001

    found: dict[str, Decision] = {}
    by_ban = {ban_id: key for key, ban_id in made.items()}
    async for d in decisions(store, since=START):
        if isinstance(d, AppealOutcome):
            found[f"appeal_{d.decision}"] = d
        else:
            found[by_ban[d.ban_id]] = d  # a ban not made above fails here
    return found


async def test_every_kind_of_decision_validates_against_the_schema(store: Store) -> None:
    made = await made_decisions(store)
    assert set(made) == {
        "moderator_report_ban", "moderator_flag_ban", "vision", "vision_minor", "mass_report",
        "flood", "appeal_upheld", "appeal_lifted", "hash_match",
    }  # fmt: skip
    options = StatementOptions(rules_url="https://parley.example/rules")
    out = {key: valid(statement(d, options)) for key, d in made.items()}
    # The same through the export: the decisions read from the audit log, in two batches.
    exported = [b async for b in batches(statements(store, options, since=START), size=5)]
    assert [len(b["statements"]) for b in exported] == [5, 4]
    for body in exported:
        assert not errors(body)
    assert sorted(s["puid"] for b in exported for s in b["statements"]) == sorted(
        s["puid"] for s in out.values()
    )

    # The moderator's ban on a report: a person's notice, a person's decision; the address ban
    # made with it is part of it, not a statement of its own.
    s = out["moderator_report_ban"]
    assert s["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert s["end_date_account_restriction"] > s["application_date"]
    assert s["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert s["incompatible_content_explanation"] == "Insults."
    assert s["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert (s["source_type"], s["automated_detection"], s["automated_decision"]) == (
        "SOURCE_ARTICLE_16", "No", "AUTOMATED_DECISION_NOT_AUTOMATED",
    )  # fmt: skip
    assert s["content_type"] == ["CONTENT_TYPE_TEXT"] and "address" in s["decision_facts"]
    assert s["decision_ground_reference_url"] == "https://parley.example/rules"
    assert s["territorial_scope"] == list(EEA) and len(EEA) == 30
    # A permanent ban on a grooming flag: a machine detected, a person decided.
    s = out["moderator_flag_ban"]
    assert s["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
    assert "end_date_account_restriction" not in s
    assert s["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert s["category_specification"] == ["KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"]
    assert (s["source_type"], s["automated_detection"], s["automated_decision"]) == (
        "SOURCE_VOLUNTARY", "Yes", "AUTOMATED_DECISION_NOT_AUTOMATED",
    )  # fmt: skip
    # Vision: fully automatic, and the content itself was stopped.
    s = out["vision"]
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert s["category"] == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    assert "KEYWORD_NUDITY" in s["category_specification"]
    assert s["content_type"] == ["CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO"]
    assert (s["source_type"], s["automated_detection"], s["automated_decision"]) == (
        "SOURCE_VOLUNTARY", "Yes", "AUTOMATED_DECISION_FULLY",
    )  # fmt: skip
    assert out["vision_minor"]["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    # Mass reports: the people's notices, the machine's decision, the reports' category.
    s = out["mass_report"]
    assert (s["source_type"], s["automated_detection"], s["automated_decision"]) == (
        "SOURCE_ARTICLE_16", "No", "AUTOMATED_DECISION_FULLY",
    )  # fmt: skip
    assert s["category_specification_other"] == "Spam and advertising in a chat"
    s = out["flood"]
    assert s["content_type"] == ["CONTENT_TYPE_OTHER"] and s["content_type_other"]
    # Appeals: statements of their own; a lifted ban ends the day it was lifted.
    s = out["appeal_upheld"]
    assert s["puid"].startswith("parley-appeal-")
    assert "upheld" in s["decision_facts"] and "Insults are not jokes." in s["decision_facts"]
    assert s["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    s = out["appeal_lifted"]
    assert s["end_date_account_restriction"] == s["application_date"]  # lifted the same day
    assert s["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"  # a person undid a machine
    # The hash match: illegal content, fully automatic.
    s = out["hash_match"]
    assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert "2011/93/EU" in s["illegal_content_legal_ground"] and s["illegal_content_explanation"]
    assert "incompatible_content_ground" not in s
    assert s["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert s["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert s["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
    assert (s["source_type"], s["automated_detection"], s["automated_decision"]) == (
        "SOURCE_VOLUNTARY", "Yes", "AUTOMATED_DECISION_FULLY",
    )  # fmt: skip
    # Each puid once; no identifier of a person (device or address hash) anywhere.
    assert len({s["puid"] for s in out.values()}) == len(out)
    text = json.dumps(list(out.values()))
    names = ("troll", "groomer", "vision", "vision_minor", "spammer", "flooder", "abuser", "kid")
    for name in names:
        assert device(name) not in text
    ip = await store.current_ip_hash("198.51.100.7")
    assert ip.digest not in text


def hash_match_ban(**changes: Any) -> Restriction:
    """A ban record shaped as the hash matching will make it."""
    at = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
    fields: dict[str, Any] = {
        "ban_id": 7, "at": at, "actor": "system:hash-match", "category": "hash_match",
        "reason": "An image you sent matched a list of known abuse images.", "ends_at": None,
        "device": True, "flag": "F-ABCDEF", "pool": "adult:video:en", "address_too": True,
        "content_at": at - timedelta(seconds=2), "flag_kind": "hash_match",
    }  # fmt: skip
    fields.update(changes)
    return Restriction(**fields)


def test_a_hash_match_record_maps_to_illegal_content() -> None:
    s = valid(statement(hash_match_ban(), StatementOptions(territorial_scope=EU)))
    assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert s["content_type"] == ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_VIDEO"]
    assert s["territorial_scope"] == list(EU) and "IS" not in s["territorial_scope"]
    assert (s["application_date"], s["content_date"]) == ("2030-05-01", "2030-05-01")
    assert "F-ABCDEF" in s["decision_facts"] and "PDQ" in s["decision_facts"]
    # By the category alone, or by the flag's kind alone, it is still a hash match.
    for variant in (hash_match_ban(flag_kind=None), hash_match_ban(category="other")):
        assert valid(statement(variant, StatementOptions()))["decision_ground"] == (
            "DECISION_GROUND_ILLEGAL_CONTENT"
        )


def test_the_schema_refuses_what_the_database_refuses() -> None:
    good = valid(statement(hash_match_ban(), StatementOptions()))
    broken: list[dict[str, Any]] = [
        {k: v for k, v in good.items() if k != "illegal_content_legal_ground"},
        {k: v for k, v in good.items() if k not in ("decision_visibility", "decision_account")},
        {**good, "category": "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"},  # v1 only
        {**good, "puid": "parley ban 7"},
        {**good, "application_date": "2019-12-31"},
        {**good, "content_date": "2030-02-30"},
        {**good, "territorial_scope": ["US"]},
        {**good, "automated_detection": "maybe"},
        {**good, "decision_facts": "x" * 5001},
        {**good, "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT"},  # its fields missing
        {**good, "content_type": ["CONTENT_TYPE_OTHER"]},  # content_type_other missing
        {**good, "decison_facts": "a misspelt field"},
    ]
    for one in broken:
        assert errors({"statements": [one]}), one
    assert errors({"statements": [good] * (BATCH_LIMIT + 1)})  # the API takes 100 at most
    assert errors({"statements": []})


async def sizes(count: int, size: int = BATCH_LIMIT) -> list[int]:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for i in range(count):
            yield {"puid": f"p{i}"}

    return [len(b["statements"]) async for b in batches(source(), size)]


async def test_batches_hold_at_most_a_hundred() -> None:
    assert await sizes(250) == [100, 100, 50]
    assert await sizes(3, size=2) == [2, 1]
    assert await sizes(0) == []
    for size in (0, BATCH_LIMIT + 1):
        with pytest.raises(ValueError, match="1 to 100"):
            await sizes(5, size=size)


def test_territorial_scope_setting() -> None:
    assert territorial_scope("eea") == EEA and territorial_scope(" EU ") == EU
    assert territorial_scope("de, AT,de") == ("AT", "DE")
    for bad in ("", "US", "DE,XX", "EEA,DE"):
        with pytest.raises(ValueError, match="PARLEY_SOR_TERRITORIAL_SCOPE"):
            territorial_scope(bad)
    with pytest.raises(ValueError, match="PARLEY_SOR_TERRITORIAL_SCOPE"):
        Settings(sor_territorial_scope="Atlantis")
    with pytest.raises(ValueError, match="PARLEY_SOR_RULES_URL"):
        Settings(sor_rules_url="javascript:alert(1)")


async def test_pages_never_split_a_moment(store: Store) -> None:
    """A device ban and its address ban share a moment; read a page at a time, however small,
    the address ban is still folded into its device ban, and nothing is read twice or lost."""

    def key(d: Decision) -> tuple[str, int, bool]:
        if isinstance(d, AppealOutcome):
            return ("appeal", d.appeal_id, False)
        return ("ban", d.ban_id, d.address_too)

    await made_decisions(store)
    whole = [key(d) async for d in decisions(store, since=START)]
    assert sum(address for _, _, address in whole) == 3  # the report ban and both vision bans
    for page in (1, 2, 3):
        assert [key(d) async for d in decisions(store, since=START, page=page)] == whole
