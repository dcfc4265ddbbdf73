"""``alliance-hub worker``: delivers webhooks and runs the hub's scheduled jobs.

Each loop fans new outbox events out into deliveries, posts the due ones and records each
attempt, then runs whichever scheduled job is due (docs/events.md, "The worker"):

* voiding overdue holds, every minute;
* expiring lapsed lots, every hour;
* expiry notices, every hour (a member is told at most once a day), with a message to
  the phone of each member who opted in to reminders, sent by the next round;
* tier evaluation (members past their qualifying year and year of grace), every hour
  (idempotent for a day, like ``alliance-hub tiers evaluate``);
* forgetting expired assertion and revoked-token ids, every hour;
* purging abandoned registrations, consent requests and sign-ins, every hour.

Every job is idempotent, so a job repeated by a restart or by a second worker changes
nothing. On PostgreSQL several workers share deliveries through ``FOR UPDATE SKIP
LOCKED``; on SQLite one worker runs. SIGTERM (or SIGINT) lets the deliveries in flight
finish and be recorded, then the worker exits; after a SIGKILL the deliveries it held
are posted again once their lease runs out (at least once)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import random
import signal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

import httpx2

from core.config import Settings
from core.db import Database, utcnow
from core.notify import NotificationFailed, Notifier
from hub.models import import_all_models
from hub.oauth2.housekeeping import purge_expired
from members.expiry_notices import send_expiry_notices
from members.holds import expire_lapsed_lots, void_lapsed_holds
from members.housekeeping import purge_abandoned
from members.reminders import Outgoing, claim_messages, record_messages
from members.tiers import evaluate_batch
from webhooks.delivery import Job, Outcome, claim, record_all
from webhooks.fanout import fan_out
from webhooks.sender import new_client, send

logger = logging.getLogger("alliance_hub.worker")

BATCH = 500
Clock = Callable[[], datetime]


async def void_overdue_holds(database: Database, now: datetime) -> int:
    voided = 0
    while batch := await database.write(void_lapsed_holds, now, BATCH):
        voided += batch
    return voided


async def expire_lots(database: Database, now: datetime) -> int:
    members = 0
    while (batch := await database.write(expire_lapsed_lots, now, BATCH)).members:
        members += batch.members
    return members


def expiry_notices(days: int) -> Callable[[Database, datetime], Awaitable[int]]:
    async def run(database: Database, now: datetime) -> int:
        noticed, after = 0, 0
        while (batch := await database.write(send_expiry_notices, now, days, after)).members:
            noticed, after = noticed + batch.noticed, batch.last_member
        return noticed

    return run


async def evaluate_tiers(database: Database, now: datetime) -> int:
    """The day's tier evaluation (members.tiers), as ``alliance-hub tiers evaluate`` runs
    it: idempotent for a day, so running it every hour moves each member once."""
    moved, after = 0, 0
    while (batch := await database.write(evaluate_batch, now.date(), after)).members:
        moved, after = moved + batch.downgraded, batch.last_member
    return moved


async def forget_expired_ids(database: Database, now: datetime) -> int:
    return await database.write(purge_expired, now)


async def purge_abandoned_requests(database: Database, now: datetime) -> int:
    """Registrations and consent requests nobody finished, with their placeholders."""
    purged = 0
    while batch := await database.write(purge_abandoned, now, BATCH):
        purged += batch
    return purged


@dataclass
class Scheduled:
    name: str
    every: timedelta
    run: Callable[[Database, datetime], Awaitable[int]]
    next_at: datetime | None = None


def schedule(settings: Settings) -> list[Scheduled]:
    return [
        Scheduled("void-overdue-holds", timedelta(minutes=1), void_overdue_holds),
        Scheduled("expire-lapsed-lots", timedelta(hours=1), expire_lots),
        Scheduled(
            "expiry-notices", timedelta(hours=1), expiry_notices(settings.expiry_notice_days)
        ),
        Scheduled("evaluate-tiers", timedelta(hours=1), evaluate_tiers),
        Scheduled("forget-expired-ids", timedelta(hours=1), forget_expired_ids),
        Scheduled("purge-abandoned-requests", timedelta(hours=1), purge_abandoned_requests),
    ]


@dataclass
class Worker:
    database: Database
    settings: Settings
    clock: Clock = utcnow
    client: httpx2.AsyncClient = field(default_factory=new_client)
    jobs: list[Scheduled] = field(default_factory=list)
    batch: int = 50
    rng: random.Random = field(default_factory=random.Random)
    notifier: Notifier | None = None  # members' expiry reminders; the settings' by default
    pipeline: int = 8  # batches posted per deliver(), each claimed while one is in flight
    stop: asyncio.Event | None = None

    @property
    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def __post_init__(self) -> None:
        if self.notifier is None:
            self.notifier = self.settings.notifier()

    async def _text(self, message: Outgoing) -> bool:
        assert self.notifier is not None
        try:
            await self.notifier.send(message.notification)
        except NotificationFailed:
            return False
        return True

    async def remind(self) -> int:
        """Send the members' due expiry reminders once each; how many were tried. The
        log names the message id and the outcome, never a phone or a text."""
        messages = await self.database.write(
            claim_messages,
            self.settings.secret_key,
            self.clock(),
            self.batch,
            self.settings.webhook_lease,
        )
        if not messages:
            return 0
        sent = await asyncio.gather(*(self._text(message) for message in messages))
        outcomes = [(m.message_id, ok) for m, ok in zip(messages, sent, strict=True)]
        await self.database.write(record_messages, outcomes, self.clock())
        for message_id, ok in outcomes:
            logger.info("member message %s %s", message_id, "sent" if ok else "failed")
        return len(messages)

    async def _post(self, jobs: list[Job]) -> list[Outcome]:
        return list(
            await asyncio.gather(
                *(send(self.client, job, production=self.settings.production) for job in jobs)
            )
        )

    async def _claim(self) -> list[Job]:
        return await self.database.write(
            claim, self.settings.secret_key, self.clock(), self.batch, self.settings.webhook_lease
        )

    async def _record(self, jobs: list[Job], outcomes: list[Outcome]) -> None:
        statuses = await self.database.write(
            record_all,
            [(job.delivery_id, outcome) for job, outcome in zip(jobs, outcomes, strict=True)],
            self.clock(),
            self.rng,
        )
        for job, outcome, status in zip(jobs, outcomes, statuses, strict=True):
            logger.info(
                "delivery %s endpoint %s %s %s %sms -> %s",
                job.delivery_id,
                job.endpoint_id,
                outcome.outcome,
                outcome.status_code,
                outcome.latency_ms,
                status,
            )

    async def deliver(self) -> int:
        """Fan out what is new, then post due deliveries a batch at a time, up to
        ``pipeline`` batches; how many were posted.

        The database work hides behind the posts: the next batch is claimed while one is
        in flight, and a batch's attempts are recorded while the next one is in flight.
        Order per endpoint and member holds, since a delivery is claimed only when no
        earlier one of its line is PENDING, and a batch in flight stays PENDING until it
        is recorded. A stop request ends the loop once the batch in flight is recorded;
        if recording fails, the batch in flight is awaited, left unrecorded, and posted
        again after its lease (at least once)."""
        while await self.database.write(fan_out, self.clock(), BATCH) == BATCH:
            pass
        jobs = await self._claim()
        if not jobs:
            return 0
        flight = asyncio.create_task(self._post(jobs))
        posted, batches = 0, 1
        try:
            while True:
                more = batches < self.pipeline and len(jobs) == self.batch and not self.stopping
                following = await self._claim() if more else []
                outcomes = await flight
                if following:
                    flight = asyncio.create_task(self._post(following))
                    batches += 1
                await self._record(jobs, outcomes)
                posted += len(jobs)
                if not following:
                    return posted
                jobs = following
        finally:
            if not flight.done():
                await asyncio.gather(flight, return_exceptions=True)

    async def run_due_jobs(self) -> None:
        for job in self.jobs:
            now = self.clock()
            if job.next_at is not None and now < job.next_at:
                continue
            job.next_at = now + job.every
            done = await job.run(self.database, now)
            if done:
                logger.info("%s: %s", job.name, done)

    async def step(self) -> bool:
        """One round; True when it posted something (so the next round starts at once). An
        unexpected failure is logged by class and error id only (no data, no stack) and
        the round is retried after a nap: nothing is lost, the outbox still holds it."""
        try:
            await self.run_due_jobs()
            delivered = await self.deliver()
            return delivered + await self.remind() > 0
        except Exception as error:
            logger.error(
                "worker round failed: %s (error %s)", type(error).__name__, uuid.uuid4().hex
            )
            return False

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Until ``stop`` is set: jobs when due, deliveries while any are due, else a nap."""
        self.stop = stop
        while not stop.is_set():
            if await self.step():
                continue
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll)
            except TimeoutError:
                continue


class WorkerAlreadyRunning(RuntimeError):
    """SQLite has one writer: a second worker on the same file would only contend."""


def sqlite_worker_lock(database: Database) -> IO[bytes] | None:
    """On SQLite, hold an exclusive lock on ``<database>.worker-lock`` for the worker's
    life (the OS drops it if the process dies); None on PostgreSQL."""
    if database.dialect != "sqlite" or not database.url.database:
        return None
    handle = open(f"{database.url.database}.worker-lock", "ab")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkerAlreadyRunning(
            "another worker is running on this SQLite database; run one (PostgreSQL runs many)"
        ) from None
    return handle


async def serve(settings: Settings, poll: float) -> None:
    import_all_models()
    database = Database(settings.database_url)
    try:
        lock = sqlite_worker_lock(database)
    except WorkerAlreadyRunning:
        await database.dispose()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    worker = Worker(database, settings, jobs=schedule(settings))
    logger.info("worker started (%s)", settings.environment)
    try:
        await worker.run(stop, poll)
    finally:
        await worker.client.aclose()
        await database.dispose()
        if lock is not None:
            lock.close()
        logger.info("worker stopped")
