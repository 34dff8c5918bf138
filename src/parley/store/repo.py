"""The store the server talks to: one object with every operation, each named for what it does.

Each concept lives in its own module (blocks, reports, queue, bans, appeals, audit, moderators,
ipkeys, retention, legal, hash_lists); :class:`Store` puts them together over one
:class:`Database`.

Every method that writes commits before it returns: when it returns, the write is durable and
the caller may acknowledge it (docs/design.md, invariant 4).

    store = await Store.open(settings.resolved_database_url, pepper=secret)
    await store.migrate()
    ref = await store.add_report(reporter=..., reported=..., category="harassment", ...)
"""

from __future__ import annotations

from parley.store.admission import Admissions
from parley.store.appeals import Appeals
from parley.store.audit import Audit
from parley.store.bans import Bans
from parley.store.blocks import Blocks
from parley.store.devices import Devices
from parley.store.hash_lists import HashLists
from parley.store.ipkeys import IpKeys
from parley.store.legal import LegalHolds
from parley.store.moderators import Moderators
from parley.store.queue import ModerationQueue
from parley.store.reports import Reports
from parley.store.retention import Retention


class Store(
    Admissions,
    Devices,
    Blocks,
    Reports,
    ModerationQueue,
    Bans,
    Appeals,
    Audit,
    Moderators,
    IpKeys,
    Retention,
    LegalHolds,
    HashLists,
):
    """Persistence for Parley: SQLite (default) or PostgreSQL, chosen by URL."""
