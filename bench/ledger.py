"""Earn+redeem postings per second through the ledger service, against the raw driver.

The baseline writes the same rows the service writes for one earn and one
redemption (operation claim and result, account balances, transfer, lot, hold,
allocation), with the same transaction per operation, through the raw driver:
aiosqlite for SQLite (and plain sqlite3 in the calling thread, for reference),
asyncpg for PostgreSQL. It reads nothing and checks nothing, so it is the
store's ceiling. Rounds alternate baseline and service; the best of each counts.

    python bench/ledger.py [--pairs 2000] [--rounds 3] [--postgres-url URL]

Ends with ``RESULT ledger_vs_raw_sqlite <ratio>`` (and ``…_postgres`` when
PostgreSQL is reachable).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/graphql.py and bench/ledger.py share names with the graphql library and the
# ledger package: never let this folder shadow them.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
ROOT = HERE.parent

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import asyncpg
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from hub.migrate import upgrade

MEMBERS = 200
ISSUER, REDEEMER = 1, 2
NOW = datetime(2026, 6, 1, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=365)


async def prepare(database: Database) -> None:
    def run(session: Session) -> None:
        for partner in (ISSUER, REDEEMER):
            ledger.open_partner_accounts(session, partner, NOW)
        for member in range(1, MEMBERS + 1):
            ledger.open_member_accounts(session, member, NOW)

    await database.write(run)


async def service_pairs(database: Database, pairs: int) -> float:
    run = uuid.uuid4().hex
    started = time.perf_counter()
    for i in range(pairs):
        member = i % MEMBERS + 1
        await database.write(
            ledger.earn,
            ledger.IdempotencyKey("bench", f"{run}-e{i}"),
            member_id=member,
            partner_id=ISSUER,
            points=10,
            order_ref=f"o{i}",
            expires_at=EXPIRES,
            now=NOW,
        )
        await database.write(
            ledger.redeem,
            ledger.IdempotencyKey("bench", f"{run}-r{i}"),
            member_id=member,
            partner_id=REDEEMER,
            amount=10,
            now=NOW,
        )
    return pairs / (time.perf_counter() - started)


# The same rows, positional parameters, in the order the service writes them.
EARN = [
    (
        "INSERT INTO ledger_operations (client_id, idempotency_key, kind, request_hash, created_at)"
        " VALUES (?, ?, 'earn', 'h', ?) RETURNING id",
        "op",
    ),
    ("UPDATE ledger_accounts SET credits_posted = credits_posted + 10 WHERE id = ?", "member"),
    ("UPDATE ledger_accounts SET debits_posted = debits_posted + 10 WHERE id = ?", "issued"),
    (
        "INSERT INTO ledger_transfers (operation_id, debit_account_id, credit_account_id, amount, "
        "code, partner_id, member_id, order_ref, created_at) "
        "VALUES (?, ?, ?, 10, 'earn', 1, ?, ?, ?)"
        " RETURNING id",
        "transfer",
    ),
    (
        "INSERT INTO ledger_lots (member_id, issuer_partner_id, earn_transfer_id, points, "
        "remaining, reversed_points, green, earned_at, expires_at) "
        "VALUES (?, 1, ?, 10, 10, 0, false, ?, ?)"
        " RETURNING id",
        "lot",
    ),
    ("UPDATE ledger_operations SET result = 'r' WHERE id = ?", "result"),
]
REDEEM = [
    (
        "INSERT INTO ledger_operations (client_id, idempotency_key, kind, request_hash, created_at)"
        " VALUES (?, ?, 'redeem', 'h', ?) RETURNING id",
        "op",
    ),
    (
        "INSERT INTO ledger_holds (operation_id, member_id, partner_id, amount, status, "
        "created_at, resolved_at) VALUES (?, ?, 2, 10, 'CAPTURED', ?, ?) RETURNING id",
        "hold",
    ),
    ("UPDATE ledger_accounts SET debits_posted = debits_posted + 10 WHERE id = ?", "member"),
    ("UPDATE ledger_accounts SET credits_posted = credits_posted + 10 WHERE id = ?", "redeemed"),
    (
        "INSERT INTO ledger_transfers (operation_id, debit_account_id, credit_account_id, amount, "
        "code, partner_id, member_id, hold_id, created_at) "
        "VALUES (?, ?, ?, 10, 'redeem', 2, ?, ?, ?)"
        " RETURNING id",
        "transfer",
    ),
    ("UPDATE ledger_lots SET remaining = remaining - 10 WHERE id = ?", "take"),
    ("INSERT INTO ledger_allocations (transfer_id, lot_id, points) VALUES (?, ?, 10)", "alloc"),
    ("UPDATE ledger_operations SET result = 'r' WHERE id = ?", "result"),
]


def parameters(
    step: str, i: int, run: str, ids: dict[str, int], when: object
) -> tuple[object, ...]:
    member = i % MEMBERS + 1
    address = f"member:{member}"
    return {
        "op": (f"raw-{run}", f"{i}-{len(ids)}", when),
        "member": (address,),
        "issued": ("partner:1:issued",),
        "redeemed": ("partner:2:redeemed",),
        "transfer": (ids.get("op"), "partner:1:issued", address, member, f"o{i}", when)
        if "hold" not in ids
        else (ids.get("op"), address, "partner:2:redeemed", member, ids.get("hold"), when),
        "lot": (member, ids.get("transfer"), when, EXPIRES.replace(tzinfo=None)),
        "result": (ids.get("op"),),
        "hold": (ids.get("op"), member, when, when),
        "take": (ids.get("lot"),),
        "alloc": (ids.get("transfer"), ids.get("lot")),
    }[step]


async def raw_aiosqlite_pairs(path: str, pairs: int) -> float:
    run, when = uuid.uuid4().hex, NOW.replace(tzinfo=None)
    async with aiosqlite.connect(path, isolation_level=None) as connection:
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        started = time.perf_counter()
        for i in range(pairs):
            lot: dict[str, int] = {}
            for statements in (EARN, REDEEM):
                ids: dict[str, int] = {"lot": lot.get("lot", 0)} if statements is REDEEM else {}
                await connection.execute("BEGIN IMMEDIATE")
                for sql, step in statements:
                    # One hop to aiosqlite's thread per statement, its fastest use.
                    rows = await connection.execute_fetchall(
                        sql, parameters(step, i, run, ids, when)
                    )
                    if "RETURNING" in sql:
                        ids[step] = next(iter(rows))[0]
                await connection.execute("COMMIT")
                lot = ids
        return pairs / (time.perf_counter() - started)


def raw_sqlite3_pairs(path: str, pairs: int) -> float:
    run, when = uuid.uuid4().hex, NOW.replace(tzinfo=None)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    started = time.perf_counter()
    for i in range(pairs):
        lot: dict[str, int] = {}
        for statements in (EARN, REDEEM):
            ids: dict[str, int] = {"lot": lot.get("lot", 0)} if statements is REDEEM else {}
            connection.execute("BEGIN IMMEDIATE")
            for sql, step in statements:
                row = connection.execute(sql, parameters(step, i, run, ids, when)).fetchone()
                if "RETURNING" in sql:
                    ids[step] = row[0]
            connection.execute("COMMIT")
            lot = ids
    rate = pairs / (time.perf_counter() - started)
    connection.close()
    return rate


def postgres_sql(sql: str) -> str:
    count = 0

    def number(_: object) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    import re

    return re.sub(r"\?", number, sql)


async def raw_asyncpg_pairs(dsn: str, pairs: int) -> float:
    run = uuid.uuid4().hex
    connection = await asyncpg.connect(dsn)
    earn = [(postgres_sql(sql), step) for sql, step in EARN]
    redeem = [(postgres_sql(sql), step) for sql, step in REDEEM]
    started = time.perf_counter()
    for i in range(pairs):
        lot: dict[str, int] = {}
        for statements in (earn, redeem):
            ids: dict[str, int] = {"lot": lot.get("lot", 0)} if statements is redeem else {}
            async with connection.transaction():
                for sql, step in statements:
                    args = parameters(step, i, run, ids, NOW)
                    args = tuple(EXPIRES if a == EXPIRES.replace(tzinfo=None) else a for a in args)
                    if "RETURNING" in sql:
                        ids[step] = await connection.fetchval(sql, *args)
                    else:
                        await connection.execute(sql, *args)
            lot = ids
    rate = pairs / (time.perf_counter() - started)
    await connection.close()
    return rate


async def best_of(rounds: int, runs: dict[str, Callable[[], Awaitable[float]]]) -> dict[str, float]:
    best = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for name, run in runs.items():
            best[name] = max(best[name], await run())
    return best


async def bench_sqlite(pairs: int, rounds: int) -> tuple[float, float]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    path = str(workdir / "bench.db")
    upgrade(f"sqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    await prepare(database)
    await service_pairs(database, 100)  # warm caches and the writer thread

    async def sqlite3_in_thread() -> float:
        return await asyncio.to_thread(raw_sqlite3_pairs, path, pairs)

    best = await best_of(
        rounds,
        {
            "raw aiosqlite": lambda: raw_aiosqlite_pairs(path, pairs),
            "raw sqlite3": sqlite3_in_thread,
            "ledger service": lambda: service_pairs(database, pairs),
        },
    )
    await database.dispose()
    report = await Database(f"sqlite:///{path}").read(ledger.verify)
    assert report.clean, report.lines()
    ratio = best["ledger service"] / best["raw aiosqlite"]
    thread_ratio = best["ledger service"] / best["raw sqlite3"]
    print(
        f"sqlite: raw aiosqlite {best['raw aiosqlite']:.0f} pairs/s, raw sqlite3 "
        f"{best['raw sqlite3']:.0f} pairs/s, ledger service {best['ledger service']:.0f} pairs/s"
    )
    print(f"sqlite: service/raw-aiosqlite {ratio:.2f}, service/raw-sqlite3 {thread_ratio:.2f}")
    return ratio, thread_ratio


async def bench_postgres(admin_url: str, pairs: int, rounds: int) -> float | None:
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"postgres: skipped, unreachable ({error})")
        return None
    name = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    target = dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(target)
        database = Database(target)
        await prepare(database)
        await service_pairs(database, 100)
        best = await best_of(
            rounds,
            {
                "raw asyncpg": lambda: raw_asyncpg_pairs(target, pairs),
                "ledger service": lambda: service_pairs(database, pairs),
            },
        )
        report = await database.read(ledger.verify)
        assert report.clean, report.lines()
        await database.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    ratio = best["ledger service"] / best["raw asyncpg"]
    print(
        f"postgres: raw asyncpg {best['raw asyncpg']:.0f} pairs/s, "
        f"ledger service {best['ledger service']:.0f} pairs/s, ratio {ratio:.2f}"
    )
    return ratio


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    sqlite_ratio = await bench_sqlite(args.pairs, args.rounds)
    postgres_ratio = await bench_postgres(args.postgres_url, args.pairs, args.rounds)
    print(f"RESULT ledger_vs_raw_sqlite {sqlite_ratio[0]:.3f}")
    print(f"RESULT ledger_vs_raw_sqlite3_thread {sqlite_ratio[1]:.3f}")
    if postgres_ratio is not None:
        print(f"RESULT ledger_vs_raw_postgres {postgres_ratio:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
