"""How fresh a public catalogue answer is: the catalogue's version and its next time
boundary.

Every committed change to what the public catalogue shows (partners, items, promotions,
scheduled prices) bumps ``catalog_version.version`` in its own transaction (migration
0023's triggers) and writes a fresh random ``stamp`` with it (migration 0041): the version
is the pair (number, stamp), and only an equal pair means "no change", since a failover or
a restore can take the number back to where later bumps reach it again on another history.
Time changes the answers too, without any write: a scheduled price taking effect, a
promotion starting or ending. The next such instant after ``now`` is the
**boundary**; an answer computed at version ``v`` before the boundary stays the answer
until the version moves or the boundary passes. ``hub.public_cache`` keys its entries by
the version and lets none outlive the boundary.

Both statements are plain SQL with named parameters, so they run on the raw driver as
well as through SQLAlchemy (``Database.peek``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VERSION_SQL = "SELECT version, stamp FROM catalog_version WHERE id = 1"
STATE_SQL = (
    "SELECT version, stamp,"
    " (SELECT MIN(effective_at) FROM catalog_scheduled_prices WHERE effective_at > :now),"
    " (SELECT MIN(starts_at) FROM catalog_promotions WHERE starts_at > :now),"
    " (SELECT MIN(ends_at) FROM catalog_promotions WHERE ends_at > :now)"
    " FROM catalog_version WHERE id = 1"
)
# Far enough to mean "no boundary": an answer then lives until the version moves.
NO_BOUNDARY = datetime(9999, 1, 1, tzinfo=UTC)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a naive UTC DateTime in SQLite


# The catalogue's version as read: (number, stamp).
CatalogueVersion = tuple[int, str]


def version_of(row: Any) -> CatalogueVersion:
    """The version from a row starting with the number and the stamp."""
    return (int(row[0]), str(row[1]))


@dataclass(frozen=True, slots=True)
class CatalogueState:
    version: CatalogueVersion
    # The first instant after the state was read at which some price or promotion changes.
    boundary: datetime


def bind_time(dialect: str, at: datetime) -> Any:
    """``at`` as the store compares it (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return at.astimezone(UTC).replace(tzinfo=None).strftime(SQLITE_TIME)
    return at


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def state_from_row(row: Any) -> CatalogueState:
    """The state from one row of ``STATE_SQL``."""
    found = [t for t in (_instant(value) for value in row[2:]) if t is not None]
    return CatalogueState(version_of(row), min(found, default=NO_BOUNDARY))
