"""The ``alliance-hub`` command line. Every command takes ``--database-url`` (or reads
``HUB_DATABASE_URL``) and exits non-zero with a one-line reason on failure."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from compliance.errors import ComplianceSettingError, ComplianceViolation
from core.config import ConfigError, get_settings
from core.db import Database, UnsupportedDatabase, database_from_settings, utcnow
from ledger.errors import LedgerError
from members.errors import MemberError
from partners.errors import PartnerError
from settlement.errors import SettlementError

T = TypeVar("T")


class CommandFailed(Exception):
    """A command's expected failure: printed as one line, exit status 1."""


def _database() -> Database:
    return database_from_settings()


def _with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the configured database, run ``work`` on it in an event loop, close it."""

    async def run() -> T:
        database = _database()
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _write(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one domain function as one committed unit of work."""
    return _with_database(lambda database: database.write(fn, *args, **kwargs))


def _read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one domain function in a read transaction."""
    return _with_database(lambda database: database.read(fn, *args, **kwargs))


def cmd_migrate(args: argparse.Namespace) -> int:
    from hub.migrate import upgrade
    from hub.oauth2.keys import ensure_signing_key
    from hub.preflight import secret_key_for

    settings = get_settings()
    made_secret = not settings.secret_key

    async def keys(database: Database) -> Any:
        # Before the schema changes: a mismatching key stops here, with nothing changed.
        if await database.read(_has_table, "secret_key_check"):
            await secret_key_for(database, settings, may_create=False)

    if settings.secret_key:
        _with_database(keys)
    upgrade(settings.database_url)

    async def finish(database: Database) -> Any:
        confirmed = await secret_key_for(database, settings, may_create=True)
        await database.write(ensure_signing_key, confirmed.secret_key, utcnow())
        return confirmed

    confirmed = _with_database(finish)
    get_settings.cache_clear()
    print("database migrated to the latest revision")
    if made_secret and confirmed.secret_source == "file":
        from core.config import LOCAL_SECRET_FILE

        where = Path(LOCAL_SECRET_FILE).resolve()
        print(f"secret key kept in {where} (set HUB_SECRET_KEY in production)")
    return 0


def _has_table(session: Any, name: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(session.connection()).has_table(name))


def cmd_demo(args: argparse.Namespace) -> int:
    from hub import demo

    settings = get_settings()
    if not settings.issuer_configured:
        settings = dataclasses.replace(settings, issuer=served_issuer(args.host, args.port))
    lines = _with_database(
        lambda database: demo.run(database, settings, utcnow(), Path(args.credentials).resolve())
    )
    print("\n".join(lines))
    return 0


def cmd_verify_audit(args: argparse.Namespace) -> int:
    from compliance.audit import verify_chain

    count, breaks = _read(verify_chain)
    if not breaks:
        print(f"compliance audit intact: {count} blocked attempts, chain verified")
        return 0
    print(f"compliance audit TAMPERED: {len(breaks)} breaks in {count} rows")
    for found in breaks:
        print(f"  row {found.sequence}: {found.reason}")
    return 1


def cmd_compliance_report(args: argparse.Namespace) -> int:
    from partners.compliance_report import compliance_report

    report = _read(compliance_report, utcnow())
    print(json.dumps(dataclasses.asdict(report), default=str, indent=2))
    return 0


def cmd_aml_cases(args: argparse.Namespace) -> int:
    """AML cases, newest first, one JSON object per line (``--after`` pages on by id)."""
    from compliance.aml import cases_page

    if not 1 <= args.limit <= 1000:
        raise CommandFailed("--limit must be 1 to 1000")
    rows = _read(cases_page, limit=args.limit, before_id=args.after, status=args.status)
    for case in rows[: args.limit]:
        print(json.dumps(dataclasses.asdict(case), default=str))
    if len(rows) > args.limit:
        print(f"more: --after {rows[args.limit - 1].id}", file=sys.stderr)
    return 0


def cmd_aml_resolve(args: argparse.Namespace) -> int:
    from compliance.aml import resolve_case

    case = _write(resolve_case, args.case_id, args.status, args.note, utcnow())
    print(f"case {case.id} {case.status}")
    return 0


def cmd_aml_threshold(args: argparse.Namespace) -> int:
    from compliance.aml import set_threshold

    soft, hard = _write(set_threshold, args.pattern, args.soft, args.hard, utcnow())
    print(f"{args.pattern}: soft {soft}, hard {hard}")
    return 0


class Progress:
    """Progress on a terminal (stderr), nothing when piped."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.live = sys.stderr.isatty()

    def _show(self, text: str) -> None:
        if self.live:
            print(f"\r\033[K{self.label}: {text}", end="", file=sys.stderr, flush=True)

    def step(self, text: str) -> None:
        self._show(text)

    def count(self, done: int, total: int, unit: str = "lines") -> None:
        percent = 100 if not total else done * 100 // total
        self._show(f"{done}/{total} {unit} ({percent}%)")

    def end(self) -> None:
        if self.live:
            print(file=sys.stderr)


