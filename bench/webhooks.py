"""Webhook deliveries per second through the outbox, against the same worker posting the
same bytes with no outbox.

Both sides post to one receiver process (uvicorn, answering 204) with the worker's HTTP
client, its signing and its concurrency (a batch of 50 at a time). The outbox side runs
the worker's real loop over the database: fan-out of the events into deliveries,
claiming (with leases, in order per member), posting, recording every attempt. The
baseline posts the very jobs the outbox produced, and touches no database: the ceiling
of the HTTP path alone. Rounds alternate the two sides; the best of each counts.

    python bench/webhooks.py [--events 2000] [--members 200] [--rounds 3] [--database-url URL]

Ends with ``RESULT webhooks_outbox_deliveries_per_second <n>``,
``RESULT webhooks_direct_posts_per_second <n>`` and
``RESULT webhooks_outbox_vs_direct <ratio>`` (goal: at least 0.5).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import asyncio
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import Database, utcnow
from events import EventType, emit, global_id
from hub.migrate import upgrade
from hub.models import import_all_models
from hub.worker import Worker
from webhooks.delivery import Job, claim, pending_count
from webhooks.endpoints import create_endpoint
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.sender import new_client, send

RECEIVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    url = f"http://127.0.0.1:{port}/hooks"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=1)
            return process, url
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.1)


def write_events(session: Session, count: int, members: int, offset: int) -> None:
    now = utcnow()
    for n in range(count):
        member = 1 + (offset + n) % members
        emit(
            session,
            EventType.POINTS_AWARDED,
            now=now,
            payload={
                "memberId": global_id("Member", member),
                "partnerId": global_id("Partner", 1),
                "orderRef": f"order-{offset + n}",
                "points": 100 + n % 7,
                "paidAmountFen": 10_000,
                "expiresAt": (now + timedelta(days=365)).isoformat(),
            },
            member_id=member,
        )


def reopen(session: Session) -> None:
    """Make every delivery due again, to collect the jobs the baseline posts."""
    session.execute(update(WebhookDelivery).values(status=DeliveryStatus.PENDING, lease_until=None))


def settle(session: Session, ids: list[int]) -> None:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(status=DeliveryStatus.DELIVERED)
    )


async def collect_jobs(database: Database, settings: Settings) -> list[Job]:
    """The jobs of every delivery just made: the very bytes the baseline posts."""
    await database.write(reopen)
    jobs: list[Job] = []
    while claimed := await database.write(claim, settings.secret_key, utcnow(), 1000):
        jobs.extend(claimed)
        await database.write(settle, [job.delivery_id for job in claimed])
    return jobs


async def outbox_side(worker: Worker, events: int) -> float:
    started = time.perf_counter()
    while True:
        await worker.deliver()
        if not await worker.database.read(pending_count):
            break
    return events / (time.perf_counter() - started)


async def direct_side(jobs: list[Job], batch: int) -> float:
    async with new_client() as client:
        started = time.perf_counter()
        for first in range(0, len(jobs), batch):
            await asyncio.gather(
                *(send(client, job, production=False) for job in jobs[first : first + batch])
            )
        return len(jobs) / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    import_all_models()
    folder = tempfile.mkdtemp(prefix="bench-webhooks-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    upgrade(url)
    database = Database(url)
    settings = Settings(database_url=url, secret_key="bench-" + "k" * 40)
    receiver, receiver_url = start_receiver()
    try:
        await database.write(
            create_endpoint,
            settings.secret_key,
            owner=None,
            url=receiver_url,
            event_types=["points.awarded"],
            production=False,
            now=utcnow() - timedelta(minutes=1),
        )
        worker = Worker(database, settings)
        outbox_rates, direct_rates = [], []
        for round_ in range(args.rounds):
            for offset in range(0, args.events, 500):
                await database.write(
                    write_events,
                    min(500, args.events - offset),
                    args.members,
                    round_ * args.events + offset,
                )
            outbox_rates.append(await outbox_side(worker, args.events))
            jobs = await collect_jobs(database, settings)
            direct_rates.append(await direct_side(jobs, worker.batch))
        await worker.client.aclose()
    finally:
        receiver.terminate()
        receiver.wait(10)
        await database.dispose()
    outbox_rate, direct_rate = max(outbox_rates), max(direct_rates)
    print(f"store: {database.dialect}; {args.events} events a round, {args.members} members")
    for n, (outbox, direct) in enumerate(zip(outbox_rates, direct_rates, strict=True), 1):
        print(f"round {n}: outbox {outbox:.0f} deliveries/s, direct {direct:.0f} posts/s")
    print(f"RESULT webhooks_outbox_deliveries_per_second {outbox_rate:.0f}")
    print(f"RESULT webhooks_direct_posts_per_second {direct_rate:.0f}")
    print(f"RESULT webhooks_outbox_vs_direct {outbox_rate / direct_rate:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="best of each side counts")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    asyncio.run(main(parser.parse_args()))
