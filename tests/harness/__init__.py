"""Test harness for Parley: component probes, a real server in a subprocess, a WebSocket client.

- ``components``: ``require()`` (skip normally, fail under ``CI=true``) and probes for chromium,
  redis, PostgreSQL, coturn and loopback network namespaces.
- ``server``: ``start_server()`` / ``ServerHandle``, a real ``parley serve`` in a subprocess;
  ``serve_in_process()`` for an app whose broker is a test's own class.
- ``services``: test-owned redis-server and coturn instances.
- ``stores``: migrated SQLite templates and PostgreSQL schemas for the ``store`` fixture.
- ``client``: an async protocol client (``connect``, ``Client``, ``pair``).
- ``browser``: Playwright helpers for the page (``Person``, ``open_person``, ``pair_up``...).
- ``broker_machine``: the broker's invariants as one hypothesis state machine, for any backend.
"""
