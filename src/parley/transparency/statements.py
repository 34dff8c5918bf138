"""Statements of reasons (Article 17 DSA) in the format of the EU's DSA Transparency Database.

Every restriction Parley imposes on a person, and every appeal decision, becomes one statement,
a JSON object the database's API takes (``sor_schema.json`` is its schema, written from the
Commission's documentation, which it cites). Warnings and dismissals restrict nothing, so they
have no statement (they are counted in the transparency report).

How Parley's records map onto the statement's fields (docs/moderation.md has the table):

- the restriction: ``decision_account`` (suspended while a ban lasts, terminated when it is
  permanent; Parley's anonymous device identity is the person's account), and for an automatic
  check that stopped the content itself (the partner's video blurred, the chat ended)
  ``decision_visibility`` = disabled. An address-only ban is a suspension of the service
  (``decision_provision``);
- the ground and category: :data:`RULES`, by the ban's category (and, for a flag, its kind; for
  nudity, whether it was in the minor pool);
- who detected and who decided: an automatic ban (actor ``system:...``) is fully automated; a
  moderator's ban is not; an appeal decision on an automatic ban makes it partially automated;
- dates: ``application_date`` is when the ban started, ``content_date`` when the report or flag
  behind it came in, the end date when the ban ends (or was lifted on appeal);
- ``puid``: ``parley-ban-<id>`` and ``parley-appeal-<id>``; the facts name Parley's item
  references (``R-...``, ``F-...``), never a person's identifiers.

The hash matching of known abuse images adds bans of category ``hash_match`` made by
``system:hash-match`` for a flag of kind ``hash_match``: :data:`RULES` already maps them (illegal
content, protection of minors, child sexual abuse material). Another automatic cause needs one
entry there and, when it is not what the person posted that was found, one in
:data:`_DETECTED_BY_NOTICES`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from parley.store import Store
from parley.transparency.decisions import AppealOutcome, Decision, Restriction, decisions
from parley.transparency.territory import EEA

SCHEMA_FILE = Path(__file__).with_name("sor_schema.json")
#: The database's multiple endpoint takes at most this many statements per call.
BATCH_LIMIT = 100
#: The ban category (and flag kind) of a match against a list of known abuse images.
HASH_MATCH = "hash_match"

_ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
_INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
_MINORS = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
_OTHER_TC = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"


@dataclass(frozen=True, slots=True)
class Rule:
    """How one cause of a ban is told in a statement."""

    category: str  # STATEMENT_CATEGORY_...
    terms: str  # the rule broken (incompatible_content_ground), from Parley's community rules
    keywords: tuple[str, ...] = ()  # category_specification
    keyword_other: str = ""  # what KEYWORD_OTHER stands for
    illegal: str = ""  # the law, when the content itself is illegal (decision ground)
    content: tuple[str, ...] = ()  # content types, when not those of the chat's mode
    content_other: str = ""  # what CONTENT_TYPE_OTHER stands for
    stops_content: bool = False  # the check stopped the content itself (visibility)


#: Causes of bans: report categories, flag kinds, automatic causes.
RULES: dict[str, Rule] = {
    "nudity": Rule(
        _OTHER_TC,
        "Community rules: no nudity or sexual content, in text or on camera.",
        ("KEYWORD_NUDITY", "KEYWORD_ADULT_SEXUAL_MATERIAL"),
    ),
    "nudity_minor": Rule(
        _MINORS,
        "Community rules: no nudity or sexual content, in text or on camera; nothing sexual "
        "involving a minor (the under-18 pool).",
        ("KEYWORD_NUDITY",),
    ),
    "minor_in_danger": Rule(
        _MINORS,
        "Community rules: nothing sexual involving or aimed at a minor; no asking a minor for "
        "pictures, to meet, or to move to another app.",
    ),
    "grooming": Rule(
        _MINORS,
        "Community rules: nothing sexual involving or aimed at a minor; no asking a minor for "
        "pictures, to meet, or to move to another app.",
        ("KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",),
    ),
    "harassment": Rule(
        "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "Community rules: no harassment, threats or hate.",
        ("KEYWORD_CYBER_HARASSMENT",),
    ),
    "self_harm": Rule(
        "STATEMENT_CATEGORY_SELF_HARM",
        "Community rules: no encouraging self-harm.",
    ),
    "spam": Rule(
        _OTHER_TC,
        "Community rules: no spam, advertising or scams.",
        ("KEYWORD_OTHER",),
        keyword_other="Spam and advertising in a chat",
    ),
    "other": Rule(_OTHER_TC, "Community rules."),
    "mass_report": Rule(
        _OTHER_TC,
        "Community rules: reports from several people in a short time ban a device for a while.",
        ("KEYWORD_OTHER",),
        keyword_other="Reported by several people in a short time",
    ),
    "flood": Rule(
        _OTHER_TC,
        "Community rules: no flooding or misusing the chat.",
        ("KEYWORD_OTHER",),
        keyword_other="Flooding the service with messages or malformed data",
        content=("CONTENT_TYPE_OTHER",),
        content_other="Messages to the service (flooding)",
    ),
    "evasion": Rule(
        _OTHER_TC,
        "Community rules: a ban is not to be got round.",
        ("KEYWORD_OTHER",),
        keyword_other="Getting round an earlier ban",
    ),
    HASH_MATCH: Rule(
        _MINORS,
        "Community rules: nothing sexual involving a minor.",
        ("KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",),
        illegal=(
            "Directive 2011/93/EU of the European Parliament and of the Council, Article 5 "
            "(offences concerning child pornography), as transposed into national law."
        ),
        content=("CONTENT_TYPE_IMAGE", "CONTENT_TYPE_VIDEO"),
        stops_content=True,
    ),
}
#: Vision's nudity check also stops the content (the partner's video blurs, the chat ends).
_STOPPED_BY_VISION = "system:vision"
#: Causes found by people's reports, not by a machine looking at what the person sent.
_DETECTED_BY_NOTICES = frozenset({"mass_report"})

#: What each automatic actor did, for the statement's facts.
_AUTOMATIC_FACTS = {
    "system:vision": (
        "Automatic decision: a classifier found nudity in a still of the person's own camera, "
        "taken during a video chat; the other person's view was blurred and the chat ended."
    ),
    "system:mass-report": (
        "Automatic decision: several people, on different networks, reported the person within "
        "a short time. A moderator reviews every such ban."
    ),
    "system:flood": (
        "Automatic decision: the person's connection repeatedly sent too much, too fast, or "
        "malformed data."
    ),
    "system:hash-match": (
        "Automatic decision: an image the person sent matched, by its perceptual (PDQ) hash, an "
        "entry of a list of known child sexual abuse material that the operator holds; the chat "
        "ended."
    ),
}


@dataclass(frozen=True, slots=True)
class StatementOptions:
    """What the operator decides: where a ban applies, and where the rules are published."""

    territorial_scope: tuple[str, ...] = EEA
    rules_url: str = ""  # decision_ground_reference_url (optional)


def cause(r: Restriction) -> str:
    """The key of :data:`RULES` that tells this restriction."""
    if r.category == HASH_MATCH or r.flag_kind == HASH_MATCH:
        return HASH_MATCH
    if r.flag_kind == "grooming" or (r.category == "minor_in_danger" and r.flag is not None):
        return "grooming"  # the only flag a minor_in_danger ban answers
    if r.category == "nudity" and (r.pool or "").startswith("minor:"):
        return "nudity_minor"
    if r.category == "mass_report" and r.report_category in RULES:
        return r.report_category or "mass_report"  # what the people reported
    return r.category if r.category in RULES else "other"


def rule_for(r: Restriction) -> Rule:
    return RULES[cause(r)]


def detected_automatically(r: Restriction) -> bool:
    """A machine found it (a flag, or an automatic check), not a person's report."""
    if r.source_report is not None or r.category in _DETECTED_BY_NOTICES:
        return False
    return r.automatic or r.flag is not None


