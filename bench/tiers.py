"""The yearly tier evaluation at scale: ``alliance-hub tiers evaluate`` over N members
(100,000 by default) who are all due, each with two awards in the window, against one
plain ``GROUP BY member_id`` over the same earnings through the raw driver.

Times, in the same run, on SQLite (and PostgreSQL with ``--postgres-url``):
- the evaluation as the command runs it (batches of ``EVALUATION_BATCH`` members, the
  command's default, one transaction each, the hub's unit of work), in a child process
  that also reports its peak RSS;
- the same evaluation over a quarter of the members, for the memory comparison (bounded
  memory: the peak should not grow with the members);
- the baseline: ``SELECT member_id, SUM(points - reversed_points), COUNT(*) ... GROUP BY
  member_id`` over the awards and lots of the window, fetched whole.

    python bench/tiers.py [--members 100000] [--rounds 3] [--postgres-url URL]

Ends with ``RESULT tiers_evaluate_vs_group_by_<store> <ratio>`` (goal <= 2),
``RESULT tiers_evaluate_members_per_second_<store> <rate>``,
``RESULT tiers_group_by_members_per_second_<store> <rate>`` and
``RESULT tiers_evaluate_peak_rss_mb_<store>_<members> <MB>``.
The seeding writes members, awards and lots with the raw driver (foreign keys off on
SQLite; replica role on PostgreSQL): what is timed is only the hub's own code.
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
import json
import resource
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta

DAY = date(2026, 11, 30)
AT = datetime(2026, 11, 30, tzinfo=UTC)
TIERS = [("BASIC", 0, "1"), ("SILVER", 500, "1.5"), ("GOLD", 2000, "2")]
BASELINE = (
    "SELECT a.member_id, SUM(l.points - l.reversed_points), COUNT(*) FROM member_awards a "
    "JOIN ledger_lots l ON l.id = a.lot_id WHERE a.created_at > {start} AND "
    "a.created_at <= {end} GROUP BY a.member_id"
)


def _stamp(value: datetime, store: str) -> object:
    return value.replace(tzinfo=None).isoformat(sep=" ") if store == "sqlite" else value


def _rows(members: int, store: str) -> dict[str, list[tuple[object, ...]]]:
    """Members all due (GOLD, last qualified 800 days ago), two awards each in the window:
    a quarter keep GOLD, a quarter fall to SILVER, half to BASIC."""
    joined = _stamp(AT - timedelta(days=1000), store)
    qualified = _stamp(AT - timedelta(days=800), store)
    member_rows, tier_rows, consent_rows, lot_rows, award_rows = [], [], [], [], []
    for member in range(1, members + 1):
        member_rows.append((member, "ACTIVE", joined))
        tier_rows.append((member, "GOLD", 2, qualified, qualified))
        consent_rows.append((member, 1, f"m-{member}", False, joined))
        points = (0, 100, 400, 1200)[member % 4]
        for n in range(2):
            lot = member * 2 + n
            earned = AT - timedelta(days=10 + 100 * n)
            stamp = _stamp(earned, store)
            expires = _stamp(earned + timedelta(days=365), store)
            lot_rows.append(
                (lot, member, 1, lot, points or 1, points or 1, 0, False, stamp, expires)
            )
            award_rows.append((lot, 1, f"o-{lot}", member, points * 100, points or 1, lot, stamp))
    return {
        "members (id, status, created_at)": member_rows,
        "member_tiers (member_id, tier_code, tier_rank, since, qualified_at)": tier_rows,
        "member_consents (member_id, partner_id, external_ref, credit_level, granted_at)": (
            consent_rows
        ),
        "ledger_lots (id, member_id, issuer_partner_id, earn_transfer_id, points, remaining, "
        "reversed_points, green, earned_at, expires_at)": lot_rows,
        "member_awards (id, partner_id, order_ref, member_id, paid_amount_fen, points, "
        "lot_id, created_at)": award_rows,
    }


async def _prepare(url: str) -> None:
    """Migrated, one partner, the tier schedule in force since a year and a half."""
    from core.db import Database
    from hub.migrate import upgrade
    from members.tiers import TierInput, set_tier_schedule
    from partners.registry import add_partner

    upgrade(url)
    database = Database(url)
    try:
        await database.write(add_partner, code="mall", name="Mall", legal_entity="Mall Ltd", now=AT)
        await database.write(
            set_tier_schedule,
            effective_at=AT - timedelta(days=500),
            tiers=[TierInput(code, code.title(), pts, 0, m, []) for code, pts, m in TIERS],
            now=AT - timedelta(days=510),
            notice=timedelta(days=7),
        )
    finally:
        await database.dispose()


def seed_sqlite(path: Path, members: int) -> None:
    url = f"sqlite:///{path}"
    asyncio.run(_prepare(url))
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA foreign_keys=OFF")
    for table, rows in _rows(members, "sqlite").items():
        columns = table[table.index("(") :]
        marks = ", ".join("?" for _ in columns.split(","))
        connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


async def seed_postgres(url: str, members: int) -> None:
    import asyncpg

    await _prepare(url)
    connection = await asyncpg.connect(url.replace("postgresql+psycopg", "postgresql"))
    try:
        await connection.execute("SET session_replication_role = replica")
        for table, rows in _rows(members, "postgresql").items():
            name = table[: table.index(" ")]
            columns = [c.strip() for c in table[table.index("(") + 1 : -1].split(",")]
            await connection.copy_records_to_table(name, records=rows, columns=columns)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def baseline_sqlite(path: Path) -> float:
    connection = sqlite3.connect(path)
    query = BASELINE.format(start="?", end="?")
    start = time.perf_counter()
    rows = connection.execute(
        query,
        (_stamp(AT - timedelta(days=365), "sqlite"), _stamp(AT, "sqlite")),
    ).fetchall()
    elapsed = time.perf_counter() - start
    connection.close()
    assert rows
    return elapsed


async def baseline_postgres(url: str) -> float:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+psycopg", "postgresql"))
    try:
        start = time.perf_counter()
        rows = await connection.fetch(
            BASELINE.format(start="$1", end="$2"), AT - timedelta(days=365), AT
        )
        elapsed = time.perf_counter() - start
    finally:
        await connection.close()
    assert rows
    return elapsed


def child_evaluate(url: str) -> None:
    """In its own process: the command's loop, timed; prints seconds, members, peak RSS."""
    from core.db import Database
    from members.tiers import EVALUATION_BATCH, evaluate_batch

    async def run() -> tuple[float, int, int]:
        database = Database(url)
        try:
            start = time.perf_counter()
            seen = moved = last = 0
            while (
                batch := await database.write(evaluate_batch, DAY, last, EVALUATION_BATCH)
            ).members:
                seen += batch.members
                moved += batch.downgraded
                last = batch.last_member
            return time.perf_counter() - start, seen, moved
        finally:
            await database.dispose()

    seconds, seen, moved = asyncio.run(run())
    print(json.dumps({"seconds": seconds, "members": seen, "moved": moved, "rss": _peak_mb()}))


