"""``parley check``: a configuration is validated before going live, as a real subprocess.

What an operator relies on: a good configuration exits 0; each broken setting gives an
``error`` line that names it (and what to do) and exit 1, never a traceback; the database and
Redis are really connected to.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from harness.server import free_port
from harness.services import SentinelGroup
from parley import check
from parley.safety.policy import DECLARED_WARNING

pytestmark = pytest.mark.timeout(120)

PARLEY = Path(sys.executable).parent / "parley"  # the console script of this virtualenv
STRONG = secrets.token_hex(32)


@dataclass
class Result:
    code: int
    out: str

    def lines(self, level: str, topic: str) -> list[str]:
        return [ln for ln in self.out.splitlines() if ln.startswith(f"{level:<7} {topic}:")]


def run_check(tmp_path: Path, *args: str, **env: str) -> Result:
    """``parley check ARGS`` in ``tmp_path`` (no .env there) with only the given PARLEY_*."""
    return run_parley(tmp_path, "check", *args, **env)


def run_parley(tmp_path: Path, *args: str, **env: str) -> Result:
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    proc_env["PARLEY_DATA_DIR"] = str(tmp_path / "data")
    proc_env.update(env)
    proc = subprocess.run(
        [str(PARLEY), *args],
        cwd=tmp_path,
        env=proc_env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return Result(proc.returncode, out)


def good_env() -> dict[str, str]:
    return {
        "PARLEY_SECRET": STRONG,
        "PARLEY_TURN_URLS": "turn:127.0.0.1:3478?transport=udp",
        "PARLEY_TURN_SECRET": secrets.token_hex(32),
    }


def public_key_file(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = serialization.Encoding.PEM
    path.write_bytes(key.public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def test_good_configuration_exits_0_once_migrated(tmp_path: Path) -> None:
    fresh = run_check(tmp_path, **good_env())
    assert fresh.code == 0, fresh.out
    assert fresh.lines("warning", "database"), fresh.out  # no database yet: say so, not fail
    assert not (tmp_path / "data" / "parley.db").exists()  # a check does not create it

    migrated = run_check(tmp_path, "--migrate", **good_env())
    assert migrated.code == 0, migrated.out
    assert any("migrated to revision" in ln for ln in migrated.lines("ok", "database"))

    again = run_check(tmp_path, **good_env())
    assert again.code == 0, again.out
    assert not [ln for ln in again.out.splitlines() if ln.startswith(("error", "warning"))]
    assert any("(head)" in ln for ln in again.lines("ok", "database")), again.out
    assert any("relay-only" in ln for ln in again.lines("ok", "video")), again.out
    assert again.out.splitlines()[-1].startswith("0 error(s), 0 warning(s)")


def test_attested_with_loadable_keys_is_ok(tmp_path: Path) -> None:
    keys = public_key_file(tmp_path / "issuer.pem")
    result = run_check(
        tmp_path,
        PARLEY_AGE_ASSURANCE="attested",
        PARLEY_ATTESTATION_KEYS=str(keys),
        PARLEY_ATTESTATION_ISSUER="https://age.example",
        PARLEY_ATTESTATION_AUDIENCE="parley.example",
        **good_env(),
    )
    assert result.code == 0, result.out
    assert any("1 key(s)" in ln for ln in result.lines("ok", "attestation")), result.out


#: (settings, topic, text of the error line): each breaks the configuration on its own.
BROKEN = [
    pytest.param({"PARLEY_PORT": "abc"}, "settings", "PARLEY_PORT='abc'", id="port"),
    pytest.param({"PARLEY_LOG_FORMAT": "xml"}, "settings", "PARLEY_LOG_FORMAT", id="log"),
    pytest.param({"PARLEY_TURN_URLS": "turn:127.0.0.1:3478", "PARLEY_TURN_SECRET": ""},
                 "settings", "must be set together", id="turn-without-secret"),
    pytest.param({"PARLEY_MIN_AGE": "19"}, "age", "min_age", id="min-age-above-adult"),
    pytest.param({"PARLEY_ADULT_MODES": "text,audio"}, "age", "unknown mode", id="modes"),
    pytest.param({"PARLEY_AGE_ASSURANCE": "attested"}, "attestation",
                 "needs PARLEY_ATTESTATION_KEYS", id="attested-without-keys"),
    pytest.param({"PARLEY_AGE_ASSURANCE": "attested",
                  "PARLEY_ATTESTATION_KEYS": "{tmp}/missing.pem",
                  "PARLEY_ATTESTATION_ISSUER": "i", "PARLEY_ATTESTATION_AUDIENCE": "a"},
                 "attestation", "cannot read", id="keys-missing"),
    pytest.param({"PARLEY_AGE_ASSURANCE": "attested",
                  "PARLEY_ATTESTATION_KEYS": "{tmp}/garbage.pem",
                  "PARLEY_ATTESTATION_ISSUER": "i", "PARLEY_ATTESTATION_AUDIENCE": "a"},
                 "attestation", "garbage.pem", id="keys-unreadable"),
    pytest.param({"PARLEY_SECRET": "change-me"}, "secret", "placeholder", id="weak-secret"),
    pytest.param({"PARLEY_SECRET": "s3cr3t"}, "secret", "6 characters", id="short-secret"),
    pytest.param({"PARLEY_TURN_SECRET": "secret"}, "video", "PARLEY_TURN_SECRET",
                 id="weak-turn-secret"),
    pytest.param({"PARLEY_TURN_URLS": "https://turn.example"}, "video", "not a turn:",
                 id="turn-url"),
    pytest.param({"PARLEY_HOST": "0.0.0.0", "PARLEY_FORWARDED_ALLOW_IPS": "*"}, "forwarded",
                 "anyone can send X-Forwarded-For", id="forwarded-star-public"),
    pytest.param({"PARLEY_DATA_DIR": "{tmp}/a-file"}, "data dir", "not a directory",
                 id="data-dir"),
    pytest.param({"PARLEY_DATABASE_URL": "not a url hunter2"}, "database", "not a database URL",
             id="database-garbage"),
pytest.param({"PARLEY_DATABASE_URL": "mysql://u@127.0.0.1/db"}, "database",
                 "cannot open", id="database-unsupported"),
    pytest.param({"PARLEY_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:{port}/db"},
                 "database", "cannot open", id="database-unreachable"),
    pytest.param({"PARLEY_BROKER_URL": "kafka://127.0.0.1"}, "broker", "not supported",
                 id="broker-scheme"),
]  # fmt: skip


def broken_env(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    (tmp_path / "garbage.pem").write_text("not a key\n")
    (tmp_path / "a-file").write_text("")
    port = str(free_port())
    return {k: v.format(tmp=tmp_path, port=port) for k, v in env.items()}


@pytest.mark.parametrize(("env", "topic", "expected"), BROKEN)
def test_each_broken_setting_alone_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], topic: str, expected: str
) -> None:
    """In process (a subprocess each would take minutes on a loaded machine): the good
    configuration plus this one broken setting gives its error line, and exit code 1."""
    for name in list(os.environ):
        if name.startswith("PARLEY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    values = {"PARLEY_DATA_DIR": str(tmp_path / "data"), **good_env()}
    values.update(broken_env(tmp_path, env))
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    findings, code = check.check()
    lines = [f.line() for f in findings]
    assert code == 1, lines
    assert any(ln.startswith(f"error   {topic}:") and expected in ln for ln in lines), lines
    assert not any("hunter2" in ln for ln in lines)  # a password in a URL is never shown


def test_broken_settings_as_a_subprocess(tmp_path: Path) -> None:
    """The command itself: invalid values are a clear line each (never a traceback), and the
    checks that can run all report together."""
    invalid = run_check(tmp_path, PARLEY_PORT="abc", PARLEY_LOG_FORMAT="xml", **good_env())
    assert invalid.code == 1, invalid.out
    assert any("PARLEY_PORT='abc'" in ln for ln in invalid.lines("error", "settings"))
    assert any("PARLEY_LOG_FORMAT='xml'" in ln for ln in invalid.lines("error", "settings"))

    env = broken_env(
        tmp_path,
        {
            "PARLEY_MIN_AGE": "19",
            "PARLEY_SECRET": "change-me",
            "PARLEY_HOST": "0.0.0.0",
            "PARLEY_FORWARDED_ALLOW_IPS": "*",
            "PARLEY_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:{port}/db",
        },
    )
    broken = run_check(tmp_path, **{**good_env(), **env})
    assert broken.code == 1, broken.out
    for topic in ("age", "secret", "forwarded", "database"):
        assert broken.lines("error", topic), broken.out
    assert "hunter2" not in broken.out


def test_a_database_migrated_by_a_newer_version_is_an_error(tmp_path: Path) -> None:
    assert run_check(tmp_path, "--migrate", **good_env()).code == 0
    with sqlite3.connect(tmp_path / "data" / "parley.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    result = run_check(tmp_path, **good_env())
    assert result.code == 1, result.out
    assert any("9999_from_the_future" in ln for ln in result.lines("error", "database"))


def test_public_host_warnings_name_what_to_do(tmp_path: Path) -> None:
    """Listening on every interface with declared ages, the default proxy trust and no TURN:
    the service would run, so these are warnings (exit 0), each saying what to change."""
    env = {**good_env(), "PARLEY_HOST": "0.0.0.0", "PARLEY_TURN_URLS": "", "PARLEY_TURN_SECRET": ""}
    result = run_check(tmp_path, **env)
    assert result.code == 0, result.out
    assert f"warning age: {DECLARED_WARNING}" in result.out.splitlines()
    assert any("PARLEY_FORWARDED_ALLOW_IPS" in ln for ln in result.lines("warning", "forwarded"))
    assert any("no TURN server" in ln for ln in result.lines("warning", "video"))
    assert result.lines("warning", "metrics"), result.out


def test_unreachable_redis_is_an_error(tmp_path: Path) -> None:
    closed = free_port()
    result = run_check(tmp_path, PARLEY_BROKER_URL=f"redis://127.0.0.1:{closed}/0", **good_env())
    assert result.code == 1, result.out
    assert any(f"127.0.0.1:{closed}" in ln for ln in result.lines("error", "broker")), result.out


def test_reachable_redis_is_ok(tmp_path: Path, redis_url: str) -> None:
    result = run_check(tmp_path, PARLEY_BROKER_URL=redis_url, **good_env())
    assert any("answers PING" in ln for ln in result.lines("ok", "broker")), result.out
    assert not result.lines("error", "broker"), result.out


def test_the_primary_is_found_through_the_sentinels(
    tmp_path: Path, sentinel_group: SentinelGroup
) -> None:
    url = sentinel_group.url(sentinel_password="not-shown", prefix="p")
    result = run_check(tmp_path, PARLEY_BROKER_URL=url, **good_env())
    found = f"Redis primary 'parley' at 127.0.0.1:{sentinel_group.primary.port} answers PING"
    assert any(found in ln for ln in result.lines("ok", "broker")), result.out
    assert "3 of 3 Sentinels" in result.out and "not-shown" not in result.out, result.out
    # One Sentinel down: still found, and the operator is told which one.
    sentinel_group.sentinels[0].kill()
    result = run_check(tmp_path, PARLEY_BROKER_URL=url, **good_env())
    assert any(found in ln for ln in result.lines("ok", "broker")), result.out
    silent = f"127.0.0.1:{sentinel_group.sentinels[0].port}"
    assert any(silent in ln for ln in result.lines("warning", "broker")), result.out


@pytest.mark.parametrize(
    ("path", "says"),
    [("/nosuch/0", "names a healthy primary 'nosuch'"), ("", "needs the service name")],
)
def test_a_wrong_sentinel_url_is_an_error(tmp_path: Path, path: str, says: str) -> None:
    url = f"redis+sentinel://:pw-ZQ9x@127.0.0.1:{free_port()}{path}"
    result = run_check(tmp_path, PARLEY_BROKER_URL=url, **good_env())
    assert result.code == 1, result.out
    assert any(says in ln for ln in result.lines("error", "broker")), result.out
    assert "pw-ZQ9x" not in result.out, result.out


def test_several_nodes_without_a_shared_secret_are_warned(tmp_path: Path, redis_url: str) -> None:
    env = {**good_env(), "PARLEY_BROKER_URL": redis_url, "PARLEY_SECRET": ""}
    result = run_check(tmp_path, **env)
    assert result.code == 0, result.out
    assert any("every node" in ln for ln in result.lines("warning", "secret")), result.out


def test_serve_with_a_bad_setting_says_which_without_a_traceback(tmp_path: Path) -> None:
    result = run_parley(tmp_path, "serve", PARLEY_PORT="abc")
    assert result.code == 2, result.out
    assert "parley serve: PARLEY_PORT='abc': Input should be a valid integer" in result.out


def test_serve_with_inconsistent_age_settings_says_why_without_a_traceback(
    tmp_path: Path,
) -> None:
    result = run_parley(tmp_path, "serve", PARLEY_MIN_AGE="20", PARLEY_PORT="0")
    assert result.code == 3, result.out
    assert "cannot start: need 13 <= min_age <= adult_age" in result.out
    assert "parley check" in result.out  # (run_parley also asserts there is no traceback)
