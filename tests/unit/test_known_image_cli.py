"""``parley hashes import FILE --list NAME``, ``list`` and ``remove NAME`` as an operator runs
them (subprocesses on a data directory; no server)."""

from __future__ import annotations

from pathlib import Path

from harness.known_images import KNOWN, hashes_cli, known_list_file
from harness.stills import jpeg
from parley.safety.pdq import pdq_of


def test_import_list_remove(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plain = known_list_file(tmp_path)
    done = hashes_cli(data, "import", str(plain), "--list", "ncmec")
    assert done.returncode == 0, done.stderr
    assert "list ncmec (minor_in_danger): 3 hashes, 3 new" in done.stdout
    assert "pdq hex, one per line" in done.stdout
    # a ThreatExchange CSV into a second list, of another category
    te = tmp_path / "collab.csv"
    first = pdq_of(jpeg(KNOWN[0], quality=90)).hex
    te.write_text(
        "collab,signal_type,signal_str,category,tags\n"
        f"Sample,pdq,{first},WORTH_INVESTIGATING,\n"
        "Sample,url,https://example.org/,WORTH_INVESTIGATING,\n"
        "Sample,pdq,0123,WORTH_INVESTIGATING,\n"
    )
    done = hashes_cli(data, "import", str(te), "--list", "stopncii", "--category", "nudity")
    assert done.returncode == 0, done.stderr
    assert "1 hashes, 1 new" in done.stdout
    assert "skipped 1 not a PDQ hash, 1 not a PDQ signal" in done.stdout
    again = hashes_cli(data, "import", str(plain), "--list", "ncmec")
    assert "3 hashes, 0 new, 3 there already" in again.stdout
    listed = hashes_cli(data, "list")
    assert listed.returncode == 0
    rows = [line.split("\t")[:3] for line in listed.stdout.splitlines()]
    assert rows == [["ncmec", "minor_in_danger", "3"], ["stopncii", "nudity", "1"]]
    assert hashes_cli(data, "remove", "stopncii").returncode == 0
    gone = hashes_cli(data, "remove", "stopncii")
    assert gone.returncode == 1 and "no hash list named 'stopncii'" in gone.stderr
    assert [line.split("\t")[0] for line in hashes_cli(data, "list").stdout.splitlines()] == [
        "ncmec"
    ]


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plain = known_list_file(tmp_path)
    missing = hashes_cli(data, "import", str(tmp_path / "nope.txt"), "--list", "x")
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    junk = tmp_path / "junk.txt"
    junk.write_text("name,colour\nx,red\n")
    refused = hashes_cli(data, "import", str(junk), "--list", "x")
    assert refused.returncode == 1 and "not a list of PDQ hashes" in refused.stderr
    no_hash = tmp_path / "bad.txt"
    no_hash.write_text("signal_str\nabc\n")
    empty = hashes_cli(data, "import", str(no_hash), "--list", "x")
    assert empty.returncode == 1 and "no PDQ hash in the file" in empty.stderr
    no_list = hashes_cli(data, "import", str(plain))
    assert no_list.returncode == 2 and "--list NAME" in no_list.stderr
    bad_name = hashes_cli(data, "import", str(plain), "--list", "../x")
    assert bad_name.returncode == 1 and "a list name is" in bad_name.stderr
    bad_category = hashes_cli(data, "import", str(plain), "--list", "x", "--category", "spam")
    assert bad_category.returncode == 2 and "invalid choice" in bad_category.stderr
    assert hashes_cli(data, "list").stdout == ""  # nothing was made on the way
