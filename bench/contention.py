"""PostgreSQL under contention, over real HTTP: `alliance-hub serve` with 1 and 2 workers,
driven by a load generator in its own process (bench/contention_load.py).

Per worker count (1, then 2):
- **hot member**: ``--hot`` concurrent ``redeemPoints`` (10 points each) by one member
  holding ``--hot-points``: exactly the affordable number must succeed, the rest be
  INSUFFICIENT_POINTS, with no internal error and no response >= 500;
- **retry storm**: ``--storm`` distinct redemptions across 50 members, each sent 3-5 times,
  all at once: every response must be its mutation's first result (the redemption and
  the member's balances after it).

Then the **mixed load**: reads (a member's balance and lots) and 1-point redemptions over
``--members`` members by ``--concurrency`` clients, for ``--rounds`` rounds of
``--mixed-seconds`` against each server, both servers up and driven in turn (1 worker,
2 workers, 1 worker, ...) so that a change in the machine's other load falls on both. Each
round prints the CPU milliseconds per request of the hub's processes, of PostgreSQL's
backends for the benchmark's database and of the load generator, the whole machine's
context switches and user, system and soft-interrupt milliseconds per request (a
backend that exits within the round takes its CPU out of PostgreSQL's figure, which is
why that one can even read negative; the machine's figures have no such gap), how busy
the machine's cores were, and the load average.

Then, once, **overload**: 1 worker with 8 requests in flight, a 2-connection pool and short
queues under a burst: 503 with Retry-After, never a 500.

Deadlocks come from ``pg_stat_database`` (read after each server stops, when its backends
have flushed their statistics); ``ledger verify`` runs at the end.

    python bench/contention.py [--hot 1000] [--storm 500] [--rounds 3] [--mixed-seconds 10]
                               [--phases hot,storm,mixed,overload]

Ends with RESULT lines, among them ``RESULT contention_mixed_2w_vs_1w <ratio>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ledger.py shares its name with the ledger package: never let this folder shadow it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
ROOT = HERE.parent

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import random
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import ledger
from compliance.aml import Pattern, set_threshold
from core.db import Database, utcnow
from hub.migrate import upgrade
from hub.oauth2.keys import ensure_signing_key
from members.registration import confirm_registration, start_registration
from partners.catalog import ItemInput, upsert_items
from partners.clients import create_client
from partners.registry import add_partner
from partners.scopes import PARTNER_SCOPES

SECRET = "bench-contention-secret"
ADMIN_URL = os.environ.get(
    "HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The payload shows the member's balances after the redemption: a replay must show the
# first answer's figures, not those at replay time.
REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) {
    redemption { id status points } member { balance heldPoints } userErrors { code }
  }
}"""
READ = """query($id: ID!) {
  member(id: $id) { balance heldPoints lots(first: 5) { edges { node { remaining } } } }
}"""
STORM_MEMBERS = 50
# The hot-member and storm servers let a request wait up to this long for its turn, below
# the load generator's 120 s timeout (the default, 30 s, suits clients that give up sooner).
BURST_QUEUE_SECONDS = "100"