def _when(value: str) -> datetime:
    """An ISO 8601 time (UTC when it has no offset), or ``now``."""
    if value == "now":
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise CommandFailed(
            f"{value!r} is not an ISO 8601 time such as 2026-11-01T00:00Z"
        ) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cmd_settlement_open(args: argparse.Namespace) -> int:
    from settlement.periods import open_period

    period = _write(
        open_period,
        cycle=args.cycle,
        starts_at=_when(args.start),
        ends_at=None if args.end is None else _when(args.end),
        now=utcnow(),
    )
    print(
        f"period {period.id}: {period.cycle} [{period.starts_at.isoformat()}, "
        f"{period.ends_at.isoformat()}) {period.status}"
    )
    return 0


def cmd_settlement_list(args: argparse.Namespace) -> int:
    from settlement.periods import periods_page

    for period in _read(periods_page, limit=args.limit, before_id=None)[: args.limit]:
        print(
            f"{period.id}\t{period.cycle}\t{period.starts_at.isoformat()}\t"
            f"{period.ends_at.isoformat()}\t{period.status}"
        )
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from settlement.reconciliation import reconcile

    progress = Progress("reconciling")
    found = _write(reconcile, args.period, utcnow(), progress.step)
    progress.end()
    print(
        f"period {args.period}: {found.matched} matched, {found.missing_in_hub} missing in hub, "
        f"{found.missing_in_partner} missing in partner, {found.amount_mismatch} amount "
        f"mismatch; {found.unresolved} to resolve"
    )
    return 0


def cmd_settlement_resolve(args: argparse.Namespace) -> int:
    """One line (``--line``), or every unresolved line of a period matching the filters."""
    from partners.registry import find_partner
    from settlement.reconciliation import resolve_line, resolve_lines

    if (args.line is None) == (args.period is None):
        raise CommandFailed("give either --line ID or --period ID")
    if args.line is not None:
        line = _write(resolve_line, args.line, args.resolution, args.note, utcnow())
        print(f"line {line.id} {line.status}: {line.resolution}")
        return 0

    async def bulk(database: Database) -> int:
        partner_id = None
        if args.partner is not None:
            partner_id = (await database.read(find_partner, args.partner)).id
        progress, done = Progress("resolving"), 0
        while True:
            batch = await database.write(
                resolve_lines,
                args.period,
                status=args.status,
                partner_id=partner_id,
                resolution=args.resolution,
                note=args.note,
                now=utcnow(),
            )
            done += batch.resolved
            progress.count(done, done + batch.remaining)
            if not batch.remaining or not batch.resolved:
                break
        progress.end()
        return done

    count = _with_database(bulk)
    print(f"period {args.period}: {count} lines resolved as {args.resolution}")
    return 0


def cmd_settlement_close(args: argparse.Namespace) -> int:
    from settlement.closing import close_period

    progress = Progress("closing")
    period = _write(close_period, args.period, utcnow(), progress.step)
    progress.end()
    print(f"period {period.id} CLOSED; operator revenue {period.operator_revenue_fen} fen")
    return 0


