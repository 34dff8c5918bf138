"""Moderator accounts: name, role, password hash (argon2id, made by the console), last login,
and whether the password is a one-time one that its owner must change before anything else.

There is no lockout state: login backoff is per address and per name, in memory
(:mod:`parley.moderation.throttle`), so that nobody can lock a moderator out by typing a name.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Executable, delete, select, update
from sqlalchemy.exc import IntegrityError

from parley.store.audit import write_audit
from parley.store.database import Database
from parley.store.errors import InvalidInput, ModeratorExists
from parley.store.models import ModeratorRow
from parley.store.records import Moderator
from parley.store.values import MODERATOR_NAME_PATTERN, Role, moment

_NAME = re.compile(MODERATOR_NAME_PATTERN)


def check_moderator_name(name: str) -> str:
    """The name, or InvalidInput: 1-64 of A-Z a-z 0-9 _ . - and not starting with . or -."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "a moderator's name is 1 to 64 letters, digits, '_', '.' or '-', and does not "
            "start with '.' or '-'"
        )
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {role!r}") from exc


class Moderators(Database):
    async def add_moderator(
        self,
        name: str,
        *,
        role: Role | str,
        password_hash: str,
        actor: str,
        now: datetime | None = None,
    ) -> Moderator:
        """Create an account (ModeratorExists if the name is taken). Writes the audit log."""
        name = check_moderator_name(name.strip())
        now = moment(now)
        try:
            async with self._write() as session:
                row = ModeratorRow(
                    name=name,
                    role=_role(role).value,
                    password_hash=password_hash,
                    created_at=now,
                    must_change_password=True,  # every new account starts with a one-time one
                )
                session.add(row)
                await session.flush()
                write_audit(
                    session,
                    at=now,
                    actor=actor,
                    action="moderator.add",
                    item_type="moderator",
                    item_id=name,
                    details={"role": row.role},
                )
                return Moderator.of(row)
        except IntegrityError as exc:
            raise ModeratorExists(f"a moderator named {name!r} exists") from exc

    async def get_moderator(self, name: str) -> Moderator | None:
        async with self._read() as session:
            row = await session.scalar(select(ModeratorRow).where(ModeratorRow.name == name))
        return Moderator.of(row) if row else None

    async def list_moderators(self) -> list[Moderator]:
        async with self._read() as session:
            rows = await session.scalars(select(ModeratorRow).order_by(ModeratorRow.name))
            return [Moderator.of(row) for row in rows]

    async def set_moderator_role(
        self, name: str, role: Role | str, *, actor: str, now: datetime | None = None
    ) -> bool:
        new = _role(role)
        return await self._change(
            name, {"role": new.value}, actor, "moderator.role", now, {"role": new.value}
        )

    async def set_moderator_password(
        self, name: str, password_hash: str, *, actor: str, now: datetime | None = None
    ) -> bool:
        """A new one-time password (an admin's reset): its owner must change it again."""
        values: dict[str, object] = {"password_hash": password_hash, "must_change_password": True}
        return await self._change(name, values, actor, "moderator.password", now, None)

    async def change_own_password(
        self, name: str, password_hash: str, *, now: datetime | None = None
    ) -> bool:
        """The owner's own choice: no longer a one-time password. Audited with no password (nor
        its hash) in the entry."""
        values: dict[str, object] = {"password_hash": password_hash, "must_change_password": False}
        return await self._change(name, values, name, "moderator.password_change", now, None)

    async def delete_moderator(self, name: str, *, actor: str, now: datetime | None = None) -> bool:
        statement = delete(ModeratorRow).where(ModeratorRow.name == name)
        return await self._audited(name, statement, actor, "moderator.delete", now, None)

    async def record_login_success(self, name: str, *, now: datetime | None = None) -> None:
        async with self._write() as session:
            await session.execute(
                update(ModeratorRow)
                .where(ModeratorRow.name == name)
                .values(last_login_at=moment(now))
            )

    async def _change(
        self,
        name: str,
        values: dict[str, object],
        actor: str,
        action: str,
        now: datetime | None,
        details: dict[str, object] | None,
    ) -> bool:
        statement = update(ModeratorRow).where(ModeratorRow.name == name).values(values)
        return await self._audited(name, statement, actor, action, now, details)

    async def _audited(
        self,
        name: str,
        statement: Executable,
        actor: str,
        action: str,
        now: datetime | None,
        details: dict[str, object] | None,
    ) -> bool:
        """Run a change to one moderator's row; audited if it found the moderator."""
        now = moment(now)
        async with self._write() as session:
            result = await session.execute(statement)
            done = int(getattr(result, "rowcount", 0) or 0) == 1
            if done:
                write_audit(
                    session,
                    at=now,
                    actor=actor,
                    action=action,
                    item_type="moderator",
                    item_id=name,
                    details=details,
                )
        return done
