"""Helpers for the known-image tests (no tests here): generated pictures whose PDQ hashes make
a list, near-duplicates of them, ``parley hashes`` as a subprocess, and waiting for a node to
have loaded a list.

- ``KNOWN``: three generated pictures (Pillow shapes); ``known_list_file(dir)`` writes their
  PDQ hashes, one per line, as an operator's list file would hold them;
- ``near_duplicate(image)``: cropped 1% on every side, scaled to 75%, re-encoded at quality 50;
- ``UNRELATED``: a generated picture far from all of them;
- ``hashes_cli(data_dir, ...)``: ``parley hashes ...`` against that data directory;
- ``hash_server_env(**extra)``: a vision server (test classifier ``never``) that looks for list
  changes every 0.2 s;
- ``until_list_loaded(handle, name, entries)``: waits for the node's
  ``parley_hash_list_entries`` gauge.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from PIL import Image

from harness.server import ServerHandle, cli_env
from harness.stills import jpeg, shapes
from parley.safety.pdq import pdq_of

TESTS_DIR = Path(__file__).resolve().parent.parent
KNOWN = [shapes(i, 320, 240) for i in range(3)]
UNRELATED = shapes(9, 320, 240)


def near_duplicate(image: Image.Image) -> bytes:
    """A re-shared copy: cropped by 1% on every side, scaled to 75%, JPEG quality 50. (PDQ is
    not made for larger crops: 3% on every side moves these pictures 44-60 bits.)"""
    w, h = image.size
    cropped = image.crop((w // 100, h // 100, w - w // 100, h - h // 100))
    smaller = cropped.resize((cropped.width * 3 // 4, cropped.height * 3 // 4))
    return jpeg(smaller, quality=50)


def known_list_file(folder: Path, name: str = "known.txt") -> Path:
    path = folder / name
    lines = [pdq_of(jpeg(image, quality=90)).hex for image in KNOWN]
    path.write_text("# generated test pictures\n" + "\n".join(lines) + "\n")
    return path


def hashes_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", "hashes", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, env=cli_env(),
    )  # fmt: skip


def hash_server_env(**extra: object) -> dict[str, object]:
    """A server with vision on (the ``never`` test classifier: only hash matches act) that
    reads the lists every 0.2 s."""
    path = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        "PARLEY_VISION": "on",
        "PARLEY_VISION_CLASSIFIER": "harness.vision_plugins:never"
        if (TESTS_DIR / "harness" / "vision_plugins.py").exists()
        else "vision_plugins:never",
        "PARLEY_VISION_WORKERS": 1,
        "PARLEY_HASH_LIST_POLL": 0.2,
        "PYTHONPATH": os.pathsep.join(path),
        **extra,
    }


def list_entries(handle: ServerHandle, name: str) -> float | None:
    text = httpx.get(f"{handle.url}/metrics", timeout=5).text
    found = re.search(
        rf'^parley_hash_list_entries\{{list="{re.escape(name)}"\}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else None


async def until_list_loaded(
    handle: ServerHandle, name: str, entries: int | None, within: float = 15.0
) -> None:
    """Wait until the node matches against list ``name`` with ``entries`` hashes (None: until
    it has dropped the list)."""
    want = None if entries is None else float(entries)
    async with asyncio.timeout(within):
        while await asyncio.to_thread(list_entries, handle, name) != want:  # noqa: ASYNC110 -- server state, over HTTP
            await asyncio.sleep(0.1)
