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

**Travel (tests only).** A test moves the whole hub's notion of now forward with
:func:`travel` (the ``clock`` fixture in ``tests/conftest.py``), for example past the
seven days' notice a published schedule waits (CR-07), and the hub then behaves as it
would a week later: schedules come into force, access tokens issued before have expired,
cached public answers and the in-memory catalogue pass their windows. Time only moves
forward, as it does for a running hub: the caches' windows assume it. Nothing reads the
offset from settings, the environment or a request; :func:`travel` refuses to run outside
pytest, and ``tests/core/test_clock.py`` checks that no module outside ``tests/`` calls it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

_ZERO = timedelta(0)


class _Offset:
    """How far the hub's clock runs ahead of the machine's (zero outside tests)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = _ZERO


_offset = _Offset()


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: the machine's clock plus any test's travel."""
    offset = _offset.value
    now = datetime.now(UTC)
    return now if offset is _ZERO else now + offset


def travel(delta: timedelta) -> datetime:
    """Move the hub's now forward by ``delta`` (tests only); the new now."""
    if "pytest" not in sys.modules:
        raise RuntimeError("the hub's clock travels only under tests")
    if delta < _ZERO:
        raise ValueError("the hub's clock never runs backwards")
    _offset.value = _offset.value + delta
    return utcnow()


def travelled() -> timedelta:
    """How far tests have moved the clock so far."""
    return _offset.value


def reset() -> None:
    """Back to the machine's clock (a test's teardown; the next test builds a new hub)."""
    if "pytest" not in sys.modules:
        raise RuntimeError("the hub's clock travels only under tests")
    _offset.value = _ZERO
