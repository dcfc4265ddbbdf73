"""The ``alliance-hub`` command line. Every command takes ``--database-url`` (or reads
``HUB_DATABASE_URL``) and exits non-zero with a one-line reason on failure."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, OperationalError

from hub.config import get_settings
from hub.db import Database, UnsupportedDatabase, utcnow


class CommandFailed(Exception):
    """A command's expected failure: printed as one line, exit status 1."""


def _database() -> Database:
    return Database(get_settings().database_url)


def cmd_migrate(args: argparse.Namespace) -> int:
    from hub.migrate import upgrade

    upgrade(get_settings().database_url)
    print("database migrated to the latest revision")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "hub.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from ledger.verify import verify

    async def run() -> int:
        database = _database()
        try:
            report = await database.read(verify)
        finally:
            await database.dispose()
        print("\n".join(report.lines()))
        return 0 if report.clean else 1

    return asyncio.run(run())


def cmd_expire(args: argparse.Namespace) -> int:
    from ledger.expiry import expire_lapsed_lots
    from ledger.redemption import void_lapsed_holds

    async def run() -> int:
        database = _database()
        now = utcnow()
        voided = members = points = 0
        try:
            while batch := await database.write(void_lapsed_holds, now, args.batch_size):
                voided += batch
            while (
                expired := await database.write(expire_lapsed_lots, now, args.batch_size)
            ).members:
                members += expired.members
                points += expired.points
        finally:
            await database.dispose()
        print(f"voided {voided} lapsed holds; expired {points} points of {members} members")
        return 0

    return asyncio.run(run())


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

    migrate = commands.add_parser("migrate", parents=[common], help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    expire = commands.add_parser(
        "expire", parents=[common], help="void lapsed holds, then expire lapsed lots"
    )
    expire.add_argument("--batch-size", type=int, default=500)
    expire.set_defaults(handler=cmd_expire)

    ledger = commands.add_parser("ledger", help="points ledger tools")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_commands.add_parser(
        "verify", parents=[common], help="recompute every ledger invariant from the transfers"
    )
    verify.set_defaults(handler=cmd_ledger_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.database_url:
        os.environ["HUB_DATABASE_URL"] = args.database_url
        get_settings.cache_clear()
    try:
        return int(args.handler(args))
    except CommandFailed as error:
        print(f"alliance-hub: {error}", file=sys.stderr)
    except UnsupportedDatabase as error:
        print(f"alliance-hub: {error}", file=sys.stderr)
    except (OperationalError, DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        print(f"alliance-hub: database error: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
