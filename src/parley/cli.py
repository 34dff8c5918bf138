"""The ``parley`` command line: ``parley serve`` runs the service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from parley import logs
from parley.config import Settings
from parley.gc_policy import GcPolicy, apply_gc_policy
from parley.store.values import HASH_LIST_CATEGORIES

if TYPE_CHECKING:
    import uvicorn

    from parley.store import Store

log = logging.getLogger("parley")
T = TypeVar("T")
#: What uvicorn exits with when the app or the socket fails at start-up.
STARTUP_FAILURE = 3

_SERVE_FLAGS = {
    "host": "address to listen on",
    "port": "port to listen on (0 picks a free one)",
    "broker_url": "memory:// (one process), or redis://host:port/db or "
    "redis+sentinel://host1:26379,host2:26379/service/db (many nodes)",
    "database_url": "SQLAlchemy URL; empty means SQLite under the data directory",
    "data_dir": "directory for the SQLite file and the generated secret",
    "interest_fallback": "seconds to wait for a shared interest before matching anyone",
    "language_wait": "seconds before 'any language' also meets other languages",
    "max_message_chars": "longest chat line",
    "heartbeat_timeout": "seconds of silence before a connection is dropped",
    "log_level": "debug, info, warning or error",
    "log_format": "auto (text on a terminal, else json), json or text",
}


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket before uvicorn starts, so the first log line can give the real
    address (with port 0, the port the kernel picked). uvicorn listens on it once the app is up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def listen_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k in _SERVE_FLAGS if (v := getattr(args, k, None)) is not None}
    settings = Settings(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    import uvicorn

    from parley.app import create_app, runtime_of
    from parley.safety.policy import DECLARED_WARNING, OPEN_MINOR_POOL_WARNING

    try:
        app = create_app(settings)
    except (ValueError, OSError) as exc:  # inconsistent age settings, unreadable keys or secret
        log.error("cannot start: %s (`parley check` lists every problem with what to do)", exc)
        return STARTUP_FAILURE
    try:
        sock = _listen(settings.host, settings.port)
    except OSError as exc:
        log.error("cannot listen on %s port %d: %s", settings.host, settings.port, exc)
        return STARTUP_FAILURE
    url = listen_url(sock)
    log.info("listening on %s", url, extra={"url": url})
    if settings.age_assurance == "declared":
        log.warning(DECLARED_WARNING)
        if settings.minor_pool_open:
            log.warning(OPEN_MINOR_POOL_WARNING)
    _warn_if_metrics_public(settings)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_size,
        ws_per_message_deflate=False,  # halves memory per socket; chat lines are tiny
        ws_ping_interval=None,  # the gateway runs its own heartbeat
        ws_ping_timeout=None,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_config=None,
        access_log=False,  # access logs would record IP addresses
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    side = _metrics_server(settings, runtime_of(app).metrics_app)
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=config.get_loop_factory()) as runner,
    ):
        runner.run(_run(server, side, sock, settings.gc_policy()))
    return 0 if server.started else STARTUP_FAILURE


def _warn_if_metrics_public(settings: Settings) -> None:
    from parley.metrics_http import is_loopback

    if settings.metrics_token:
        return
    bind = settings.metrics_address()
    host = settings.host if bind is None else bind[0]
    if not is_loopback(host):
        log.warning(
            "/metrics is public on %s: anyone can read the operators' figures. Set "
            "PARLEY_METRICS_TOKEN, or PARLEY_METRICS_BIND to a loopback address (README, "
            "Configuration)",
            host,
        )


def _metrics_server(settings: Settings, metrics_app: object) -> uvicorn.Server | None:
    """The operators' listener for /metrics (``PARLEY_METRICS_BIND``), or None."""
    import uvicorn

    address = settings.metrics_address()
    if address is None:
        return None

    class _Side(uvicorn.Server):
        # The public server owns the signals; this one stops when that one has stopped.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    host, port = address
    config = uvicorn.Config(
        metrics_app,  # type: ignore[arg-type]
        host=host,
        port=port,
        lifespan="off",  # the public app's lifespan opens and closes what /metrics reads
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    return _Side(config)


async def _started(server: uvicorn.Server) -> bool:
    """Wait until ``server`` has run its lifespan and listens (True), or is stopping (False)."""
    while not server.started:
        if server.should_exit:
            return False
        await asyncio.sleep(0.05)
    return True


async def _run(
    server: uvicorn.Server, side: uvicorn.Server | None, sock: socket.socket, gc: GcPolicy
) -> None:
    """Serve the public app; once it has started (its lifespan opened the store /metrics reads
    and imported what it imports lazily), apply the GC policy and start the metrics listener."""

    async def when_started() -> None:
        if not await _started(server):
            return
        state = apply_gc_policy(gc)
        log.info(
            "gc policy %s: thresholds %s, %d objects frozen",
            state.policy,
            ",".join(map(str, state.thresholds)),
            state.frozen,
            extra={
                "gc_policy": state.policy,
                "gc_thresholds": list(state.thresholds),
                "gc_frozen": state.frozen,
            },
        )
        if side is not None:
            await side.serve()

    started_task = asyncio.create_task(when_started())
    try:
        with sock:
            await server.serve(sockets=[sock])
    finally:
        server.should_exit = True  # a server that failed to start never set it
        if side is not None:
            side.should_exit = True
        await started_task


def _settings_for_store(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k in ("database_url", "data_dir") if (v := getattr(args, k, None))}
    settings = Settings(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    return settings


def _with_store(settings: Settings, run: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, give it to ``run``, and close it whatever happens: what every command
    that reads or writes the database does, from synchronous code."""
    from parley.storage import open_store

    async def opened() -> T:
        store = await open_store(settings)
        try:
            return await run(store)
        finally:
            await store.close()

    return asyncio.run(opened())


def _purge(args: argparse.Namespace) -> int:
    """Apply the retention policy once; print what was removed as JSON."""
    settings = _settings_for_store(args)

    async def run(store: Store) -> dict[str, int | bool]:
        report = await store.purge(
            retention_days=settings.retention_days,
            legal_hold_days=settings.legal_hold_days,
        )
        return report.as_dict()

    print(json.dumps(_with_store(settings, run), sort_keys=True))
    return 0


def _moderator(args: argparse.Namespace) -> int:
    """``parley moderator add NAME --role R`` prints a one-time password; ``list``;
    ``reset NAME`` prints a new one-time password (the account's live sessions end at their next
    request: ``moderation.auth.stamp``); ``remove NAME``."""
    from parley.moderation.auth import hash_password, new_password
    from parley.store import StoreError

    settings = _settings_for_store(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def run(store: Store) -> int:
        try:
            if args.action == "list":
                for m in await store.list_moderators():
                    print(f"{m.name}\t{m.role.value}")
                return 0
            if args.action == "remove":
                return 0 if await store.delete_moderator(args.name, actor="cli") else 1
            password = new_password()
            if args.action == "add":
                await store.add_moderator(
                    args.name, role=args.role, password_hash=hash_password(password), actor="cli"
                )
            elif not await store.set_moderator_password(
                args.name, hash_password(password), actor="cli"
            ):
                print(f"no moderator named {args.name!r}", file=sys.stderr)
                return 1
            print(password)
            return 0
        except StoreError as exc:
            print(f"parley moderator: {exc}", file=sys.stderr)
            return 1

    return _with_store(settings, run)


def _hashes(args: argparse.Namespace) -> int:
    """``parley hashes import FILE --list NAME`` loads PDQ hashes of known abuse images into a
    list (made if new); ``list``; ``remove NAME``. Every node applies a change within
    ``PARLEY_HASH_LIST_POLL`` seconds, without a restart (docs/moderation.md, "Known images")."""
    from parley.hash_files import HashFileError, read_hash_file
    from parley.store import StoreError

    settings = _settings_for_store(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.action == "import":
        if not args.list or not args.name:
            print("parley hashes import: give a FILE and --list NAME", file=sys.stderr)
            return 2
        try:
            read = read_hash_file(Path(args.name))
        except HashFileError as exc:
            print(f"parley hashes import: {exc}", file=sys.stderr)
            return 1
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(read.skipped.items()))
        if read.bad_lines:
            skipped += f" (lines {', '.join(map(str, read.bad_lines))}...)"
        if not read.entries:
            print(
                f"parley hashes import: no PDQ hash in the file; skipped {skipped}",
                file=sys.stderr,
            )
            return 1
    elif args.action == "remove" and not args.name:
        print("parley hashes remove: give the list's NAME", file=sys.stderr)
        return 2

    async def run(store: Store) -> int:
        try:
            if args.action == "list":
                for h in await store.hash_lists():
                    print(f"{h.name}\t{h.category}\t{h.entries}\t{h.updated_at.isoformat()}")
                return 0
            if args.action == "remove":
                if await store.remove_hash_list(args.name, actor="cli"):
                    print(f"removed hash list {args.name}")
                    return 0
                print(f"parley hashes remove: no hash list named {args.name!r}", file=sys.stderr)
                return 1
            done = await store.import_hashes(
                args.list, read.entries, actor="cli", category=args.category,
                replace=args.replace,
            )  # fmt: skip
            print(
                f"list {done.list.name} ({done.list.category}): {done.list.entries} hashes, "
                f"{done.added} new, {done.already} there already; read as {read.shape}"
                + (f"; skipped {skipped}" if skipped else "")
            )
            return 0
        except StoreError as exc:
            print(f"parley hashes: {exc}", file=sys.stderr)
            return 1

    return _with_store(settings, run)


def _moment(text: str) -> datetime:
    """A command-line date (``2025-07-01``) or time (``2025-07-01T12:00:00+02:00``; UTC when
    no offset is given), as an aware datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _transparency(args: argparse.Namespace) -> int:
    """``parley transparency sor`` writes statements of reasons in batches for the EU's DSA
    Transparency Database; ``parley transparency report`` the transparency report's figures."""
    settings = _settings_for_store(args)
    if args.what == "sor" and not 1 <= args.batch_size <= 100:
        print("parley transparency sor: --batch-size is 1 to 100", file=sys.stderr)
        return 2
    if args.what == "report" and args.end < args.start:
        print("parley transparency report: --to is before --from", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    async def run(store: Store) -> int:
        if args.what == "sor":
            return await _statements(store, settings, args, out)
        return await _report(store, args, out)

    return _with_store(settings, run)


async def _statements(
    store: Store, settings: Settings, args: argparse.Namespace, out: Path | None
) -> int:
    """Each batch is a request body for POST /api/v1/statements: one JSON line on stdout, or a
    file ``sor-00001.json`` (and so on) in ``--out``."""
    from parley.transparency.statements import StatementOptions, batches, statements
    from parley.transparency.territory import territorial_scope

    options = StatementOptions(
        territorial_scope(settings.sor_territorial_scope), settings.sor_rules_url.strip()
    )
    found = statements(store, options, since=args.since, until=args.until)
    count = written = 0
    async for body in batches(found, args.batch_size):
        written += 1
        count += len(body["statements"])
        text = json.dumps(body, ensure_ascii=False, sort_keys=True)
        if out is None:
            print(text)
        else:
            (out / f"sor-{written:05d}.json").write_text(text + "\n", encoding="utf-8")
    print(f"{count} statement(s) in {written} batch(es)", file=sys.stderr)
    return 0


async def _report(store: Store, args: argparse.Namespace, out: Path | None) -> int:
    """The figures for ``--from`` to ``--to`` (both days included, UTC): JSON or CSV on stdout,
    or both files in ``--out``."""
    from parley.transparency.report import csv_text, transparency_report

    start = datetime.combine(args.start, time.min, UTC)
    end = datetime.combine(args.end + timedelta(days=1), time.min, UTC)
    figures = await transparency_report(store, start, end)
    as_json = json.dumps(figures, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(as_json if args.format == "json" else csv_text(figures))
        return 0
    name = f"transparency-report-{args.start.isoformat()}-{args.end.isoformat()}"
    (out / f"{name}.json").write_text(as_json, encoding="utf-8")
    (out / f"{name}.csv").write_text(csv_text(figures), encoding="utf-8")
    print(out / f"{name}.json")
    print(out / f"{name}.csv")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Print one line per finding about this configuration; exit 1 when any is an error."""
    from parley import check

    logs.configure("warning", "auto")  # the findings are the output; logs only for trouble
    findings, code = check.check(migrate=args.migrate)
    for finding in findings:
        print(finding.line())
    print(check.summary(findings))
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Meet strangers at random, safely.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service (settings also come from PARLEY_* env)")
    for name, help_text in _SERVE_FLAGS.items():
        field = Settings.model_fields[name]
        kind: type = field.annotation if field.annotation in (int, float) else str  # type: ignore[assignment]
        serve.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=help_text)
    serve.set_defaults(func=_serve)
    purge = sub.add_parser(
        "purge",
        help="apply the retention policy: delete old reports/evidence (legal holds kept >= 1 "
        "year), clear expired bans' IP hashes, rotate the IP hash key",
    )
    purge.add_argument("--database-url", dest="database_url", help=_SERVE_FLAGS["database_url"])
    purge.add_argument("--data-dir", dest="data_dir", help=_SERVE_FLAGS["data_dir"])
    purge.set_defaults(func=_purge)
    chk = sub.add_parser(
        "check",
        help="validate the configuration (PARLEY_* and .env, as serve reads them) before going "
        "live: one line per finding; exit 1 on any error",
    )
    chk.add_argument(
        "--migrate", action="store_true", help="also migrate the database to the head revision"
    )
    chk.set_defaults(func=_check)
    mod = sub.add_parser("moderator", help="manage moderator accounts of the console (/mod)")
    mod.add_argument("action", choices=["add", "reset", "remove", "list"])
    mod.add_argument("name", nargs="?", default="")
    mod.add_argument("--role", choices=["moderator", "admin"], default="moderator")
    mod.add_argument("--database-url", dest="database_url", help=_SERVE_FLAGS["database_url"])
    mod.add_argument("--data-dir", dest="data_dir", help=_SERVE_FLAGS["data_dir"])
    mod.set_defaults(func=_moderator)
    tr = sub.add_parser(
        "transparency",
        help="statements of reasons for the EU's DSA Transparency Database, and the "
        "transparency report (docs/moderation.md, Transparency)",
    )
    what = tr.add_subparsers(dest="what", required=True)
    sor = what.add_parser(
        "sor",
        help="every ban and appeal decision since --since as statements of reasons, in batches "
        "(request bodies of POST /api/v1/statements): one JSON line each, or files in --out",
    )
    sor.add_argument("--since", type=_moment, required=True, help="date or ISO time (UTC)")
    sor.add_argument("--until", type=_moment, help="date or ISO time (UTC), not included")
    sor.add_argument("--batch-size", type=int, default=100, help="statements per batch (1-100)")
    sor.add_argument("--out", help="directory for sor-00001.json, ... (default: stdout)")
    report = what.add_parser(
        "report",
        help="the harmonised transparency report's figures for a period, as JSON and CSV",
    )
    report.add_argument("--from", dest="start", type=_day, required=True, help="first day")
    report.add_argument("--to", dest="end", type=_day, required=True, help="last day (included)")
    report.add_argument("--format", choices=["json", "csv"], default="json", help="on stdout")
    report.add_argument("--out", help="directory: writes both the .json and the .csv there")
    for p in (sor, report):
        p.add_argument("--database-url", dest="database_url", help=_SERVE_FLAGS["database_url"])
        p.add_argument("--data-dir", dest="data_dir", help=_SERVE_FLAGS["data_dir"])
        p.set_defaults(func=_transparency)
    hashes = sub.add_parser(
        "hashes",
        help="manage the lists of PDQ hashes of known abuse images that stills are matched "
        "against (import FILE --list NAME, list, remove NAME)",
    )
    hashes.add_argument("action", choices=["import", "list", "remove"])
    hashes.add_argument("name", nargs="?", default="", help="import: the FILE; remove: the list")
    hashes.add_argument("--list", dest="list", default="", help="import: the list's name")
    hashes.add_argument(
        "--category",
        choices=list(HASH_LIST_CATEGORIES),
        default=None,
        help="what the list holds, the category of the ban a match brings (new lists: "
        f"{HASH_LIST_CATEGORIES[0]})",
    )
    hashes.add_argument(
        "--replace", action="store_true", help="import: the list holds only this file's hashes"
    )
    hashes.add_argument("--database-url", dest="database_url", help=_SERVE_FLAGS["database_url"])
    hashes.add_argument("--data-dir", dest="data_dir", help=_SERVE_FLAGS["data_dir"])
    hashes.set_defaults(func=_hashes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        result: int = args.func(args)
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        from parley.check import settings_errors

        for finding in settings_errors(exc):  # a line per bad setting, not a traceback
            print(f"parley {args.command}: {finding.message}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
