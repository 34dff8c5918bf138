"""``Pool``: the one reader and writer of ``band:mode:language``, the text form that /status,
/metrics, the Redis broker's keys and stored reports carry."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest
from pydantic import ValidationError

from parley.config import Settings
from parley.pool import Band, Pool
from parley.protocol import Mode

MODES: tuple[Mode, ...] = get_args(Mode)


@pytest.mark.parametrize("band", list(Band))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("language", ["en", "id", "zh", "abcdefgh"])
def test_text_form_round_trips(band: Band, mode: Mode, language: str) -> None:
    pool = Pool(band, mode, language)
    text = f"{band.value}:{mode}:{language}"
    assert str(pool) == text
    assert Pool.parse(text) == pool
    assert Pool.parse(str(pool)) == pool


def test_the_text_form_is_the_one_on_the_wire_and_in_redis_keys() -> None:
    pool = Pool.parse("adult:text:en")
    assert (pool.band, pool.mode, pool.language) == (Band.ADULT, "text", "en")
    assert f"p:{{{pool}}}" == "p:{adult:text:en}"  # formatting gives the text form too


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "is not band:mode:language"),
        ("adult", "is not band:mode:language"),
        ("adult:text", "is not band:mode:language"),
        ("adult:text:en:x", "is not band:mode:language"),
        ("adult::text:en", "is not band:mode:language"),
        ("child:text:en", "band 'child' is not one of minor, adult"),
        ("ADULT:text:en", "band 'ADULT'"),
        ("adult:chat:en", "mode 'chat' is not one of"),
        ("adult:Text:en", "mode 'Text'"),
        ("adult:text:", "1 to 8 characters"),
        ("adult:text:abcdefghi", "1 to 8 characters"),
        ("adult:text:EN", "lower case"),
        ("adult:text:e n", "without spaces"),
        ("adult:text:{en}", "'{' or '}'"),
    ],
)
def test_a_bad_pool_string_is_a_clear_value_error(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="pool") as info:
        Pool.parse(text)
    assert why in str(info.value)
    assert repr(text) in str(info.value)  # names the text it could not read


def test_a_pool_is_checked_when_made_directly_too() -> None:
    with pytest.raises(ValueError, match="band"):
        Pool("adult", "text", "en")  # type: ignore[arg-type]  # a str, not a Band
    with pytest.raises(ValueError, match="mode"):
        Pool(Band.ADULT, "chat", "en")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="language"):
        Pool(Band.ADULT, "text", "en:x")


def test_a_pool_is_a_frozen_value() -> None:
    a, b = Pool.parse("minor:video:id"), Pool(Band.MINOR, "video", "id")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Pool.parse("adult:video:id")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.language = "en"  # type: ignore[misc]


def test_what_a_pool_says_about_itself() -> None:
    assert Pool.parse("minor:text:en").minor
    assert not Pool.parse("adult:text:en").minor
    assert Pool.parse("adult:question:en").side == "asker"
    assert Pool.parse("adult:discuss:en").side == "discusser"
    assert Pool.parse("adult:text:en").side is None
    assert Pool.parse("adult:video:en").side is None
    # The asker's and the discussers' pools of one band and language share a room key.
    assert Pool.parse("minor:question:id").room == Pool.parse("minor:discuss:id").room == "minor:id"
    assert Pool.parse("adult:question:id").room != Pool.parse("minor:question:id").room
    assert Pool.parse("adult:question:id").room != Pool.parse("adult:question:en").room


def test_a_language_setting_that_cannot_name_a_pool_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="PARLEY_LANGUAGES: pool language 'e:n'"):
        Settings(languages="en,e:n", _env_file=None)
    assert Settings(languages="en, ID", _env_file=None).language_set == {"en", "id"}
