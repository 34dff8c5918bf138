"""Shared fixtures for Parley's tests. The machinery lives in ``tests/harness/``.

Fixtures:
    server            session-wide ``parley serve`` (fast heartbeat and interest fallback)
    server_factory    ``server_factory(**env) -> ServerHandle``: own servers, stopped after the test
    redis_url         system Redis at 127.0.0.1:6379, else a test-owned redis-server
    redis_factory     ``redis_factory() -> RedisHandle``: own redis-server (one you may kill)
    sentinel_group    own primary, replica and three Sentinels (``SentinelGroup``)
    two_nodes         ``redis, n0, n1 = two_nodes(**env)``: two nodes on an own redis-server
    postgres_url      ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``
    store             an empty migrated ``Store``, once on SQLite and once on PostgreSQL
    turn_server       coturn on loopback (``TurnHandle``: url, credentials())
    chromium_path     /usr/bin/chromium
    browser           headless Chromium for one test module (helpers: harness.browser)
    loopback_netns    wraps an argv to run in a fresh loopback-only network namespace
    artifacts_dir     tests/artifacts/ (gitignored; CI keeps server logs of failed tests there)

Tests live in one directory per tier, and the directory is what selects them (scripts/test):
    unit/      no Parley server: pure code, or the store / quotas / pipeline on a real component
    server/    one real server (``parley serve`` in a subprocess, or an app served in-process)
               with clients over real HTTP and WebSockets
    browser/   headless Chromium on the page (marked ``browser`` here)
    cluster/   several nodes on one Redis, nginx in front
    webrtc/    WebRTC between browsers, only inside a loopback-only network namespace (marked
               ``browser`` and ``netns`` here; scripts/test runs them under ``unshare -n``,
               elsewhere they skip)

A fixture whose component is missing skips the test, or fails it under ``CI=true``. Under
``CI=true`` any other skip fails too, unless the test is marked ``@pytest.mark.ci_may_skip``.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import harness` from anywhere

from harness import components
from harness.client import close_all
from harness.server import STARTUP_TIMEOUT, ServerHandle, start_server
from harness.services import (
    RedisHandle,
    SentinelGroup,
    TurnHandle,
    start_redis,
    start_sentinel_group,
    start_turn,
    start_two_nodes,
)
from harness.stores import BACKENDS, SharedSchema, SqliteTemplate, migrated_sqlite_template
from parley.store import Store

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytest_plugins = ["pytester"]  # tests/unit/test_harness.py runs pytest on small test files

TESTS = Path(__file__).resolve().parent
ARTIFACTS = TESTS / "artifacts"
#: The marks a tier's directory gives every test in it.
TIER_MARKS: dict[str, tuple[str, ...]] = {"browser": ("browser",), "webrtc": ("browser", "netns")}

#: Environment of the session ``server`` and the default for ``server_factory`` servers.
TEST_SERVER_ENV: dict[str, str] = {
    "PARLEY_HEARTBEAT_INTERVAL": "1",
    "PARLEY_HEARTBEAT_TIMEOUT": "3",
    "PARLEY_INTEREST_FALLBACK": "1",
    # Vision moderation loads a model in one worker process per core: only the servers of the
    # tests about it turn it on (tests/test_vision*.py), the rest start fast.
    "PARLEY_VISION": "off",
    # Exact "online" on the public status and welcome, for the tests that count people; the
    # default rounding (10) is tested in tests/server/test_pages.py.
    "PARLEY_PUBLIC_ONLINE_STEP": "1",
    # Most tests match teens with teens, as a site that opened its minor pool does; the default
    # (closed under `declared`) is tested in tests/unit/test_policy.py and
    # tests/server/test_safety.py.
    "PARLEY_MINOR_POOL_OPEN": "true",
}


# ---- hooks ---------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> Generator[None, pytest.Module | None, pytest.Module | None]:
    """Mark a module by its tier's directory, so that no file has to repeat it."""
    module = yield
    if module is not None and module_path.is_relative_to(TESTS):
        tier = module_path.relative_to(TESTS).parts[0]
        for mark in TIER_MARKS.get(tier, ()):
            module.add_marker(getattr(pytest.mark, mark))
    return module


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List which components this machine has (shown with -q too, unlike the header)."""
    terminalreporter.write_sep("-", "components")
    for line in components.describe():
        terminalreporter.write_line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)  # for fixtures that look at the outcome
    if (
        components.in_ci()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("ci_may_skip") is None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true, which must not skip: {reason}\n"
            "(gate components with harness.components.require(); mark a test that may "
            "legitimately skip with @pytest.mark.ci_may_skip)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if components.in_ci() and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI=true, which must not skip: {reason}"


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(request.node, f"rep_{when}", None) is not None
        and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]


def _keep_logs(handle: ServerHandle, name: str) -> Path:
    dest = ARTIFACTS / "servers" / f"{name}-{handle.port}.log"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(handle.log_path, dest)
    return dest


# ---- servers -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One ``parley serve`` shared by the whole session (in-memory broker, SQLite in a tmp dir).

    Tests must leave it as they found it: no crashing it, no sessions left behind (clients opened
    with harness.client are closed after each test automatically).
    """
    handle = start_server(tmp_path_factory.mktemp("server"), TEST_SERVER_ENV)
    yield handle
    handle.stop()
    _keep_logs(handle, "session-server")


