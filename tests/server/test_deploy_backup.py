"""docs/deploy.md, "Backups", done as written: ``sqlite3 .backup`` of a running node's database,
restored beside the kept ``secret.key``, and restored without it (what losing the secret means).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from harness import components
from harness.safety import database, dev, hello_refused, person
from harness.server import ServerHandle

if TYPE_CHECKING:
    from conftest import ServerFactory

PERSON_IP, BANNED_IP = "127.0.0.61", "127.0.0.62"


def sqlite3(binary: str, db: Path, command: str) -> str:
    out = subprocess.run(
        [binary, str(db), command], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def restored(backup: Path, secret: Path | None, directory: Path) -> Path:
    """A data directory as an operator restores it: the backup as parley.db, and the secret."""
    directory.mkdir()
    shutil.copyfile(backup, directory / "parley.db")
    if secret is not None:
        shutil.copyfile(secret, directory / "secret.key")
    return directory


async def test_an_online_backup_restores_bans_only_with_the_secret(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    binary = components.require_sqlite3()
    live = server_factory()
    someone = await person(live, ip=PERSON_IP)
    token = someone.device
    await someone.close()
    until = datetime.now(UTC) + timedelta(hours=2)
    reason = "Banned for the backup test: spam links sent to many people. Appeal if mistaken."
    async with database(live) as store:
        address = await store.current_ip_hash(BANNED_IP)
        for target in ({"device": dev(someone)}, {"ip": address}):
            await store.add_ban(
                **target, reason=reason, category="spam", actor="mod:t", ends_at=until
            )

    # The backup, taken while the node runs (its last commits sit in the WAL).
    backup = tmp_path / "parley-backup.db"
    sqlite3(binary, live.data_dir / "parley.db", f".backup '{backup}'")
    assert sqlite3(binary, backup, "PRAGMA integrity_check") == "ok"
    live.stop()

    def node_on(data: Path) -> ServerHandle:
        return server_factory(PARLEY_DATA_DIR=str(data))

    # Restored with its secret: the person's device and the address are still banned.
    kept = node_on(restored(backup, live.data_dir / "secret.key", tmp_path / "kept"))
    await hello_refused(kept, "spam", ip=PERSON_IP, device=token)
    await hello_refused(kept, "spam", ip=BANNED_IP)
    kept.stop()

    # Restored without it: the old token no longer verifies, so the same person gets a new
    # device and the device ban misses; the address hash no longer matches either.
    lost = node_on(restored(backup, None, tmp_path / "lost"))
    again = await person(lost, ip=PERSON_IP, device=token)
    assert again.device and again.device != token
    assert (await person(lost, ip=BANNED_IP)).welcome is not None
