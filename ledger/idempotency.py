"""Idempotent ledger operations.

Every points-moving call names ``(client_id, idempotency_key)``. The first call
claims the key by inserting its operation row before any posting; a replay with
the same request returns the stored result, and the same key with a different
request raises :class:`IdempotencyKeyReused`. On PostgreSQL a concurrent
duplicate waits on the claim's unique index until the first commits, then
replays it. A call that fails rolls back its claim, so a retry runs afresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from core.db import dialect_insert
from ledger.errors import IdempotencyKeyReused, LedgerError
from ledger.models import Operation

R = TypeVar("R")
operations = cast(Table, Operation.__table__)

MAX_KEY_LENGTH = 255
# The client id under which the hub's own jobs (expiry, hold sweep) post.
SYSTEM_CLIENT_ID = "system"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    client_id: str
    key: str

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise InvalidIdempotencyKey(self.key)
        if not self.client_id:
            raise InvalidIdempotencyKey(self.key)


class InvalidIdempotencyKey(LedgerError):
    code = "BAD_USER_INPUT"

    def __init__(self, key: str) -> None:
        super().__init__(f"an idempotency key is 1 to {MAX_KEY_LENGTH} characters, got {len(key)}")


class OperationInFlight(LedgerError):
    """A concurrent call holds the key and has not finished; retry shortly."""

    code = "CONFLICT"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} is in use by a request still running")


def request_hash(kind: str, payload: Mapping[str, Any]) -> str:
    canonical = json.dumps({"kind": kind, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_idempotent(
    session: Session,
    key: IdempotencyKey,
    kind: str,
    payload: Mapping[str, Any],
    result_type: type[R],
    now: datetime,
    body: Callable[[int], R],
) -> R:
    """Run ``body(operation_id)`` once per key; replay its stored result afterwards.

    Figures asked for with :func:`keep_with_result` are read right after the body and
    stored with the result; a replay serves them as stored (:func:`kept_figures`)."""
    digest = request_hash(kind, payload)
    claimed = _claim(session, key, kind, digest, now)
    readers: dict[str, Callable[[], Any]] = session.info.get(_READERS, {}).pop(key, {})
    kept: dict[IdempotencyKey, dict[str, Any]] = session.info.setdefault(_KEPT, {})
    if claimed is None:
        result, figures = _replay(session, key, digest, result_type)
        kept[key] = figures
        return result
    result = body(claimed)
    figures = {name: read() for name, read in readers.items()}
    stored = dataclasses.asdict(result)  # type: ignore[call-overload]
    if figures:
        stored[_FIGURES] = figures
    session.execute(_STORE_RESULT, {"operation_id": claimed, "result": json.dumps(stored)})
    kept[key] = figures
    return result


# The key, inside a stored result, of the figures kept with it (never a result field).
_FIGURES = "_figures"
_READERS = "ledger.figure_readers"
_KEPT = "ledger.kept_figures"


def keep_with_result(
    session: Session, key: IdempotencyKey, name: str, read: Callable[[], Any]
) -> None:
    """Before the idempotent call under ``key`` runs in this transaction: read ``name``
    with ``read()`` (JSON values) right after its body, and keep it with its result, so
    a replay shows what the first answer showed (a member's balance after a
    redemption, say) instead of the figure at replay time."""
    session.info.setdefault(_READERS, {}).setdefault(key, {})[name] = read


def kept_figures(session: Session, key: IdempotencyKey) -> dict[str, Any]:
    """The figures kept with the call under ``key`` that ran in this transaction, first
    run or replay. Empty for a result stored before they were kept: the caller reads
    them afresh then."""
    found: dict[str, Any] = session.info.get(_KEPT, {}).get(key, {})
    return found


_STORE_RESULT = (
    update(operations)
    .where(operations.c.id == bindparam("operation_id"))
    .values(result=bindparam("result"))
)
# Built once per store: the claim is on every points-moving call's path.
_CLAIM = {
    dialect: dialect_insert(dialect, operations).on_conflict_do_nothing().returning(operations.c.id)
    for dialect in ("sqlite", "postgresql")
}


def _claim(
    session: Session, key: IdempotencyKey, kind: str, digest: str, now: datetime
) -> int | None:
    """Insert the operation row; its id when this call owns the key, None when it existed."""
    claimed = session.execute(
        _CLAIM[session.get_bind().dialect.name],
        {
            "client_id": key.client_id,
            "idempotency_key": key.key,
            "kind": kind,
            "request_hash": digest,
            "result": None,
            "created_at": now,
        },
    ).scalar_one_or_none()
    return None if claimed is None else int(claimed)


def _replay(
    session: Session, key: IdempotencyKey, digest: str, result_type: type[R]
) -> tuple[R, dict[str, Any]]:
    row = session.execute(
        select(operations.c.request_hash, operations.c.result).where(
            operations.c.client_id == key.client_id, operations.c.idempotency_key == key.key
        )
    ).one()
    if row.request_hash != digest:
        raise IdempotencyKeyReused(key.key)
    if row.result is None:
        raise OperationInFlight(key.key)
    stored = json.loads(row.result)
    figures = stored.pop(_FIGURES, {})
    return result_type(**stored), figures
