"""What the store raises. Everything derives from :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's own errors."""


class InvalidInput(StoreError, ValueError):
    """An argument is out of bounds or malformed; nothing was written."""


class NotFound(StoreError, LookupError):
    """The item, ban, appeal or moderator does not exist."""


class Conflict(StoreError):
    """The write would break a rule of the data; nothing was written."""


class AppealExists(Conflict):
    """This ban already has an appeal (one appeal per ban)."""


class AlreadyDecided(Conflict):
    """The appeal was decided already (possibly by another moderator just now)."""


class ModeratorExists(Conflict):
    """A moderator of that name exists."""


class NotOnLegalHold(Conflict):
    """Only items under legal hold can be exported."""
