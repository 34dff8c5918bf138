"""The Lua scripts' replies read into named fields (``broker.redis_replies``), as Redis hands
them over: a flat list of bytes, the code first, a variable tail last."""

from __future__ import annotations

from parley.broker.redis_replies import (
    Code,
    Found,
    Left,
    Match,
    Queued,
    RoomFormed,
    RoomFound,
    RoomLeft,
    RoomQueued,
    RoomRelayed,
    code,
    read,
)


def test_a_match_names_its_fields_and_the_pair_next_left_first() -> None:
    raw = [b"M", b"p.2", b"s2", b"n2", b"10.5", b"11.5", b"cats\x1fdogs", b"p.1", b"s3", b"n3"]
    m = read(raw, Match)
    assert code(raw) is Code.MATCHED
    assert (m.pair, m.partner, m.partner_node, m.since, m.partner_since, m.common) == (
        "p.2",
        "s2",
        "n2",
        "10.5",
        "11.5",
        "cats\x1fdogs",
    )
    assert m.left() == Left(Code.PAIRED, "p.1", "s3", "n3")
    assert read(raw[:7], Match).left() is None  # FALLBACK's match: nothing left first


def test_queued_and_left() -> None:
    assert read([b"Q", b"1700000000000000"], Queued) == Queued(Code.QUEUED, "1700000000000000")
    assert read([b"Q", b"7", b"p.1", b"s3", b""], Queued).left() == Left(
        Code.PAIRED, "p.1", "s3", ""
    )
    assert read([b"P", b"p.1", b"s2", b"n2"], Left) == Left(Code.PAIRED, "p.1", "s2", "n2")
    assert read([b"N", b""], Left).code is Code.NOT_PAIRED
    assert read([b"Q"], Left) == Left(Code.QUEUED)


def test_a_lookup_keeps_its_lines_in_rest() -> None:
    raw = [b"E", b"a", b"b", b"da", b"db", b'[1.0,"a","hi"]', b'[2.0,"b","yo"]']
    found = read(raw, Found)
    assert found.code is Code.ENDED
    assert (found.a, found.b, found.da, found.db) == ("a", "b", "da", "db")
    assert found.rest == ('[1.0,"a","hi"]', '[2.0,"b","yo"]')
    assert read([b"L", b"a", b"b", b"da", b"db"], Found).rest == ()
    assert read([b"S"], Found) == Found(Code.STALE)


_SEATED = [b"s1", b"n1", b"1.0", b"s2", b"n2", b"2.0", b"s3", b"n1", b"3.0"]
_MEMBERS = [b"s1", b"d1", b"s2", b"d2", b"s3", b"d3"]


def test_room_replies() -> None:
    formed = read(
        [b"M", b"r.1", b"why?", b"teen:question:en", b"teen:discuss:en", *_SEATED],
        RoomFormed,
    )
    assert (formed.room, formed.question, formed.asker_pool) == ("r.1", "why?", "teen:question:en")
    assert len(formed.rest) == 9
    assert read([b"Q", b"9", b"1.5", b"2.5"], RoomQueued).rest == ("1.5", "2.5")
    left = read([b"A", b"r.1", b"asker", b"s2", b"n2", b"s3", b"n1"], RoomLeft)
    assert left.code is Code.ASKER_LEFT and left.rest == ("s2", "n2", "s3", "n1")
    assert read([b"E", b"r.1", b"stranger2"], RoomLeft).code is Code.ROOM_ENDED
    assert read([b"A"], RoomRelayed).code is Code.ASKER  # the asker may only watch
    relayed = read([b"OK", b"stranger1", b"s3", b"n1"], RoomRelayed)
    assert (relayed.seat, relayed.rest) == ("stranger1", ("s3", "n1"))
    found = read(
        [b"L", b"teen:discuss:en", b"why?", b"5.0", *_MEMBERS, b'[6.0,"s2","hi","stranger1"]'],
        RoomFound,
    )
    assert (found.asker, found.stranger2_device, found.asked_at) == ("s1", "d3", "5.0")
    assert found.rest == ('[6.0,"s2","hi","stranger1"]',)