class ServerFactory(Protocol):
    def __call__(
        self, *, extra_args: Sequence[str] = (), startup_timeout: float = ..., **env: object
    ) -> ServerHandle: ...


@pytest.fixture
def server_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """``server_factory(PARLEY_BROKER_URL=..., ...)`` starts a server of the test's own.

    The env starts from ``TEST_SERVER_ENV`` (pass ``NAME=None`` to drop one and get the built-in
    default). ``PARLEY_DATA_DIR`` is a fresh tmp dir unless given: pass ``handle.data_dir`` of an
    earlier server to restart on its data. All of them are stopped after the test; when the test
    failed, their logs are printed and kept under tests/artifacts/servers/.
    """
    handles: list[ServerHandle] = []

    def factory(
        *, extra_args: Sequence[str] = (), startup_timeout: float = STARTUP_TIMEOUT, **env: object
    ) -> ServerHandle:
        workdir = tmp_path / f"server{len(handles)}"
        handle = start_server(
            workdir,
            {**TEST_SERVER_ENV, **env},
            extra_args=extra_args,
            startup_timeout=startup_timeout,
        )
        handles.append(handle)
        return handle

    yield factory
    for handle in handles:
        handle.stop()
    if _failed(request):
        for handle in handles:
            kept = _keep_logs(handle, _safe_name(request.node.nodeid))
            print(
                f"\n---- logs of server {handle.url} (kept in {kept}) ----\n{handle.logs()[-8000:]}"
            )


@pytest.fixture(autouse=True)
def _netns_guard(request: pytest.FixtureRequest) -> None:
    """A test marked ``netns`` runs only inside a loopback-only network namespace.

    scripts/test runs those tests in a second pytest run under ``unshare -n``; anywhere else they
    skip (fail under ``CI=true``) instead of timing out on an ICE that cannot connect.
    """
    if request.node.get_closest_marker("netns") is not None:
        components.require_loopback_only_netns()


