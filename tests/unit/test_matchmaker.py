"""The matching queue on its own: fairness, interests, fallback, exclusions."""

from __future__ import annotations

from parley.broker.base import Ticket
from parley.broker.matchmaker import SKIP_LIMIT, Matchmaker
from parley.pool import Pool


def always(a: Ticket, b: Ticket) -> bool:
    return a.device != b.device


def t(session: str, *interests: str, pool: str = "adult:text:en", device: str = "") -> Ticket:
    return Ticket(session, device or f"d-{session}", Pool.parse(pool), interests)


def test_newcomer_is_matched_with_the_waiting_person_at_once() -> None:
    mm = Matchmaker(always)
    assert mm.add(t("a"), 0) is None
    match = mm.add(t("b"), 1)
    assert match is not None and (match.a.ticket.session, match.b.ticket.session) == ("b", "a")
    assert len(mm) == 0


def test_oldest_of_many_open_waiters_is_chosen() -> None:
    # Waiters that cannot match each other (same device) pile up; a newcomer takes the oldest.
    mm = Matchmaker(always)
    for i in range(5):
        assert mm.add(t(f"w{i}", device="shared"), i) is None
    match = mm.add(t("new"), 10)
    assert match is not None and match.b.ticket.session == "w0"


def test_shared_interest_beats_an_older_stranger() -> None:
    mm = Matchmaker(always)
    mm.add(t("old"), 0)  # no interests, waiting longer
    mm.add(t("chessfan", "chess"), 1)  # has interests: does not match 'old' yet
    assert len(mm) == 2
    match = mm.add(t("me", "chess", "music"), 2)
    assert match is not None
    assert match.b.ticket.session == "chessfan"
    assert match.common == ("chess",)


def test_fallback_opens_the_ticket_in_its_arrival_place() -> None:
    mm = Matchmaker(always)
    assert mm.add(t("a", "chess"), 0) is None
    assert mm.add(t("b", "films"), 1) is None
    assert len(mm) == 2  # no shared interest: both wait
    assert mm.fall_back("b") is None  # b is open now, but a is not yet
    match = mm.fall_back("a")
    assert match is not None and {match.a.ticket.session, match.b.ticket.session} == {"a", "b"}
    assert match.common == ()


def test_pools_never_mix() -> None:
    mm = Matchmaker(always)
    assert mm.add(t("adult"), 0) is None
    assert mm.add(t("minor", pool="minor:text:en"), 1) is None
    assert mm.add(t("video", pool="adult:video:en"), 2) is None
    assert mm.waiting() == {"adult:text:en": 1, "minor:text:en": 1, "adult:video:en": 1}


def test_incompatible_heads_are_skipped_up_to_the_limit() -> None:
    # Only "newcomer" and "far" may meet (think: everyone else blocked them).
    def only_far(a: Ticket, b: Ticket) -> bool:
        return {a.session, b.session} == {"newcomer", "far"}

    mm = Matchmaker(only_far)
    for i in range(SKIP_LIMIT):
        assert mm.add(t(f"w{i}"), i) is None
    assert mm.add(t("far"), 100) is None
    # "far" sits past the skip limit: the newcomer waits rather than scanning the whole queue...
    assert mm.add(t("newcomer"), 101) is None
    # ...and once the head clears, the two are matched by the next operation that looks.
    mm.remove("w0")
    mm.remove("newcomer")
    match = mm.add(t("newcomer"), 102)
    assert match is not None and match.b.ticket.session == "far"


def test_remove_is_idempotent_and_cleans_indexes() -> None:
    mm = Matchmaker(always)
    mm.add(t("a", "chess"), 0)
    assert mm.remove("a") is not None
    assert mm.remove("a") is None
    assert mm.waiting() == {}
    assert mm.add(t("b", "chess"), 1) is None  # nobody left in the chess index
