"""The typed messages between ``redis://`` nodes keep the bytes of the bare tuples they replaced,
so a node of the previous version and one of this version understand each other."""

from __future__ import annotations

import msgspec
import pytest

from parley.broker.redis_envelopes import BanMessage, BlockMessage, Envelope, Kind

_enc = msgspec.json.Encoder()


@pytest.mark.parametrize(
    ("envelope", "old"),
    [
        (
            Envelope(Kind.MATCHED, "s1", "p_x.1", "s2", "node2", '{"type":"matched"}'),
            ("m", "s1", "p_x.1", "s2", "node2", '{"type":"matched"}'),
        ),
        (Envelope(Kind.PARTNER_LEFT, "s1", "p", event="{}"), ("l", "s1", "p", "", "", "{}")),
        (Envelope(Kind.RELAYED, "s1", "p", event="{}"), ("r", "s1", "p", "", "", "{}")),
        (Envelope(Kind.ROOM_ENDED, "s1", "p", event="{}"), ("e", "s1", "p", "", "", "{}")),
        (Envelope(Kind.BARRIER, "token"), ("b", "token", "", "", "", "")),
    ],
)
def test_an_envelope_has_the_bytes_of_the_old_six_tuple(
    envelope: Envelope, old: tuple[str, ...]
) -> None:
    data = _enc.encode(envelope)
    assert data == _enc.encode(old)
    assert msgspec.json.decode(data, type=Envelope) == envelope


def test_bans_and_blocks_have_the_bytes_of_the_old_tuples() -> None:
    ban = BanMessage("node1", "dev", "", '{"type":"banned"}')
    assert _enc.encode(ban) == _enc.encode(("node1", "dev", "", '{"type":"banned"}'))
    assert msgspec.json.decode(_enc.encode(ban), type=BanMessage) == ban
    block = BlockMessage("da", "db")
    assert _enc.encode(block) == _enc.encode(("da", "db"))


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'["z","s","","","",""]', type=Envelope)
