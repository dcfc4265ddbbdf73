"""The hub's one clock.

Every part of the hub that needs the time of day asks :func:`utcnow` (also importable as
``core.db.utcnow``): resolvers and CLI commands read it once per operation and hand it to
the domain services as ``now``; the worker's jobs, the in-memory catalogue's and the
public cache's time windows, access-token and assertion lifetimes, one-time codes,
webhook and SMS signature timestamps and the notification outbox all read it. No table
takes its time from the database (no ``CURRENT_TIMESTAMP`` or ``now()`` default, no SQL
comparing with the server's clock): every stored instant is a ``now`` the hub passed in.

What does not read it: durations (timeouts, retry backoff, request and delivery timing,
the catalogue's too-large back-off, the signing keys' reload age) use ``time.monotonic``
or ``time.perf_counter``, which measure elapsed time, not the date; and log records carry
the process's real time, for the people reading them.

**Travel (tests only).** A test moves the whole hub's notion of now forward (the ``clock``
fixture in ``tests/conftest.py``), for example past the seven days' notice a published
schedule waits (CR-07), and the hub then behaves as it would a week later: schedules come
into force, access tokens issued before have expired, cached public answers and the
in-memory catalogue pass their windows. Time only moves forward, as it does for a running
hub: the caches' windows assume it.

Travel exists only once armed: :func:`arm_for_tests` returns the one handle that moves the
clock (:class:`TestClock`), and ``tests/conftest.py`` calls it when pytest loads it. No
module outside ``tests/`` calls it (``tests/core/test_clock.py`` scans every module's
syntax tree for any reference to it, to the clock's module other than ``utcnow``, or to
the closure holding the offset), and it refuses to run in a process without pytest. The
offset lives in a closure, not a module attribute: nothing reads it from settings, the
environment or a request, and a process that never armed has no way to move it but
rewriting the interpreter's cells.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class TestClock:
    """The handle that moves the hub's clock, from :func:`arm_for_tests` (tests only)."""

    __test__ = False  # not a test class, whatever its name

    # Move the hub's now forward by ``delta``; the new now (never backwards: ValueError).
    travel: Callable[[timedelta], datetime]
    # How far the clock runs ahead of the machine's.
    travelled: Callable[[], timedelta]
    # Back to the machine's clock (a test's teardown).
    reset: Callable[[], None]


def _the_clock() -> tuple[Callable[[], datetime], Callable[[], TestClock]]:
    offset = _ZERO  # how far the hub's clock runs ahead of the machine's
    armed: list[TestClock] = []

    def utcnow() -> datetime:
        """Now, as an aware UTC datetime: the machine's clock plus any test's travel."""
        now = datetime.now(UTC)
        return now if offset is _ZERO else now + offset

    def travel(delta: timedelta) -> datetime:
        nonlocal offset
        if delta < _ZERO:
            raise ValueError("the hub's clock never runs backwards")
        offset = offset + delta
        return utcnow()

    def travelled() -> timedelta:
        return offset

    def reset() -> None:
        nonlocal offset
        offset = _ZERO

    def arm_for_tests() -> TestClock:
        """The handle that moves the clock; only the tests' conftest calls it (the same
        handle each time). Refused in a process without pytest."""
        if "pytest" not in sys.modules:
            raise RuntimeError("the hub's clock travels only under tests")
        if not armed:
            armed.append(TestClock(travel, travelled, reset))
        return armed[0]

    return utcnow, arm_for_tests


utcnow, arm_for_tests = _the_clock()
