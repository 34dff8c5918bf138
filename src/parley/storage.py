"""Opening the configured store: URL, IP-hash pepper and schema from settings, migrated to head.

The service, `parley purge` and `parley moderator` all open the database the same way. The
service composes its app first (:func:`store_for`, no I/O) and connects and migrates in its
lifespan (:func:`prepare`); the commands do both at once (:func:`open_store`).
"""

from __future__ import annotations

from parley.config import Settings
from parley.keys import load_secret
from parley.store import Store


def store_for(settings: Settings, secret: bytes | None = None) -> Store:
    """The configured store, not yet connected."""
    pepper = secret if secret is not None else load_secret(settings.secret, settings.data_dir)
    return Store.connect(
        settings.resolved_database_url, pepper=pepper, schema=settings.database_schema or None
    )


async def prepare(store: Store) -> None:
    """Connect, check, and migrate to head; the store is closed again if any of it fails."""
    try:
        await store.check()
        await store.migrate()
    except BaseException:
        await store.close()
        raise


async def open_store(settings: Settings, secret: bytes | None = None) -> Store:
    store = store_for(settings, secret)
    await prepare(store)
    return store