def statement(decision: Decision, options: StatementOptions) -> dict[str, Any]:
    """One statement of reasons for the database's API."""
    if isinstance(decision, AppealOutcome):
        return _appeal_statement(decision, options)
    return _statement(decision, options)


def _statement(
    r: Restriction,
    options: StatementOptions,
    *,
    puid: str = "",
    ends_at: datetime | None = None,
    ended: bool = False,
    automated: str = "",
    facts: str = "",
) -> dict[str, Any]:
    rule = rule_for(r)
    end = ends_at if ended else r.ends_at
    temporary = end is not None
    out: dict[str, Any] = {}
    if rule.stops_content or r.actor == _STOPPED_BY_VISION:
        out["decision_visibility"] = ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    if r.device:
        out["decision_account"] = (
            "DECISION_ACCOUNT_SUSPENDED" if temporary else "DECISION_ACCOUNT_TERMINATED"
        )
        out["account_type"] = "ACCOUNT_TYPE_PRIVATE"
        if end is not None:
            out["end_date_account_restriction"] = _date(max(end, r.at))
    else:
        out["decision_provision"] = (
            "DECISION_PROVISION_PARTIAL_SUSPENSION"
            if temporary
            else "DECISION_PROVISION_PARTIAL_TERMINATION"
        )
        if end is not None:
            out["end_date_service_restriction"] = _date(max(end, r.at))
    explanation = _bounded(r.reason or rule.terms, 2000)
    if rule.illegal:
        out["decision_ground"] = "DECISION_GROUND_ILLEGAL_CONTENT"
        out["illegal_content_legal_ground"] = _bounded(rule.illegal, 500)
        out["illegal_content_explanation"] = explanation
    else:
        out["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        out["incompatible_content_ground"] = _bounded(rule.terms, 500)
        out["incompatible_content_explanation"] = explanation
    if options.rules_url:
        out["decision_ground_reference_url"] = options.rules_url
    out["content_type"] = list(rule.content or _content_types(r.pool))
    if rule.content_other:
        out["content_type_other"] = rule.content_other
    out["category"] = rule.category
    if rule.keywords:
        out["category_specification"] = list(rule.keywords)
    if rule.keyword_other:
        out["category_specification_other"] = rule.keyword_other
    out["territorial_scope"] = list(options.territorial_scope)
    out["content_date"] = _date(r.content_at or r.at)
    out["application_date"] = _date(r.at)
    out["decision_facts"] = _bounded(facts or _facts(r), 5000)
    notice = r.source_report is not None or r.category in _DETECTED_BY_NOTICES
    out["source_type"] = "SOURCE_ARTICLE_16" if notice else "SOURCE_VOLUNTARY"
    out["automated_detection"] = "Yes" if detected_automatically(r) else "No"
    out["automated_decision"] = automated or (
        "AUTOMATED_DECISION_FULLY" if r.automatic else "AUTOMATED_DECISION_NOT_AUTOMATED"
    )
    out["puid"] = puid or f"parley-ban-{r.ban_id}"
    return out


def _appeal_statement(a: AppealOutcome, options: StatementOptions) -> dict[str, Any]:
    """The restriction as the appeal left it: upheld as it was, or ended the day it was lifted
    (the database cannot amend a statement, so the outcome is a statement of its own)."""
    r = a.restriction
    lifted = a.decision == "lifted"
    outcome = (
        f"lifted it on {_date(a.at)}; the restriction ended then"
        if lifted
        else f"upheld it on {_date(a.at)}"
    )
    facts = (
        f"On appeal, a moderator reviewed the decision of {_date(r.at)} (statement "
        f"parley-ban-{r.ban_id}) and {outcome}. Reasons given to the person: {a.reason}\n\n"
        f"The decision appealed: {_facts(r)}"
    )
    return _statement(
        r,
        options,
        puid=f"parley-appeal-{a.appeal_id}",
        ends_at=a.at if lifted else r.ends_at,
        ended=True,
        # A person confirmed or undid what a machine decided: partly automated.
        automated=(
            "AUTOMATED_DECISION_PARTIALLY" if r.automatic else "AUTOMATED_DECISION_NOT_AUTOMATED"
        ),
        facts=facts,
    )


def _facts(r: Restriction) -> str:
    if r.automatic:
        origin = _AUTOMATIC_FACTS.get(r.actor, "Automatic decision.")
    elif r.source_report is not None:
        origin = f"A moderator's decision on a user's report ({r.source_report})."
    elif r.flag is not None:
        kind = f", {r.flag_kind}" if r.flag_kind else ""
        origin = f"A moderator's decision on an automatic flag ({r.flag}{kind})."
    else:
        origin = "A moderator's decision."
    refs = [ref for ref in (r.source_report, r.flag) if ref and r.automatic]
    if refs:
        origin += f" Item: {', '.join(refs)}."
    if r.address_too:
        origin += " The network address the person used was banned too, for a shorter time."
    duration = (
        f"The ban lasts until {_date(r.ends_at)}."
        if r.ends_at is not None
        else "The ban is permanent."
    )
    return f"{origin} {duration} Reasons given to the person: {r.reason}"


def _content_types(pool: str | None) -> tuple[str, ...]:
    """A chat's content: text, and video in a video pool ("band:mode:language")."""
    parts = (pool or "").split(":")
    if len(parts) >= 2 and parts[1] == "video":
        return ("CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO")
    return ("CONTENT_TYPE_TEXT",)


def _date(value: datetime) -> str:
    """The day in UTC, as the database takes it (YYYY-MM-DD)."""
    return value.astimezone(UTC).date().isoformat()


def _bounded(text: str, limit: int) -> str:
    text = text.strip() or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def batches(
    statements: AsyncIterable[dict[str, Any]], size: int = BATCH_LIMIT
) -> AsyncIterator[dict[str, list[dict[str, Any]]]]:
    """Request bodies for ``POST /api/v1/statements``: ``{"statements": [...]}``, at most
    ``size`` (1 to 100) each, as the statements are read (a year of them need not fit in
    memory)."""
    if not 1 <= size <= BATCH_LIMIT:
        raise ValueError(f"a batch holds 1 to {BATCH_LIMIT} statements")
    batch: list[dict[str, Any]] = []
    async for s in statements:
        batch.append(s)
        if len(batch) == size:
            yield {"statements": batch}
            batch = []
    if batch:
        yield {"statements": batch}


async def statements(
    store: Store,
    options: StatementOptions,
    *,
    since: datetime | None,
    until: datetime | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """The statement of every decision made in ``[since, until)``, oldest first."""
    async for d in decisions(store, since=since, until=until):
        yield statement(d, options)


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a request body (a batch), ``sor_schema.json``."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded
