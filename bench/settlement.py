"""Settlement at scale: 1,000,000 transfers across 200 partners in one monthly period.

Times, per store, in the same run:
- statements and netting (``compute_statements`` plus the provenance matrix and netting
  statistics, through the hub's unit of work) against one hand-written
  ``GROUP BY partner_id, code`` over the same rows through the raw driver (sqlite3 /
  asyncpg): the ratio is statements / GROUP BY, best of the rounds;
- posting 100,000 partner lines (calls of up to 5,000 per partner) and reconciling them
  (the hub's lines grouped from the transfers and full-outer-joined with the partners');
- streaming the period's export (statements and every line) to /dev/null;
and reports each store's peak RSS (each store runs in its own child process).

    python bench/settlement.py [--transfers 1000000] [--partners 200] [--lines 100000]
                               [--rounds 3] [--postgres-url URL]

Ends with ``RESULT settlement_statements_vs_group_by_<store> <ratio>``,
``RESULT settlement_reconcile_seconds_<store> <s>`` and
``RESULT settlement_peak_rss_mb_<store> <MB>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ledger.py shares its name with the ledger package: never let this folder shadow it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import asyncio
import itertools
import os
import resource
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from hub.migrate import upgrade
from ledger.models import Transfer
from partners.registry import add_partner
from partners.terms import set_settlement_terms
from settlement.export import write_export
from settlement.periods import open_period
from settlement.reconciliation import reconcile
from settlement.reports import LineInput, post_report
from settlement.statements import compute_statements, netting, provenance

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)
MEMBERS = 1_000
CHUNK = 50_000
BASELINE_SQL = (
    "SELECT partner_id, code, SUM(amount) FROM ledger_transfers "
    "WHERE created_at >= {a} AND created_at < {b} GROUP BY partner_id, code"
)


def issue_price(partner: int) -> Decimal:
    return Decimal("0.5") + Decimal(partner) / 1000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def prepare(database: Database, partners: int) -> tuple[int, int]:
    """Partners with monthly terms, members with accounts; one real operation whose id the
    synthetic transfers share (the foreign key needs one), and the first free transfer id
    (the synthetic ones are numbered from it, so refunds and clawbacks can name their
    originals)."""

    def run(session: Session) -> tuple[int, int]:
        for n in range(1, partners + 1):
            add_partner(session, code=f"p{n:03d}", name=f"Partner {n}", legal_entity="", now=START)
            set_settlement_terms(
                session,
                partner_code=f"p{n:03d}",
                issue_price_per_point_fen=str(issue_price(n)),
                reimbursement_per_point_fen="0.75",
                operator_fee_rate="0.02",
                cycle="MONTHLY",
                now=START - timedelta(days=1),
                effective_at=START - timedelta(days=1),
            )
        for member in range(1, MEMBERS + 1):
            ledger.open_member_accounts(session, member, START)
        earned = ledger.earn(
            session,
            ledger.IdempotencyKey("bench", "seed"),
            member_id=1,
            partner_id=1,
            points=1,
            order_ref="seed",
            expires_at=END + timedelta(days=365),
            now=START - timedelta(days=1),
        )
        last = session.execute(select(func.max(Transfer.id))).scalar_one()
        return earned.operation_id, int(last) + 1

    return await database.write(run)


def transfers(
    count: int, partners: int, operation_id: int, first_id: int
) -> Iterator[tuple[Any, ...]]:
    """Earn 50 %, redeem 40 %, refund 5 %, clawback 5 %, spread evenly over the month. A
    clawback names the earn it reverses (19 rows before), a refund a redemption (8 rows
    before; of another partner, which settlement does not look at: it prices the refund at
    the refunding partner's terms at that redemption's time)."""
    step = (END - START) / count
    for i in range(count):
        partner, member = i % partners + 1, i % MEMBERS + 1
        kind = i % 20
        at = START + step * i
        amount = 1 + i % 500
        original = back = None
        if kind < 10:
            row = ("earn", f"partner:{partner}:issued", f"member:{member}", f"o{i}", partner)
        elif kind < 18:
            row = ("redeem", f"member:{member}", f"partner:{partner}:redeemed", None, partner)
        elif kind == 18:
            row = ("refund", f"partner:{partner}:redeemed", f"member:{member}", None, partner)
            original, back = first_id + i - 8, 8
        else:
            origin = (i - 19) % partners + 1
            row = ("clawback", f"member:{member}", f"partner:{origin}:issued", f"o{i - 19}", origin)
            original, back = first_id + i - 19, 19
        code, debit, credit, order_ref, owner = row
        yield (
            first_id + i,
            operation_id,
            debit,
            credit,
            amount,
            code,
            owner,
            member,
            order_ref,
            original,
            None if back is None else START + step * (i - back),
            at,
        )


COLUMNS = (
    "id, operation_id, debit_account_id, credit_account_id, amount, code, partner_id, "
    "member_id, order_ref, original_transfer_id, original_at, created_at"
)


def load_sqlite(path: str, count: int, partners: int, ids: tuple[int, int]) -> None:
    connection = sqlite3.connect(path)
    rows = transfers(count, partners, *ids)
    sql = f"INSERT INTO ledger_transfers ({COLUMNS}) VALUES ({', '.join('?' * 12)})"
    while chunk := [
        (*row[:10], *(at and at.strftime("%Y-%m-%d %H:%M:%S.%f") for at in row[10:]))
        for row in (next(rows, None) for _ in range(CHUNK))
        if row is not None
    ]:
        connection.executemany(sql, chunk)
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


async def load_postgres(dsn: str, count: int, partners: int, ids: tuple[int, int]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        rows = transfers(count, partners, *ids)
        while chunk := [row for row in (next(rows, None) for _ in range(CHUNK)) if row]:
            await connection.copy_records_to_table(
                "ledger_transfers", records=chunk, columns=[c.strip() for c in COLUMNS.split(",")]
            )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('ledger_transfers', 'id'), "
            "(SELECT max(id) FROM ledger_transfers))"
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def partner_lines(count: int, transfer_count: int, partners: int) -> dict[int, list[LineInput]]:
    """Awards as partners report them, by partner: 90 % right, 5 % with wrong points, 5 %
    unknown to the hub."""
    by_partner: dict[int, list[LineInput]] = {}
    earns = (i for i in range(transfer_count) if i % 20 < 10)
    for n, i in enumerate(itertools.islice(earns, count)):
        points = 1 + i % 500
        partner = i % partners + 1
        fen = int((points * issue_price(partner)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        if n % 20 == 0:
            points += 1
        reference = f"x{i}" if n % 20 == 1 else f"o{i}"
        by_partner.setdefault(partner, []).append(LineInput("AWARD", reference, points, fen))
    return by_partner


async def timed(run: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


async def run_store(
    store: str, database: Database, baseline: Callable[[], Awaitable[Any]], args: Any
) -> None:
    period = await database.write(
        open_period, cycle="MONTHLY", starts_at=START, ends_at=END, now=END
    )

    async def statements() -> None:
        computed = await database.read(compute_statements, "MONTHLY", START, END)
        matrix = await database.read(provenance, computed.windows, START, END)
        netting(matrix)
        assert sum(s.net_fen for s in computed.statements) + computed.operator_revenue_fen == 0

    await statements()  # warm both paths once
    await baseline()
    best_statements = best_baseline = float("inf")
    for _ in range(args.rounds):
        best_baseline = min(best_baseline, await timed(baseline))
        best_statements = min(best_statements, await timed(statements))
    ratio = best_statements / best_baseline

    by_partner = partner_lines(args.lines, args.transfers, args.partners)
    posted = sum(len(own) for own in by_partner.values())

    async def post() -> None:
        for partner_id, own in by_partner.items():
            for start in range(0, len(own), 5_000):
                await database.write(
                    post_report,
                    partner_id=partner_id,
                    period_id=period.id,
                    lines=own[start : start + 5_000],
                    now=END,
                )

    posting = await timed(post)
    reconciled: list[Any] = []

    async def reconcile_once() -> None:
        reconciled.append(await database.write(reconcile, period.id, END + timedelta(days=1)))

    reconciling = await timed(reconcile_once)
    summary = reconciled[-1]

    async def export() -> None:
        def run(session: Session) -> int:
            with open(os.devnull, "w") as sink:
                return write_export(session, period.id, sink, "csv")

        await database.read(run)

    exporting = await timed(export)
    rss = peak_rss_mb()
    print(
        f"{store}: {args.transfers:,} transfers, {args.partners} partners; GROUP BY "
        f"{best_baseline:.3f} s, statements+netting {best_statements:.3f} s, ratio {ratio:.2f}"
    )
    print(
        f"{store}: posted {posted:,} partner lines in {posting:.2f} s; reconciled in "
        f"{reconciling:.2f} s ({summary.matched:,} matched, {summary.amount_mismatch:,} "
        f"mismatched, {summary.missing_in_hub:,} missing in hub, "
        f"{summary.missing_in_partner:,} missing in partner); export streamed in "
        f"{exporting:.2f} s; peak RSS {rss:.0f} MB"
    )
    print(f"RESULT settlement_statements_vs_group_by_{store} {ratio:.3f}")
    print(f"RESULT settlement_statements_seconds_{store} {best_statements:.3f}")
    print(f"RESULT settlement_reconcile_seconds_{store} {reconciling:.3f}")
    print(f"RESULT settlement_peak_rss_mb_{store} {rss:.0f}")


async def bench_sqlite(args: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/settlement.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        database = Database(url)
        ids = await prepare(database, args.partners)
        await asyncio.to_thread(load_sqlite, path, args.transfers, args.partners, ids)
        raw = sqlite3.connect(path, check_same_thread=False)
        sql = BASELINE_SQL.format(a="?", b="?")
        bounds = (START.strftime("%Y-%m-%d %H:%M:%S.%f"), END.strftime("%Y-%m-%d %H:%M:%S.%f"))

        async def baseline() -> None:
            await asyncio.to_thread(lambda: raw.execute(sql, bounds).fetchall())

        try:
            await run_store("sqlite", database, baseline, args)
        finally:
            raw.close()
            await database.dispose()


async def bench_postgres(args: Any) -> None:
    dsn = args.postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"postgres: skipped, unreachable ({error})")
        return
    name = f"bench_settlement_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    target = dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        url = target.replace("postgresql://", "postgresql+asyncpg://")
        upgrade(url)
        database = Database(url)
        ids = await prepare(database, args.partners)
        await load_postgres(target, args.transfers, args.partners, ids)
        raw = await asyncpg.connect(target)
        sql = BASELINE_SQL.format(a="$1", b="$2")

        async def baseline() -> None:
            await raw.fetch(sql, START, END)

        try:
            await run_store("postgres", database, baseline, args)
        finally:
            await raw.close()
            await database.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    if args.store == "sqlite":
        asyncio.run(bench_sqlite(args))
        return
    if args.store == "postgres":
        asyncio.run(bench_postgres(args))
        return
    # Each store in its own process, so each peak RSS is its own.
    for store in ("sqlite", "postgres"):
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--store", store], check=True)


if __name__ == "__main__":
    main()
