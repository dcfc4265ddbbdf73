"""The real ``alliance-hub worker`` process: killed mid-delivery it loses nothing (the
next worker posts what the dead one held, with the same webhook-id), and SIGTERM lets it
finish what is in flight and exit cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from events.models import OutboxEvent
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _register
from tests.stores import TEST_SECRET_KEY
from tests.webhooks.conftest import register_endpoint, webhook_partner
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.anyio


def _start_worker(database_url: str, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
        "HUB_WEBHOOK_LEASE_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "worker", "--poll-seconds", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


async def test_killing_the_worker_mid_delivery_loses_no_event(hub: Hub, database_url: str) -> None:
    """Issue 16's third acceptance point."""
    store = await webhook_partner(hub, "store")
    with Receiver() as receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        receiver.delay = 0.3
        for i in range(4):
            member = await _register(hub, store, ref=f"m-{i}", phone=f"1380000000{i}")
            for n in range(2):
                await _gql(
                    hub, AWARD, store, input=_award_input(member, key=f"k{i}{n}", order=f"o{i}{n}")
                )
        awarded = set(
            await hub.database.read(
                lambda session: list(
                    session.execute(
                        select(OutboxEvent.event_id).where(OutboxEvent.type == "points.awarded")
                    ).scalars()
                )
            )
        )

        first = _start_worker(database_url)
        try:
            _wait_for(receiver.first_request.is_set, 30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        second = _start_worker(database_url, stderr=subprocess.PIPE)
        try:
            # The dead worker may already have posted every event before it died, so wait
            # until the second one has installed its SIGTERM handler ("worker started").
            assert second.stderr is not None
            while b"worker started" not in second.stderr.readline():
                assert second.poll() is None
            _wait_for(lambda: awarded <= set(receiver.seen), 60)
            second.send_signal(signal.SIGTERM)
            exit_code = second.wait(15)
        finally:
            if second.poll() is None:
                second.kill()
            if second.stderr is not None:
                second.stderr.close()

    assert len(awarded) == 8
    assert first.returncode == -signal.SIGKILL
    assert exit_code == 0
    assert awarded <= set(receiver.seen)
    assert receiver.rejected == 0
    # At least once: anything received twice was the delivery the dead worker had in
    # flight, and the receiver's de-duplication by webhook-id kept one of each.
    assert len(receiver.received) >= len(receiver.seen)
    for member in {e["data"]["memberId"] for e in receiver.seen.values()}:
        orders = [
            e["data"]["orderRef"] for e in receiver.seen.values() if e["data"]["memberId"] == member
        ]
        assert orders == sorted(orders)


def test_on_sqlite_a_second_worker_refuses_to_start(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL runs many workers")
    first = _start_worker(database_url, stderr=subprocess.PIPE)
    try:
        assert first.stderr is not None
        while b"worker started" not in first.stderr.readline():  # it holds the lock by then
            assert first.poll() is None
        second = subprocess.run(
            [sys.executable, "-m", "hub.cli", "worker"],
            env={**os.environ, "HUB_DATABASE_URL": database_url, "HUB_SECRET_KEY": TEST_SECRET_KEY},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0
    finally:
        if first.poll() is None:
            first.kill()
        if first.stderr is not None:
            first.stderr.close()

    assert second.returncode == 1
    assert "another worker is running on this SQLite database" in second.stderr
