"""PDQ hashes of stills, the two indexes that find the nearest list entry, and the files a list
comes in (parley/safety/pdq.py, parley/safety/hash_index.py, parley/hash_files.py).

No server here; the whole path (a still in, a ban out) is in tests/server/test_known_images.py.
"""

from __future__ import annotations

import io

import numpy as np
import pdqhash
import pytest
from PIL import Image

from harness.stills import fake_camera, flat, jpeg, noise, shapes
from parley.hash_files import HashFileError, parse_hash_text
from parley.safety.hash_index import (
    MULTI_INDEX_FROM,
    LinearIndex,
    MultiIndex,
    index_for,
)
from parley.safety.pdq import UnhashableImage, distance, parse_hex, pdq_of

KNOWN = [shapes(i, 320, 240) for i in range(3)]


def near_duplicate(image: Image.Image) -> bytes:
    """Cropped by 1% on every side, scaled to 75% and re-encoded at JPEG quality 50: what a
    re-shared copy of a picture looks like. (PDQ is not made for larger crops: 3% on every side
    already moves these pictures 44-60 bits.)"""
    w, h = image.size
    cropped = image.crop((w // 100, h // 100, w - w // 100, h - h // 100))
    smaller = cropped.resize((cropped.width * 3 // 4, cropped.height * 3 // 4))
    return jpeg(smaller, quality=50)


# ---- PDQ -----------------------------------------------------------------------------------


def test_near_duplicates_are_within_the_default_distance_and_unrelated_pictures_are_far() -> None:
    originals = [pdq_of(jpeg(image, quality=90)) for image in KNOWN]
    for image, original in zip(KNOWN, originals, strict=True):
        copy = pdq_of(near_duplicate(image))
        assert copy.quality >= 50 and original.quality >= 50
        assert distance(original.digest, copy.digest) <= 31
    unrelated = [pdq_of(jpeg(fake_camera(7))), pdq_of(jpeg(noise())), pdq_of(jpeg(shapes(9)))]
    for other in unrelated:
        assert min(distance(other.digest, o.digest) for o in originals) > 64


def test_the_hex_form_is_the_one_threatexchange_and_hma_print() -> None:
    """Their hasher joins pdqhash's bit vector into a binary string and prints it as 64 hex
    digits, most significant bit first; ours packs the same bits the same way."""
    image = jpeg(KNOWN[0])
    with Image.open(io.BytesIO(image)) as decoded:
        bits, quality = pdqhash.compute(np.asarray(decoded.convert("RGB")))
    as_they_print = format(int("".join(str(int(b)) for b in bits), 2), "064x")
    ours = pdq_of(image)
    assert ours.hex == as_they_print
    assert ours.quality == quality
    assert parse_hex(ours.hex.upper()) == ours.digest


def test_a_flat_picture_has_low_quality() -> None:
    assert pdq_of(jpeg(flat())).quality < 50


def test_bad_bytes_and_bad_hex_are_refused() -> None:
    with pytest.raises(UnhashableImage):
        pdq_of(b"\xff\xd8\xff\xe0 not really a jpeg")
    for bad in ("", "ab" * 31, "zz" * 32, "ab" * 33):
        with pytest.raises(ValueError):
            parse_hex(bad)


# ---- the indexes ---------------------------------------------------------------------------


def flipped(digest: bytes, bits: list[int]) -> bytes:
    out = bytearray(digest)
    for bit in bits:
        out[bit // 8] ^= 1 << (7 - bit % 8)
    return bytes(out)


def spread(d: int) -> list[int]:
    """``d`` bit positions spread as evenly as possible over the 16 chunks of 16 bits: the
    hardest case for the multi-index (every chunk differs by as much as it can)."""
    return [chunk * 16 + k for k in range(16) for chunk in range(16)][:d]


@pytest.mark.parametrize("index_class", [LinearIndex, MultiIndex])
def test_the_match_distance_is_inclusive_and_exact(index_class: type) -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    index = index_class(hashes)
    target = hashes[1234].tobytes()
    for d in (0, 1, 15, 16, 17, 30, 31):
        found = index.nearest(flipped(target, spread(d)), 31)
        assert found is not None and (found.position, found.distance) == (1234, d), d
    assert index.nearest(flipped(target, spread(32)), 31) is None
    assert index.nearest(flipped(target, spread(32)), 32) is not None  # the setting moves it
    assert index.nearest(flipped(target, spread(40)), 47) is not None  # radius 2 per chunk


def test_both_indexes_give_the_same_answers() -> None:
    rng = np.random.default_rng(11)
    hashes = rng.integers(0, 256, (30_000, 32), dtype=np.uint8)
    linear, multi = LinearIndex(hashes), MultiIndex(hashes)
    for _ in range(300):
        row = int(rng.integers(len(hashes)))
        bits = [int(b) for b in rng.choice(256, int(rng.integers(0, 45)), replace=False)]
        for query in (flipped(hashes[row].tobytes(), bits), rng.bytes(32)):
            a, b = linear.nearest(query, 31), multi.nearest(query, 31)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert a.distance == b.distance
                assert distance(hashes[b.position].tobytes(), query) == b.distance


def test_a_degenerate_list_still_answers_right() -> None:
    """Thousands of copies of one hash (all zeros, as broken exports hold) fill one bucket of
    every chunk; the multi-index scans instead, and the answer stays exact."""
    hashes = np.zeros((MULTI_INDEX_FROM * 2, 32), dtype=np.uint8)
    hashes[-1] = 0xFF
    index = MultiIndex(hashes)
    found = index.nearest(bytes(32), 31)
    assert found is not None and found.distance == 0
    near_last = index.nearest(flipped(b"\xff" * 32, [5, 77]), 31)
    assert near_last is not None and (near_last.position, near_last.distance) == (
        len(hashes) - 1,
        2,
    )
    assert index.nearest(flipped(bytes(32), spread(100)), 31) is None


def test_the_index_is_chosen_by_the_list_size() -> None:
    small = np.zeros((MULTI_INDEX_FROM - 1, 32), dtype=np.uint8)
    large = np.zeros((MULTI_INDEX_FROM, 32), dtype=np.uint8)
    assert isinstance(index_for(small), LinearIndex)
    assert isinstance(index_for(large), MultiIndex)
    assert index_for(np.zeros((0, 32), dtype=np.uint8)).nearest(bytes(32), 31) is None


# ---- list files ----------------------------------------------------------------------------

A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
B = "d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22"


def test_plain_hex_one_per_line() -> None:
    read = parse_hash_text(f"# from hashtool256\n\n{A}\n{B.upper()}  photo.jpg\nnot-a-hash\n")
    assert read.shape == "pdq hex, one per line"
    assert read.entries == [(bytes.fromhex(A), None), (bytes.fromhex(B), None)]
    assert read.skipped == {"not a PDQ hash": 1} and read.bad_lines == [5]


def test_threatexchange_dataset_csv() -> None:
    """``threatexchange dataset -P --csv``: only the pdq rows are read."""
    text = (
        "collab,signal_type,signal_str,category,tags\n"
        f"Sample Signals,pdq,{A},WORTH_INVESTIGATING,\n"
        "Sample Signals,video_md5,d41d8cd98f00b204e9800998ecf8427e,WORTH_INVESTIGATING,\n"
        f'Sample Signals,pdq,{B},WORTH_INVESTIGATING,"tag1 tag2"\n'
    )
    read = parse_hash_text(text)
    assert read.shape == "csv with a header"
    assert [e for e, _ in read.entries] == [bytes.fromhex(A), bytes.fromhex(B)]
    assert read.skipped == {"not a PDQ signal": 1}


def test_headerless_indicator_dump_keeps_the_indicator_id() -> None:
    """HMA's sample ``pdq.csv`` and ThreatExchange indicator dumps: hash, id, time, tags."""
    text = (
        f"{A},2880742865368386,2020-07-31T18:47:52+0000,media_priority_pdq_samples disputed\n"
        f"{B},3085240538237227,2020-07-31T18:47:52+0000,media_type_photo\n"
    )
    read = parse_hash_text(text)
    assert read.shape == "csv/tsv without a header"
    assert read.entries == [
        (bytes.fromhex(A), "2880742865368386"),
        (bytes.fromhex(B), "3085240538237227"),
    ]


def test_tsv_with_a_header_and_an_id_column() -> None:
    read = parse_hash_text(f"id\thash\tnote\nx-1\t{A}\tfirst\nx-2\t{B[:-2]}\tshort\n")
    assert read.shape == "tsv with a header"
    assert read.entries == [(bytes.fromhex(A), "x-1")]
    assert read.skipped == {"not a PDQ hash": 1}


@pytest.mark.parametrize(
    "text",
    ["", "# only a comment\n\n", "name,colour\nx,red\n", "hello world\n"],
)
def test_files_that_are_no_hash_list_say_so(text: str) -> None:
    with pytest.raises(HashFileError):
        parse_hash_text(text)
