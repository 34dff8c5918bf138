"""The text filter over a real server, once per language (issue 18): a stranger's contact line
reaches a minor masked, and a grooming conversation brings the minor one safety prompt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.client import Client
from harness.protocol import isolated, matched_pair, own_server, person, waiting
from harness.server import ServerHandle

# Each language: a contact line, and a groomer's lines that cross the threshold together.
CASES = {
    "en": ("add me on snap: kitty_22", ["how old are you?", "are you home alone?",
                                        "don't tell your parents about me"]),
    "id": ("dm aku di tiktok budi.keren", ["umur kamu berapa?", "kamu sendirian di rumah?",
                                           "jangan bilang orang tua kamu ya"]),
    "es": ("mi número es tres uno cinco cinco cinco cero uno dos tres",
           ["¿cuántos años tienes?", "¿estás sola en casa?", "no le digas a nadie"]),
    "hi": ("mera number nau aath saat chhe paanch char teen do ek",
           ["tum kitne saal ki ho", "ghar pe akeli ho?", "mummy papa ko mat batana"]),
}  # fmt: skip


@pytest.fixture(scope="module")
def teen_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    # The minor pool and contact masking for minors are set here, not taken from the defaults,
    # so a later change of a default does not change what this module tests.
    with own_server(
        tmp_path_factory,
        "texti18n",
        PARLEY_AGE_ASSURANCE="declared",
        PARLEY_MINOR_POOL_OPEN=True,
        PARLEY_TEXT_MASK_CONTACTS="minors",
    ) as handle:
        yield handle


async def teens(server: ServerHandle, lang: str) -> tuple[Client, Client, str]:
    hello = isolated(age=15, language=lang)
    a = await waiting(server, **hello)
    b = await person(server, **hello)
    await b.send("start")
    return a, b, await matched_pair(a, b)


@pytest.mark.parametrize("lang", list(CASES))
async def test_contact_line_reaches_the_minor_masked(teen_server: ServerHandle, lang: str) -> None:
    contact, _ = CASES[lang]
    a, b, pair = await teens(teen_server, lang)
    await a.send("message", pair=pair, text=contact)
    assert (await a.expect("notice"))["code"] == "contact_masked"
    got = (await b.expect("message"))["text"]
    assert "[hidden]" in got and got != contact
    for word in ("kitty_22", "budi.keren", "cinco cinco", "saat chhe"):
        assert word not in got


@pytest.mark.parametrize("lang", list(CASES))
async def test_grooming_brings_the_minor_one_safety_prompt(
    teen_server: ServerHandle, lang: str
) -> None:
    _, grooming = CASES[lang]
    a, b, pair = await teens(teen_server, lang)
    for line in grooming:
        await a.send("message", pair=pair, text=line)
        assert (await b.expect("message"))["text"] == line
    assert (await b.expect("notice"))["code"] == "safety_prompt"
    # Once per conversation: a further line arrives with no second prompt before it.
    await a.send("message", pair=pair, text=grooming[0])
    assert (await b.expect("message", strict=True))["text"] == grooming[0]