@pytest_asyncio.fixture(autouse=True)
async def _harness_guard(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After each test: close its protocol clients; fail it if it killed the session server."""
    yield
    await close_all()
    if "server" in request.fixturenames:
        handle: ServerHandle = request.getfixturevalue("server")
        if not handle.alive():
            pytest.fail(
                f"the session server died during this test (exit {handle.proc.returncode}); "
                f"use server_factory for tests that crash servers\n{handle.logs()[-4000:]}",
                pytrace=False,
            )


# ---- components ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return components.require_chromium()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(request: pytest.FixtureRequest, chromium_path: str) -> AsyncIterator[Browser]:
    """Headless Chromium, one per test module (``harness.browser`` has the page helpers).

    In a module marked ``netns`` (WebRTC) the namespace is checked before paying for a browser,
    and ``expect`` waits longer.
    """
    from harness import browser as pages  # Playwright is only needed by the browser tests

    video = request.node.get_closest_marker("netns") is not None
    if video:
        components.require_loopback_only_netns()
    timeout_ms = pages.VIDEO_TIMEOUT_MS if video else pages.TIMEOUT_MS
    async with pages.launch(chromium_path, timeout_ms=timeout_ms) as launched:
        yield launched


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis URL: the system one when it answers, else one this session starts.

    It may be shared with other users of the machine: use unique key prefixes, never FLUSHALL.
    """
    if components.system_redis_reachable():
        host, port = components.SYSTEM_REDIS
        yield f"redis://{host}:{port}/0"
        return
    binary = components.redis_server_binary()
    components.require(
        "redis",
        binary is not None,
        "no Redis answers at 127.0.0.1:6379 and no redis-server binary to start one "
        "(run scripts/bootstrap as root, or apt-get install redis-server)",
    )
    assert binary is not None
    handle = start_redis(binary, tmp_path_factory.mktemp("redis"))
    yield handle.url
    handle.stop()


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A primary, a replica and three Sentinels of the test's own (``down-after`` 1 s)."""
    binary = components.require_redis_server()
    group = start_sentinel_group(binary, tmp_path / "sentinel-group")
    yield group
    group.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[[], RedisHandle]]:
    """``redis_factory()`` starts a redis-server owned by the test (free to kill or flush)."""
    binary = components.require_redis_server()
    handles: list[RedisHandle] = []

    def factory() -> RedisHandle:
        handle = start_redis(binary, tmp_path / f"redis{len(handles)}")
        handles.append(handle)
        return handle

    yield factory
    for handle in handles:
        handle.stop()


class TwoNodes(Protocol):
    def __call__(self, **env: str) -> tuple[RedisHandle, ServerHandle, ServerHandle]: ...


@pytest.fixture
def two_nodes(
    server_factory: ServerFactory, redis_factory: Callable[[], RedisHandle], tmp_path: Path
) -> TwoNodes:
    """``redis, n0, n1 = two_nodes(**env)``: a Redis of the test's own and two nodes on it that
    share one database and secret (``harness.services.start_two_nodes``)."""

    def start(**env: str) -> tuple[RedisHandle, ServerHandle, ServerHandle]:
        return start_two_nodes(server_factory, redis_factory, tmp_path, **env)

    return start


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """PostgreSQL at 127.0.0.1:5432, database ``test`` (shared: use your own tables/schema)."""
    return components.require_postgres()


# ---- stores (harness/stores.py) ------------------------------------------------------------


@pytest_asyncio.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return await migrated_sqlite_template(tmp_path_factory.mktemp("store-template"))


@pytest_asyncio.fixture(scope="session")
async def shared_schema(postgres_url: str) -> AsyncIterator[SharedSchema]:
    async with SharedSchema.create(postgres_url) as schema:
        yield schema


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> SqliteTemplate | SharedSchema:
    """The SQLite template file, or the shared PostgreSQL schema (only the one a test needs, so
    SQLite tests run where PostgreSQL is missing)."""
    if request.param == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        return template
    shared: SharedSchema = request.getfixturevalue("shared_schema")
    return shared


@pytest_asyncio.fixture
async def store(
    store_backend: SqliteTemplate | SharedSchema, tmp_path: Path
) -> AsyncIterator[Store]:
    """An empty, migrated store, once on SQLite and once on PostgreSQL: a copy of a migrated
    SQLite file, or the shared PostgreSQL schema, emptied."""
    if isinstance(store_backend, SqliteTemplate):
        s = await Store.open(store_backend.copy_to(tmp_path))
    else:
        await store_backend.reset()
        s = await Store.open(store_backend.url, schema=store_backend.name)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[TurnHandle]:
    """coturn on 127.0.0.1 with ``use-auth-secret``; ``turn_server.credentials()`` signs a user."""
    binary = components.require_turnserver()
    handle = start_turn(binary, tmp_path / "turn")
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def loopback_netns() -> Callable[[list[str]], list[str]]:
    """Returns a function wrapping an argv to run in a loopback-only network namespace."""
    components.require_netns()
    return components.loopback_netns_argv
