"""Opening the configured store: URL, IP-hash pepper and schema from settings, migrated to head.

The service, `parley purge` and `parley moderator` all open the database the same way.
"""

from __future__ import annotations

from parley.config import Settings
from parley.keys import load_secret
from parley.store import Store


async def open_store(settings: Settings, secret: bytes | None = None) -> Store:
    pepper = secret if secret is not None else load_secret(settings.secret, settings.data_dir)
    store = await Store.open(
        settings.resolved_database_url, pepper=pepper, schema=settings.database_schema or None
    )
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