def cmd_settlement_export(args: argparse.Namespace) -> int:
    from settlement.export import write_export

    progress = Progress("exporting")

    def run(session: Any) -> int:
        if args.output is None:
            return write_export(session, args.period, sys.stdout, args.format, progress.count)
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            return write_export(session, args.period, out, args.format, progress.count)

    try:
        written = _read(run)
    except BrokenPipeError:
        # The reader stopped early (``| head``): not an error. Keep Python from complaining
        # about the closed pipe while it flushes standard output on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    progress.end()
    if args.output is not None:
        print(f"wrote {written} records to {args.output}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from hub.oauth2.keys import rotate_signing_key

    settings = get_settings()
    kid = _write(rotate_signing_key, settings.secret_key, utcnow())
    minutes = int(settings.access_token_lifetime.total_seconds() // 60)
    print(f"new signing key {kid}; the previous keys verify for {minutes} more minutes")
    return 0


def cmd_partners_add(args: argparse.Namespace) -> int:
    from partners.registry import add_partner

    partner = _write(
        add_partner,
        code=args.code,
        name=args.name,
        legal_entity=args.legal_entity or args.name,
        now=utcnow(),
        kind=args.kind,
    )
    kind = ", a registered charity" if partner.kind == "CHARITY" else ""
    print(f"partner {partner.code} added ({partner.name}{kind})")
    return 0


def cmd_partners_list(args: argparse.Namespace) -> int:
    from partners.registry import list_partners

    rows = _write(list_partners)
    if args.json:
        print(json.dumps([dataclasses.asdict(row) for row in rows], ensure_ascii=False))
        return 0
    for row in rows:
        print(f"{row.code}\t{row.status}\t{row.name}\t{row.legal_entity}")
    return 0


def cmd_partners_suspend(args: argparse.Namespace) -> int:
    from partners.registry import suspend_partner

    partner = _write(suspend_partner, args.code, utcnow())
    print(f"partner {partner.code} suspended; its live tokens no longer work")
    return 0


def _print_client(issued: Any, as_json: bool) -> None:
    shown = {
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        "scope": " ".join(issued.scopes),
        "token_endpoint_auth_method": issued.auth_method,
    }
    if issued.client_secret is None:
        del shown["client_secret"]
    if as_json:
        print(json.dumps(shown))
        return
    for name, value in shown.items():
        print(f"{name}: {value}")
    if issued.client_secret is not None:
        print("the secret is shown once; store it now")


def _read_jwks(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise CommandFailed(f"cannot read a JWK Set from {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise CommandFailed(f"{path} does not hold a JWK Set")
    return loaded


def _create_client(args: argparse.Namespace, partner_code: str | None, scopes: list[str]) -> int:
    from partners.clients import create_client
    from partners.models import AuthMethod

    issued = _write(
        create_client,
        get_settings().secret_key,
        partner_code=partner_code,
        scopes=scopes,
        now=utcnow(),
        auth_method=AuthMethod(args.auth_method),
        jwks=_read_jwks(args.jwks),
    )
    _print_client(issued, args.json)
    return 0


def cmd_clients_create(args: argparse.Namespace) -> int:
    return _create_client(args, args.partner, args.scopes.split())


def cmd_clients_create_app(args: argparse.Namespace) -> int:
    """The alliance's app: a public client (no secret) for members' sign-in, with exact
    redirect URIs."""
    from members.signin import create_app_client

    client_id = _write(
        create_app_client, name=args.name, redirect_uris=args.redirect_uri, now=utcnow()
    )
    shown = {
        "client_id": client_id,
        "redirect_uris": args.redirect_uri,
        "token_endpoint_auth_method": "none",
        "scope": "member:self",
    }
    if args.json:
        print(json.dumps(shown))
    else:
        for name, value in shown.items():
            print(f"{name}: {value}")
    return 0


def cmd_operator_create_client(args: argparse.Namespace) -> int:
    return _create_client(args, None, ["operator:admin"])


def cmd_clients_rotate_secret(args: argparse.Namespace) -> int:
    from partners.clients import rotate_secret

    settings = get_settings()
    issued = _write(
        rotate_secret, settings.secret_key, args.client_id, utcnow(), settings.secret_rotation_grace
    )
    _print_client(issued, args.json)
    return 0


def cmd_clients_revoke(args: argparse.Namespace) -> int:
    from partners.clients import revoke_client

    _write(revoke_client, args.client_id, utcnow())
    print(f"client {args.client_id} revoked; its live tokens no longer work")
    return 0


def served_issuer(host: str, port: int) -> str:
    """Development's issuer: the address actually served (a wildcard host as loopback)."""
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
    shown = wildcard.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def settings_for_serving(host: str, port: int) -> Any:
    """The settings a server at host:port runs with, refused in one line when unusable. In
    development without HUB_ISSUER the issuer follows the served address (os.environ
    carries it to every uvicorn worker)."""
    from hub.oauth2.endpoints import server_metadata

    settings = get_settings()
    refusals = settings.refusals()
    if refusals:
        raise ConfigError(refusals[0])
    if not settings.issuer_configured:
        os.environ["HUB_ISSUER"] = served_issuer(host, port)
        get_settings.cache_clear()
        settings = get_settings()
    try:
        server_metadata(settings)
    except ValueError as error:
        raise ConfigError(f"HUB_ISSUER {settings.issuer!r} cannot be used: {error}") from None
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.logs import log_config

    if not 0 < args.port < 65536:
        raise CommandFailed(f"--port must be 1 to 65535, not {args.port}")
    if args.workers < 1:
        raise CommandFailed(f"--workers must be at least 1, not {args.workers}")
    settings = settings_for_serving(args.host, args.port)
    if args.workers > 1:
        from hub.metrics import prepare_multiprocess

        prepare_multiprocess()
    # uvicorn believes X-Forwarded-For from loopback unless told otherwise, which would let
    # any local caller (or a proxy that passes the header through) pick its own address for
    # the per-address limits and /metrics. The hub believes only the proxies
    # HUB_TRUSTED_PROXIES names.
    trusted = [item.strip() for item in settings.trusted_proxies.split(",") if item.strip()]
    uvicorn.run(
        "hub.app:create_app",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        log_config=log_config(settings.log_format),
        # uvicorn's access log prints query strings, where a careless client may put a
        # secret; the hub's own (hub.logs.AccessLog) prints paths only.
        access_log=False,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:

    from hub.logs import configure_logging
    from hub.worker import WorkerAlreadyRunning, serve

    configure_logging(get_settings().log_format)
    from hub.metrics import process_exits

    try:
        asyncio.run(serve(get_settings(), args.poll_seconds))
    except WorkerAlreadyRunning as error:
        raise CommandFailed(str(error)) from None
    finally:
        process_exits()
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from ledger.verify import verify

    report = _read(verify)
    print("\n".join(report.lines()))
    return 0 if report.clean else 1


def cmd_expire(args: argparse.Namespace) -> int:
    from hub.oauth2.housekeeping import purge_expired
    from members.holds import expire_lapsed_lots, void_lapsed_holds
    from members.housekeeping import purge_abandoned

    now = utcnow()

    async def sweep(database: Database) -> tuple[int, int, int, int, int]:
        """Batches, one transaction each, until nothing lapsed is left."""
        voided = members = points = 0
        while batch := await database.write(void_lapsed_holds, now, args.batch_size):
            voided += batch
        while (expired := await database.write(expire_lapsed_lots, now, args.batch_size)).members:
            members += expired.members
            points += expired.points
        abandoned = 0
        while batch := await database.write(purge_abandoned, now, args.batch_size):
            abandoned += batch
        purged = await database.write(purge_expired, now)
        return voided, members, points, purged, abandoned

    voided, members, points, purged, abandoned = _with_database(sweep)
    print(f"voided {voided} lapsed holds; expired {points} points of {members} members")
    print(f"forgot {purged} expired assertion and revoked-token ids")
    print(f"purged {abandoned} rows of lapsed registrations, consent requests, codes, sign-ins")
    return 0


def cmd_tiers_evaluate(args: argparse.Namespace) -> int:
    from members.tiers import evaluate_batch, members_due

    try:
        day = date.fromisoformat(args.day) if args.day else utcnow().date()
    except ValueError as error:
        raise CommandFailed(f"{args.day!r} is not a day such as 2026-11-30") from error
    if args.batch_size < 1:
        raise CommandFailed("--batch-size must be at least 1")
    progress = Progress("tiers evaluate")

    async def run(database: Database) -> tuple[int, int, int]:
        """Batches of members in id order, one transaction each: memory stays bounded
        whatever the number of members, and a re-run of the same day finds none due."""
        total = await database.read(members_due, day)
        seen = downgraded = kept = 0
        last = 0
        while (batch := await database.write(evaluate_batch, day, last, args.batch_size)).members:
            seen += batch.members
            downgraded += batch.downgraded
            kept += batch.kept
            last = batch.last_member
            progress.count(seen, total, "members")
        progress.end()
        return seen, downgraded, kept

    seen, downgraded, kept = _with_database(run)
    print(
        f"evaluated {seen} members due on {day.isoformat()}: "
        f"{downgraded} moved down, {kept} kept their tier"
    )
    return 0


def _period_command(
    commands: Any,
    common: argparse.ArgumentParser,
    name: str,
    help: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """A command about one settlement period (``--period ID``)."""
    parser: argparse.ArgumentParser = commands.add_parser(name, parents=[common], help=help)
    parser.add_argument("--period", type=int, required=True)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        help="database URL (default: $HUB_DATABASE_URL, else sqlite:///./alliance.db)",
    )
    parser = argparse.ArgumentParser(prog="alliance-hub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="serve GraphQL over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker",
        parents=[common],
        help="deliver webhooks and run the scheduled jobs until SIGTERM",
    )
    worker.add_argument(
        "--poll-seconds", type=float, default=1.0, help="nap when nothing is due (default 1)"
    )
    worker.set_defaults(handler=cmd_worker)

    migrate = commands.add_parser("migrate", parents=[common], help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    expire = commands.add_parser(
        "expire",
        parents=[common],
        help="void lapsed holds, expire lapsed lots, forget expired token and assertion ids",
    )
    expire.add_argument("--batch-size", type=int, default=500)
    expire.set_defaults(handler=cmd_expire)

    demo_command = commands.add_parser(
        "demo", parents=[common], help="load the demo alliance once and print its credentials"
    )
    demo_command.add_argument("--credentials", default="demo-credentials.json")
    demo_command.add_argument(
        "--host", default="127.0.0.1", help="where `serve` will listen (for the sign-in link)"
    )
    demo_command.add_argument("--port", type=int, default=8000)
    demo_command.set_defaults(handler=cmd_demo)

    keys = commands.add_parser("keys", help="access-token signing keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_commands.add_parser(
        "rotate", parents=[common], help="publish a new signing key and retire the current one"
    )
    rotate.set_defaults(handler=cmd_keys_rotate)

    partners = commands.add_parser("partners", help="the partner registry")
    partner_commands = partners.add_subparsers(dest="partners_command", required=True)
    add = partner_commands.add_parser("add", parents=[common], help="onboard a partner")
    add.add_argument("--code", required=True, help="2-32 of a-z, 0-9 and '-'")
    add.add_argument("--name", required=True)
    add.add_argument("--legal-entity")
    add.add_argument(
        "--kind",
        choices=("MERCHANT", "CHARITY"),
        default="MERCHANT",
        help="CHARITY: a registered charity, the only kind that receives donations (CR-06)",
    )
    add.set_defaults(handler=cmd_partners_add)
    listing = partner_commands.add_parser("list", parents=[common], help="list partners")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_partners_list)
    suspend = partner_commands.add_parser("suspend", parents=[common], help="suspend a partner")
    suspend.add_argument("code")
    suspend.set_defaults(handler=cmd_partners_suspend)

    auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    clients = commands.add_parser("clients", help="partners' OAuth clients")
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    create = client_commands.add_parser(
        "create", parents=[common], help="register a partner's client; prints its secret once"
    )
    create.add_argument("--partner", required=True, help="partner code")
    create.add_argument("--scopes", required=True, help='space-separated, e.g. "points:issue"')
    create.add_argument("--auth-method", choices=auth_methods, default="client_secret_basic")
    create.add_argument("--jwks", help="the client's public JWK Set (private_key_jwt)")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=cmd_clients_create)
    create_app = client_commands.add_parser(
        "create-app",
        parents=[common],
        help="register the alliance's app (a public client members sign in to)",
    )
    create_app.add_argument("--name", required=True)
    create_app.add_argument(
        "--redirect-uri",
        required=True,
        action="append",
        help="an exact redirect URI (repeat for several)",
    )
    create_app.add_argument("--json", action="store_true")
    create_app.set_defaults(handler=cmd_clients_create_app)
    rotate_secret = client_commands.add_parser(
        "rotate-secret",
        parents=[common],
        help="issue a new secret; the old one lasts a grace period",
    )
    rotate_secret.add_argument("client_id")
    rotate_secret.add_argument("--json", action="store_true")
    rotate_secret.set_defaults(handler=cmd_clients_rotate_secret)
    revoke = client_commands.add_parser("revoke", parents=[common], help="revoke a client for good")
    revoke.add_argument("client_id")
    revoke.set_defaults(handler=cmd_clients_revoke)

    operator = commands.add_parser("operator", help="the alliance operator's clients")
    operator_commands = operator.add_subparsers(dest="operator_command", required=True)
    operator_client = operator_commands.add_parser(
        "create-client", parents=[common], help="register an operator:admin client"
    )
    operator_client.add_argument(
        "--auth-method", choices=auth_methods, default="client_secret_basic"
    )
    operator_client.add_argument("--jwks")
    operator_client.add_argument("--json", action="store_true")
    operator_client.set_defaults(handler=cmd_operator_create_client)

    compliance = commands.add_parser("compliance", help="the compliance audit")
    compliance_commands = compliance.add_subparsers(dest="compliance_command", required=True)
    verify_audit = compliance_commands.add_parser(
        "verify-audit", parents=[common], help="check the blocked-attempts hash chain"
    )
    verify_audit.set_defaults(handler=cmd_verify_audit)
    report = compliance_commands.add_parser(
        "report", parents=[common], help="refusals, budgets, liability and open AML cases as JSON"
    )
    report.set_defaults(handler=cmd_compliance_report)
    cases = compliance_commands.add_parser(
        "cases", parents=[common], help="AML cases, newest first, as JSON lines"
    )
    cases.add_argument("--status", choices=["OPEN", "REVIEWED", "CLOSED"])
    cases.add_argument("--limit", type=int, default=100, help="1 to 1000 (default 100)")
    cases.add_argument("--after", type=int, help="show cases older than this case id")
    cases.set_defaults(handler=cmd_aml_cases)
    resolve = compliance_commands.add_parser(
        "resolve-case", parents=[common], help="mark an AML case REVIEWED or CLOSED"
    )
    resolve.add_argument("case_id", type=int)
    resolve.add_argument("--status", choices=["REVIEWED", "CLOSED"], required=True)
    resolve.add_argument("--note", help="what the review found (no personal data)")
    resolve.set_defaults(handler=cmd_aml_resolve)
    threshold = compliance_commands.add_parser(
        "set-threshold", parents=[common], help="set an AML pattern's soft and hard limits"
    )
    threshold.add_argument("pattern")
    threshold.add_argument("--soft", type=int, required=True)
    threshold.add_argument("--hard", type=int, required=True)
    threshold.set_defaults(handler=cmd_aml_threshold)

    settlement = commands.add_parser("settlement", help="settlement periods")
    settlement_commands = settlement.add_subparsers(dest="settlement_command", required=True)
    opening = settlement_commands.add_parser(
        "open", parents=[common], help="open a period [--start, --end) for one cycle"
    )
    opening.add_argument("--cycle", choices=["DAILY", "WEEKLY", "MONTHLY"], required=True)
    opening.add_argument("--start", required=True, help="ISO 8601, e.g. 2026-11-01T00:00Z")
    opening.add_argument("--end", help="ISO 8601 or now; default one cycle after --start")
    opening.set_defaults(handler=cmd_settlement_open)
    listing_periods = settlement_commands.add_parser(
        "list", parents=[common], help="periods, newest first"
    )
    listing_periods.add_argument("--limit", type=int, default=20)
    listing_periods.set_defaults(handler=cmd_settlement_list)
    _period_command(
        settlement_commands,
        common,
        "reconcile",
        "the same as `alliance-hub reconcile`",
        cmd_reconcile,
    )
    resolving = settlement_commands.add_parser(
        "resolve", parents=[common], help="resolve one unmatched line, or many of a period"
    )
    resolving.add_argument("--line", type=int, help="one line (its line_id in the export)")
    resolving.add_argument("--period", type=int, help="every unresolved line of the period")
    resolving.add_argument(
        "--status", choices=["MISSING_IN_HUB", "MISSING_IN_PARTNER", "AMOUNT_MISMATCH"]
    )
    resolving.add_argument("--partner", help="only this partner's lines (with --period)")
    resolving.add_argument(
        "--resolution", choices=["ACCEPT_HUB", "ADJUST", "DISPUTE"], required=True
    )
    resolving.add_argument("--note")
    resolving.set_defaults(handler=cmd_settlement_resolve)
    _period_command(
        settlement_commands,
        common,
        "close",
        "freeze the statements and close the period",
        cmd_settlement_close,
    )
    exporting = _period_command(
        settlement_commands,
        common,
        "export",
        "statements and lines, streamed as CSV or JSON Lines",
        cmd_settlement_export,
    )
    exporting.add_argument("--format", choices=["csv", "json"], default="csv")
    exporting.add_argument("--output", help="a file; default standard output")
    _period_command(
        commands,
        common,
        "reconcile",
        "classify a period's lines, the hub's and partners'",
        cmd_reconcile,
    )

    from members.tiers import EVALUATION_BATCH

    tiers = commands.add_parser("tiers", help="members' tiers (docs/programme.md)")
    tier_commands = tiers.add_subparsers(dest="tiers_command", required=True)
    evaluate = tier_commands.add_parser(
        "evaluate",
        parents=[common],
        help="lower the tiers of members whose qualifying year and year of grace ended",
    )
    evaluate.add_argument("--day", help="the day evaluated, YYYY-MM-DD (default: today, UTC)")
    evaluate.add_argument("--batch-size", type=int, default=EVALUATION_BATCH)
    evaluate.set_defaults(handler=cmd_tiers_evaluate)

    ledger = commands.add_parser("ledger", help="points ledger tools")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_commands.add_parser(
        "verify", parents=[common], help="recompute every ledger invariant from the transfers"
    )
    verify.set_defaults(handler=cmd_ledger_verify)
    return parser


# Commands that seal, unseal or hash with the secret key: each first confirms the key is the
# one the database's secrets are under (hub/secret_check.py).
KEY_COMMANDS = frozenset(
    {
        "cmd_serve",
        "cmd_worker",
        "cmd_keys_rotate",
        "cmd_demo",
        "cmd_clients_create",
        "cmd_operator_create_client",
        "cmd_clients_rotate_secret",
    }
)


def preflight(args: argparse.Namespace) -> None:
    """Before any command: the settings parse, the database exists (only ``migrate`` may
    create it) and is migrated to head, and the key commands have the right key."""
    from hub.preflight import require_database_file, require_migrated, secret_key_for

    settings = get_settings()
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared and not Path(shared).is_dir():
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR names {Path(shared).resolve()}, which is not a directory"
        )
    migrating = args.handler is cmd_migrate
    require_database_file(settings.database_url, create=migrating)
    if migrating:
        return

    async def check(database: Database) -> None:
        await require_migrated(database)
        if args.handler.__name__ in KEY_COMMANDS:
            await secret_key_for(database, settings, may_create=False)

    _with_database(check)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.database_url:
        os.environ["HUB_DATABASE_URL"] = args.database_url
    get_settings.cache_clear()
    try:
        preflight(args)
        return int(args.handler(args))
    except ConfigError as error:
        print(f"alliance-hub: {error}", file=sys.stderr)
    except (
        CommandFailed,
        PartnerError,
        LedgerError,
        MemberError,
        ComplianceViolation,
        ComplianceSettingError,
        SettlementError,
    ) as error:
        print(f"alliance-hub: {error}", file=sys.stderr)
    except UnsupportedDatabase as error:
        print(f"alliance-hub: {error}", file=sys.stderr)
    except OSError as error:
        if error.filename:  # a file the command was given: name it
            print(f"alliance-hub: {error.filename}: {error.strerror}", file=sys.stderr)
        else:  # a database connection
            print(f"alliance-hub: database error: {one_line(error)}", file=sys.stderr)
    except (OperationalError, DBAPIError) as error:
        print(f"alliance-hub: database error: {one_line(error)}", file=sys.stderr)
    return 1


def one_line(error: BaseException) -> str:
    lines = str(getattr(error, "orig", error)).splitlines()
    return lines[0] if lines else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
