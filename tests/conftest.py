from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import core.clock
from core.config import get_settings
from core.db import Database
from tests.stores import STORE, TEST_SECRET_KEY, Templates, postgres_unreachable_reason

# Tests never read or write the local .alliance-hub-secret file.
os.environ["HUB_SECRET_KEY"] = TEST_SECRET_KEY
# ... nor append to a ./notifications.jsonl outbox.
os.environ["HUB_NOTIFY_OUTBOX"] = os.path.join(
    tempfile.mkdtemp(prefix="alliance-hub-outbox-"), "notifications.jsonl"
)
get_settings.cache_clear()
# Travel exists only once armed (core/clock.py); no module outside tests/ arms it.
CLOCK = core.clock.arm_for_tests()

_skip_reason: str | None = None


def pytest_report_header(config: pytest.Config) -> str:
    return f"alliance-hub store under test: {STORE}"


def pytest_configure(config: pytest.Config) -> None:
    global _skip_reason
    if STORE not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"HUB_TEST_STORE must be sqlite or postgresql, not {STORE!r}")
    if STORE == "postgresql":
        reason = postgres_unreachable_reason()
        if reason and os.environ.get("CI", "").lower() == "true":
            raise pytest.UsageError(f"{reason}; CI=true requires the PostgreSQL half to run")
        _skip_reason = reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _skip_reason:
        marker = pytest.mark.skip(reason=f"{_skip_reason}; the PostgreSQL half is skipped")
        for item in items:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def templates() -> Iterator[Templates]:
    found = Templates(Path(tempfile.mkdtemp(prefix="alliance-hub-tests-")))
    yield found
    found.drop_all()


@pytest.fixture
def database_url(templates: Templates) -> Iterator[str]:
    url = templates.new_database()
    yield url
    templates.drop(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    yield database
    await database.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The hub's clock for one test (core/clock.py). ``travel`` moves the whole hub's now
    forward: every resolver, job, cache window and token lifetime follows."""

    def now(self) -> datetime:
        return core.clock.utcnow()

    def travel(self, delta: timedelta) -> datetime:
        """Forward by ``delta``; the hub's new now."""
        return CLOCK.travel(delta)

    def travelled(self) -> timedelta:
        """How far the hub's clock runs ahead of the machine's."""
        return CLOCK.travelled()


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The only way a test moves the hub's clock; back to the machine's clock after it."""
    try:
        yield Clock()
    finally:
        CLOCK.reset()


@pytest.fixture
def event_loop_for_sync() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
