"""Test harness for Parley: component probes, a real server in a subprocess, a WebSocket client.

- ``components``: ``require()`` (skip normally, fail under ``CI=true``) and probes for chromium,
  redis, PostgreSQL, coturn and loopback network namespaces.
- ``server``: ``start_server()`` / ``ServerHandle``, a real ``parley serve`` in a subprocess.
- ``services``: test-owned redis-server and coturn instances.
- ``client``: an async protocol client (``connect``, ``Client``, ``pair``).
"""