def _peak_mb() -> float:
    """This process's own peak RSS (VmHWM: ru_maxrss would include the parent's peak from
    before the exec, on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate(url: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child-evaluate", url],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_sqlite(members: int, rounds: int, work: Path) -> None:
    results = {}
    for size in (members // 4, members):
        template = work / f"template-{size}.db"
        seed_sqlite(template, size)
        best_eval, best_base, rss, moved = float("inf"), float("inf"), 0.0, 0
        for _ in range(rounds):
            copy = work / f"round-{size}.db"
            shutil.copy(template, copy)
            found = evaluate(f"sqlite:///{copy}")
            assert found["members"] == size, found
            best_eval = min(best_eval, found["seconds"])
            rss, moved = max(rss, found["rss"]), int(found["moved"])
            best_base = min(best_base, baseline_sqlite(template))
        results[size] = (best_eval, best_base, rss, moved)
        print(
            f"sqlite {size} members: evaluate {best_eval:.3f}s ({moved} moved down), "
            f"GROUP BY {best_base:.3f}s, peak RSS {rss:.0f} MB"
        )
    _report("sqlite", members, results)


def run_postgres(url: str, members: int, rounds: int) -> None:
    import asyncpg

    async def fresh(name: str) -> str:
        admin = await asyncpg.connect(url.replace("postgresql+psycopg", "postgresql"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        base, _, _ = url.rpartition("/")
        return f"{base}/{name}"

    async def drop(name: str) -> None:
        admin = await asyncpg.connect(url.replace("postgresql+psycopg", "postgresql"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    results = {}
    for size in (members // 4, members):
        best_eval, best_base, rss, moved = float("inf"), float("inf"), 0.0, 0
        for _ in range(rounds):
            name = f"bench_tiers_{uuid.uuid4().hex[:8]}"
            target = asyncio.run(fresh(name))
            try:
                asyncio.run(seed_postgres(target, size))
                best_base = min(best_base, asyncio.run(baseline_postgres(target)))
                found = evaluate(target)
                assert found["members"] == size, found
                best_eval = min(best_eval, found["seconds"])
                rss, moved = max(rss, found["rss"]), int(found["moved"])
            finally:
                asyncio.run(drop(name))
        results[size] = (best_eval, best_base, rss, moved)
        print(
            f"postgresql {size} members: evaluate {best_eval:.3f}s ({moved} moved down), "
            f"GROUP BY {best_base:.3f}s, peak RSS {rss:.0f} MB"
        )
    _report("postgresql", members, results)


def _report(store: str, members: int, results: dict[int, tuple[float, float, float, int]]) -> None:
    evaluate_s, group_by_s, _, _ = results[members]
    print(f"RESULT tiers_evaluate_vs_group_by_{store} {evaluate_s / group_by_s:.3f}")
    print(f"RESULT tiers_evaluate_members_per_second_{store} {members / evaluate_s:.0f}")
    print(f"RESULT tiers_group_by_members_per_second_{store} {members / group_by_s:.0f}")
    for size, (_, _, rss, _) in sorted(results.items()):
        print(f"RESULT tiers_evaluate_peak_rss_mb_{store}_{size} {rss:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url")
    parser.add_argument("--child-evaluate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_evaluate:
        child_evaluate(args.child_evaluate)
        return
    with tempfile.TemporaryDirectory() as folder:
        run_sqlite(args.members, args.rounds, Path(folder))
    if args.postgres_url:
        run_postgres(args.postgres_url, args.members, args.rounds)


if __name__ == "__main__":
    main()