def gid(kind: str, value: int) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(dsn(ADMIN_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def deadlocks(name: str) -> int:
    connection = await asyncpg.connect(dsn(ADMIN_URL))
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        found = await connection.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = $1", name
        )
        return int(found or 0)
    finally:
        await connection.close()


def setup(session: Session, members: int, hot_points: int) -> dict[str, Any]:
    """One partner ("shop") with a 10-point and a 1-point item, ``members`` members who
    consented to it (member 1.. hot ones get ``hot_points``, the others 100,000), and AML
    thresholds above the benchmark's own volume."""
    now = utcnow()
    shop = add_partner(session, code="shop", name="Shop", legal_entity="Shop Ltd", now=now)
    items = dict(
        (sku, item_id)
        for item_id, sku in upsert_items(
            session,
            shop.id,
            [
                ItemInput("coffee", "Coffee", "food", "GOODS", False, 10),
                ItemInput("sticker", "Sticker", "food", "GOODS", False, 1),
            ],
            now,
        )
    )
    client = create_client(
        session, SECRET, partner_code="shop", scopes=list(PARTNER_SCOPES), now=now
    )
    for pattern in (Pattern.REDEMPTIONS_PER_MEMBER_DAY, Pattern.FAST_LIQUID_REDEMPTION):
        set_threshold(session, pattern.value, 10**9, 10**9, now)
    ids = []
    for n in range(members):
        started = start_registration(  # the real flow: the person confirms by the code
            session,
            SECRET,
            partner_id=shop.id,
            external_ref=f"m-{n}",
            phone=f"139{n:08d}",
            display_name=None,
            consent=True,
            now=now,
        )
        member_id = confirm_registration(
            session,
            SECRET,
            partner_id=shop.id,
            request_id=started.request_id,
            code=started.notification.code,
            client_id=None,
            now=now,
        )
        assert member_id is not None
        ids.append(member_id)
    ledger.lock_all_accounts(session)
    for n, member_id in enumerate(ids):
        ledger.earn(
            session,
            ledger.IdempotencyKey("bench", f"grant-{member_id}"),
            member_id=member_id,
            partner_id=shop.id,
            points=hot_points if n < 3 else 100_000,
            order_ref=f"grant-{member_id}",
            expires_at=now + timedelta(days=365),
            now=now,
        )
    return {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "coffee": items["coffee"],
        "sticker": items["sticker"],
        "members": ids,
    }


@dataclass
class Server:
    base: str
    pid: int
    workers: int


@contextlib.contextmanager
def serving(url: str, workers: int, **settings: str) -> Iterator[Server]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEY": SECRET,
        "HUB_ISSUER": base,
        **settings,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    pass
                # Every worker up (uvicorn's parent plus one process per worker when > 1).
                if workers == 1 or len(descendants(server.pid)) >= workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the hub did not start on {base}")
            time.sleep(0.2)
        time.sleep(1)  # the last worker's lifespan (its pool) settles
        yield Server(base, server.pid, workers)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as found:
            return found.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes, in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_counters() -> dict[str, int]:
    """The machine's context switches and soft-interrupt jiffies (loopback's packets)."""
    found: dict[str, int] = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name, *values = line.split()
            if name == "ctxt":
                found["ctxt"] = int(values[0])
            elif name == "cpu":
                found["softirq"] = int(values[6])
                found["system"] = int(values[2])
                found["user"] = int(values[0])
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine, all cores."""
    with open("/proc/stat") as found:
        values = [int(v) for v in found.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def backends(name: str) -> list[int]:
    """The PostgreSQL server processes serving the benchmark's database."""
    connection = await asyncpg.connect(dsn(ADMIN_URL))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return [int(row["pid"]) for row in rows]
    finally:
        await connection.close()


def token(base: str, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        f"{base}/oauth/token",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request) as reply:
        return str(json.loads(reply.read())["access_token"])


def generate(plan: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator in its own process."""
    done = subprocess.run(
        [sys.executable, str(HERE / "contention_load.py")],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def redeem(key: str, member: int, item: int) -> dict[str, Any]:
    return {
        "key": key,
        "query": REDEEM,
        "variables": {
            "input": {
                "idempotencyKey": key,
                "memberId": gid("Member", member),
                "catalogItemId": gid("CatalogItem", item),
            }
        },
    }


def classes(outcomes: list[dict[str, Any]]) -> collections.Counter[str]:
    return collections.Counter(o["class"] for o in outcomes)


def summary(name: str, outcomes: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    counted = classes(outcomes)
    over_500 = sum(1 for o in outcomes if o["status"] >= 500)
    without_retry_after = sum(1 for o in outcomes if o["status"] == 503 and not o["retry_after"])
    shown = ", ".join(f"{count} {kind}" for kind, count in counted.most_common())
    print(
        f"  {name}: {len(outcomes)} requests in {seconds:.1f} s: {shown}; "
        f"{over_500} responses >= 500 ({without_retry_after} 503 without Retry-After)"
    )
    return {"classes": dict(counted), "over_500": over_500, "requests": len(outcomes)}


def hot_member(base: str, bearer: str, world: dict[str, Any], member: int, count: int) -> dict:
    run = uuid.uuid4().hex[:8]
    requests = [redeem(f"hot-{run}-{n}", member, world["coffee"]) for n in range(count)]
    result = generate(
        {"mode": "burst", "url": f"{base}/graphql", "token": bearer, "requests": requests}
    )
    return summary("hot member", result["outcomes"], result["seconds"])


def retry_storm(
    base: str, bearer: str, world: dict[str, Any], members: list[int], count: int
) -> dict:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(11)
    requests = []
    for n in range(count):
        mutation = redeem(f"storm-{run}-{n}", members[n % len(members)], world["coffee"])
        requests += [mutation] * rng.randint(3, 5)
    rng.shuffle(requests)
    result = generate(
        {"mode": "burst", "url": f"{base}/graphql", "token": bearer, "requests": requests}
    )
    outcomes = result["outcomes"]
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for outcome in outcomes:
        if outcome["class"] != "SERVICE_UNAVAILABLE":  # shed before it ran: no result to compare
            seen[outcome["key"]].add(json.dumps(outcome["result"], sort_keys=True))
    divergent = sum(1 for answers in seen.values() if len(answers) > 1)
    found = summary("retry storm", outcomes, result["seconds"])
    print(
        f"  retry storm: {len(seen)} mutations answered, {divergent} of them differently "
        "on a replay"
    )
    found["divergent"] = divergent
    return found


def mixed(
    server: Server, bearer: str, world: dict[str, Any], seconds: float, concurrency: int, name: str
) -> dict[str, Any]:
    """One round of the mixed load, with the CPU each side spent on it."""
    run = uuid.uuid4().hex[:8]
    members = world["members"][3 + STORM_MEMBERS * 2 :]
    rng = random.Random(7)
    requests = []
    for n in range(4000):
        member = rng.choice(members)
        if n % 5 < 2:  # 40 % writes
            requests.append(redeem(f"mixed-{run}-{n}", member, world["sticker"]))
        else:
            requests.append(
                {"key": None, "query": READ, "variables": {"id": gid("Member", member)}}
            )
    hub_pids = [server.pid, *descendants(server.pid)]
    pg_pids = asyncio.run(backends(name))
    hub_before, pg_before = cpu_seconds(hub_pids), cpu_seconds(pg_pids)
    busy_before, total_before = machine_jiffies()
    counters_before = machine_counters()
    load_before = os.getloadavg()[0]
    result = generate(
        {
            "mode": "duration",
            "url": f"{server.base}/graphql",
            "token": bearer,
            "requests": requests,
            "seconds": seconds,
            "concurrency": concurrency,
        }
    )
    busy_after, total_after = machine_jiffies()
    counters = {k: v - counters_before[k] for k, v in machine_counters().items()}
    pg_pids = sorted(set(pg_pids) | set(asyncio.run(backends(name))))
    found = summary(f"mixed load ({server.workers}w)", result["outcomes"], result["seconds"])
    successes = found["classes"].get("success", 0)
    found["successes"] = successes
    found["seconds"] = result["seconds"]
    found["rps"] = successes / result["seconds"]
    requests_done = max(1, len(result["outcomes"]))
    found["cpu_ms"] = {
        "hub": 1000 * (cpu_seconds(hub_pids) - hub_before) / requests_done,
        "postgresql": 1000 * (cpu_seconds(pg_pids) - pg_before) / requests_done,
        "load generator": 1000 * result["cpu_seconds"] / requests_done,
    }
    cores = os.cpu_count() or 1
    found["machine_busy"] = cores * (busy_after - busy_before) / max(1, total_after - total_before)
    found["load"] = (load_before, os.getloadavg()[0])
    spent = ", ".join(f"{who} {ms:.1f}" for who, ms in found["cpu_ms"].items())
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    print(
        f"  per request: {counters['ctxt'] / requests_done:.1f} context switches, machine "
        f"user {counters['user'] * tick_ms / requests_done:.2f} ms, system "
        f"{counters['system'] * tick_ms / requests_done:.2f} ms, softirq "
        f"{counters['softirq'] * tick_ms / requests_done:.2f} ms"
    )
    print(
        f"  mixed load ({server.workers}w): {found['rps']:.0f} successful requests/s; CPU ms "
        f"per request: {spent}; machine busy {found['machine_busy']:.2f} of {cores} cores; "
        f"load average {found['load'][0]:.1f} -> {found['load'][1]:.1f}"
    )
    return found


PHASES = ("hot", "storm", "mixed", "overload")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hot", type=int, default=1000)
    parser.add_argument("--hot-points", type=int, default=1000)
    parser.add_argument("--storm", type=int, default=500)
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--mixed-seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="mixed-load rounds per server")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"a comma-separated subset of {PHASES}"
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    if not phases <= set(PHASES):
        parser.error(f"--phases: choose among {', '.join(PHASES)}")
    name = f"alliance_bench_contention_{uuid.uuid4().hex[:8]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    results: dict[int, dict[str, Any]] = {1: {}, 2: {}}
    burst: dict[str, Any] | None = None
    try:
        upgrade(url)

        async def prepare() -> dict[str, Any]:
            database = Database(url)
            await database.write(ensure_signing_key, SECRET, utcnow())
            world = await database.write(setup, args.members, args.hot_points)
            await database.dispose()
            return world

        world = asyncio.run(prepare())
        affordable = args.hot_points // 10
        for workers, hot, storm_slice in ((1, 0, 0), (2, 1, 1)):
            if not phases & {"hot", "storm"}:
                break
            print(
                f"{workers} worker(s), requests wait up to {BURST_QUEUE_SECONDS} s for their turn:"
            )
            before = asyncio.run(deadlocks(name))
            # A line as patient as the load generator (120 s): a burst is served, not shed.
            with serving(
                url, workers, HUB_REQUEST_QUEUE_TIMEOUT_SECONDS=BURST_QUEUE_SECONDS
            ) as server:
                bearer = token(server.base, world["client_id"], world["client_secret"])
                found = results[workers]
                if "hot" in phases:
                    member = world["members"][hot]
                    found["hot"] = hot_member(server.base, bearer, world, member, args.hot)
                if "storm" in phases:
                    found["storm"] = retry_storm(
                        server.base,
                        bearer,
                        world,
                        world["members"][3 + STORM_MEMBERS * storm_slice :][:STORM_MEMBERS],
                        args.storm,
                    )
            found["deadlocks"] = asyncio.run(deadlocks(name)) - before
            print(f"  deadlocks (pg_stat_database): {found['deadlocks']}")
        if "mixed" in phases:
            # Both servers up at once (an idle one costs nothing), driven in turn: 1 worker,
            # 2 workers, 1 worker, ... so a change in the machine's other load falls on both.
            print(f"mixed load: {args.rounds} rounds of {args.mixed_seconds:.0f} s per server")
            before = asyncio.run(deadlocks(name))
            with serving(url, 1) as one, serving(url, 2) as two:
                bearers = {
                    server.workers: token(server.base, world["client_id"], world["client_secret"])
                    for server in (one, two)
                }
                rounds: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
                for _ in range(args.rounds):
                    for server in (one, two):
                        rounds[server.workers].append(
                            mixed(
                                server,
                                bearers[server.workers],
                                world,
                                args.mixed_seconds,
                                args.concurrency,
                                name,
                            )
                        )
            mixed_deadlocks = asyncio.run(deadlocks(name)) - before
            print(f"  deadlocks (pg_stat_database): {mixed_deadlocks}")
            for workers, done in rounds.items():
                results[workers]["mixed"] = {
                    "rps": sum(r["successes"] for r in done) / sum(r["seconds"] for r in done),
                    "over_500": sum(r["over_500"] for r in done),
                    "errors": sum(r["requests"] - r["successes"] for r in done),
                    "rounds": done,
                }
                results[workers]["deadlocks"] = (
                    results[workers].get("deadlocks", 0) + mixed_deadlocks
                )
        if "overload" in phases:
            print("overload (1 worker, pool 2 + 0, queue 20, 0.5 s wait; 8 requests in flight):")
            with serving(
                url,
                1,
                HUB_DB_POOL_SIZE="2",
                HUB_DB_MAX_OVERFLOW="0",
                HUB_DB_QUEUE_LIMIT="20",
                HUB_DB_POOL_TIMEOUT_SECONDS="0.5",
                HUB_MAX_REQUESTS_IN_FLIGHT="8",
                HUB_REQUEST_QUEUE_LIMIT="20",
                HUB_REQUEST_QUEUE_TIMEOUT_SECONDS="0.5",
            ) as server:
                bearer = token(server.base, world["client_id"], world["client_secret"])
                requests = [
                    {"key": None, "query": READ, "variables": {"id": gid("Member", m)}}
                    for m in world["members"][:400]
                ] * 2
                burst = generate(
                    {
                        "mode": "burst",
                        "url": f"{server.base}/graphql",
                        "token": bearer,
                        "requests": requests,
                    }
                )
                overload = summary("overload", burst["outcomes"], burst["seconds"])

        async def verify() -> bool:
            database = Database(url)
            report = await database.read(ledger.verify)
            await database.dispose()
            for line in report.lines():
                print(f"  {line}")
            return bool(report.clean)

        clean = asyncio.run(verify())
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if "hot" in phases:
        print(f"RESULT contention_hot_affordable {affordable}")
    for workers, found in results.items():
        if "hot" in found:
            hot = found["hot"]["classes"]
            print(f"RESULT contention_hot_successes_{workers}w {hot.get('success', 0)}")
            insufficient = hot.get("INSUFFICIENT_POINTS", 0)
            print(f"RESULT contention_hot_insufficient_{workers}w {insufficient}")
            internal = hot.get("INTERNAL_SERVER_ERROR", 0)
            print(f"RESULT contention_hot_internal_errors_{workers}w {internal}")
            print(
                f"RESULT contention_hot_unavailable_{workers}w {hot.get('SERVICE_UNAVAILABLE', 0)}"
            )
            print(f"RESULT contention_hot_over_500_{workers}w {found['hot']['over_500']}")
        if "storm" in found:
            storm = found["storm"]
            storm_errors = storm["requests"] - storm["classes"].get("success", 0)
            print(f"RESULT contention_storm_errors_{workers}w {storm_errors}")
            print(f"RESULT contention_storm_divergent_{workers}w {storm['divergent']}")
        if "mixed" in found:
            print(f"RESULT contention_mixed_rps_{workers}w {found['mixed']['rps']:.1f}")
            print(f"RESULT contention_mixed_errors_{workers}w {found['mixed']['errors']}")
            print(f"RESULT contention_mixed_over_500_{workers}w {found['mixed']['over_500']}")
        if "deadlocks" in found:
            print(f"RESULT contention_deadlocks_{workers}w {found['deadlocks']}")
    if burst is not None:
        unavailable = sum(1 for o in burst["outcomes"] if o["status"] == 503 and o["retry_after"])
        served = sum(1 for o in burst["outcomes"] if o["class"] == "success")
        print(f"RESULT contention_overload_served {served}")
        print(f"RESULT contention_overload_503_with_retry_after {unavailable}")
        status_500 = sum(1 for o in burst["outcomes"] if o["status"] == 500)
        print(f"RESULT contention_overload_500 {status_500}")
        other = overload["over_500"] - unavailable
        print(f"RESULT contention_overload_over_500_other_than_503 {other}")
    print(f"RESULT contention_ledger_verify_clean {int(clean)}")
    if "mixed" in phases:
        ratio = results[2]["mixed"]["rps"] / results[1]["mixed"]["rps"]
        print(f"mixed load, 2 workers / 1 worker: {ratio:.2f}")
        print(f"RESULT contention_mixed_2w_vs_1w {ratio:.3f}")


if __name__ == "__main__":
    main()
