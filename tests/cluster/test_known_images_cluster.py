"""A hash list imported while two nodes run on one Redis and one database is applied by both
(issue 14): each node reads the lists' versions from the store, whatever the broker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from harness.known_images import (
    KNOWN,
    hash_server_env,
    hashes_cli,
    known_list_file,
    near_duplicate,
    until_list_loaded,
)
from harness.protocol import person
from harness.safety import unique_interest
from harness.stills import b64

if TYPE_CHECKING:
    from conftest import TwoNodes


async def test_a_list_imported_while_nodes_run_is_applied_by_every_node(
    two_nodes: TwoNodes, tmp_path: Path
) -> None:
    _, n0, n1 = two_nodes(**{k: str(v) for k, v in hash_server_env().items()})
    # The list comes in after both nodes started (the CLI writes the shared database).
    done = hashes_cli(n0.data_dir, "import", str(known_list_file(tmp_path)), "--list", "shared")
    assert done.returncode == 0, done.stderr
    for node in (n0, n1):
        await until_list_loaded(node, "shared", len(KNOWN))
    # The sender is on node 1, the partner on node 0: node 1 matches the still.
    topic = unique_interest("hash")
    partner = await person(n0, age=30, mode="video", interests=[topic], fallback=False)
    sender = await person(
        n1, ip="127.0.0.51", age=30, mode="video", interests=[topic], fallback=False
    )
    assert (await partner.start())["type"] == "waiting"
    assert (await sender.start())["type"] == "matched"
    pair_id = (await partner.expect("matched"))["pair"]
    await sender.expect("sample")
    await sender.send("frame", pair=pair_id, jpeg=b64(near_duplicate(KNOWN[0])), id=1)
    assert (await partner.expect(("moderation", "partner_left"), timeout=15))["type"] == (
        "moderation"
    )
    await partner.expect("partner_left", pair=pair_id, timeout=5)
    banned = await sender.expect("banned", timeout=10)
    assert re.search(r"F-[0-9A-Z]{6}", banned["reason"])
    assert await sender.wait_closed() == 4007
