"""The text filter over the real server: masking for minors, grooming prompts and flags."""

from __future__ import annotations

from typing import Any

from harness.client import Client
from harness.protocol import isolated, matched_pair, person, waiting
from harness.safety import database, dev

GROOMING = [
    "how old are you?",
    "are you home alone right now?",
    "dont tell your parents about me ok",
]


async def teens(server: Any) -> tuple[Client, Client, str]:
    hello = isolated(age=15)
    a = await waiting(server, **hello)
    b = await person(server, **hello)
    await b.send("start")
    return a, b, await matched_pair(a, b)


async def test_contact_details_are_masked_between_minors(server: Any) -> None:
    a, b, pair = await teens(server)
    await a.send("message", pair=pair, text="add me on snap: kitty_22")
    notice = await a.expect("notice")
    assert notice["code"] == "contact_masked"
    got = await b.expect("message")
    assert "kitty_22" not in got["text"] and "[hidden]" in got["text"]
    await a.send("message", pair=pair, text="call me 0812 3456 7890")
    assert "0812" not in (await b.expect("message"))["text"]
    await a.send("message", pair=pair, text="snapchat filters are fun")
    assert (await b.expect("message"))["text"] == "snapchat filters are fun"


async def test_adults_see_contact_details_unchanged(server: Any) -> None:
    hello = isolated(age=30)
    a = await waiting(server, **hello)
    b = await person(server, **hello)
    await b.send("start")
    pair = await matched_pair(a, b)
    await a.send("message", pair=pair, text="my email is sam@example.org")
    assert (await b.expect("message"))["text"] == "my email is sam@example.org"


async def test_grooming_signals_prompt_the_minor_once_and_flag_the_chat(server: Any) -> None:
    a, b, pair = await teens(server)
    await b.send("message", pair=pair, text="hi, I'm bored")
    await a.expect("message")
    for line in GROOMING:
        await a.send("message", pair=pair, text=line)
        assert (await b.expect("message"))["text"] == line
    prompt = await b.expect("notice")
    assert prompt["code"] == "safety_prompt"
    # Once per conversation, not on every further line.
    await a.send("message", pair=pair, text="send me a pic")
    await b.expect("message", strict=True)
    await a.send("message", pair=pair, text="marker")
    assert (await b.expect("message", strict=True))["text"] == "marker"

    async with database(server) as store:
        queue = await store.queue()
        flags = [i for i in queue.items if i.label == "grooming" and i.device == dev(a)]
        assert len(flags) == 1
        item = await store.get_item(flags[0].ref)
        assert item is not None and item.pair_id == pair
        said = [(line["from"], line["text"]) for line in item.transcript]
        assert ("reporter", "hi, I'm bored") in said  # the minor's side
        assert ("reported", GROOMING[-1]) in said  # the flagged side
