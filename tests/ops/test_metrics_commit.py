"""Counts taken inside a transaction reach /metrics only when it commits."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from core import metrics
from core.db import Database
from tests.ledger.world import World

pytestmark = pytest.mark.anyio


def value(counter: metrics.Counter, *labels: str) -> float:
    return float(counter.labels(*labels)._value.get())  # type: ignore[attr-defined]


async def test_a_count_is_added_on_commit_and_dropped_on_rollback(db: Database) -> None:
    before = value(metrics.REFUSALS, "TEST-RULE")

    def counted(session: Session) -> None:
        metrics.on_commit(session, metrics.REFUSALS, "TEST-RULE", amount=2)

    def counted_then_failed(session: Session) -> None:
        metrics.on_commit(session, metrics.REFUSALS, "TEST-RULE")
        raise RuntimeError("rolled back")

    await db.write(counted)
    with pytest.raises(RuntimeError):
        await db.write(counted_then_failed)
    await db.read(counted)  # a read transaction never commits

    assert value(metrics.REFUSALS, "TEST-RULE") - before == 2


async def test_a_rolled_back_savepoint_forgets_only_its_own_counts(db: Database) -> None:
    """Found by the demo's refused award (a savepoint rolled back): counts were added when
    any savepoint was released and all forgotten when one rolled back, so /metrics
    under-counted the demo's transfers."""
    before = value(metrics.REFUSALS, "TEST-SAVEPOINT")

    def around_a_refusal(session: Session) -> None:
        metrics.on_commit(session, metrics.REFUSALS, "TEST-SAVEPOINT")  # kept
        try:
            with session.begin_nested():
                metrics.on_commit(session, metrics.REFUSALS, "TEST-SAVEPOINT", amount=10)
                with session.begin_nested():
                    metrics.on_commit(session, metrics.REFUSALS, "TEST-SAVEPOINT", amount=100)
                raise LookupError("refused")
        except LookupError:
            pass  # the savepoint rolled back, the transaction goes on
        with session.begin_nested():
            metrics.on_commit(session, metrics.REFUSALS, "TEST-SAVEPOINT", amount=2)  # kept
        assert value(metrics.REFUSALS, "TEST-SAVEPOINT") == before  # nothing before the commit

    await db.write(around_a_refusal)

    assert value(metrics.REFUSALS, "TEST-SAVEPOINT") - before == 3


async def test_ledger_transfers_are_counted_by_code(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    before = {code: value(metrics.LEDGER_TRANSFERS, code) for code in ("earn", "redeem")}

    await world.earn(1, 10, 100)
    await world.redeem(1, 20, 30)

    after = {code: value(metrics.LEDGER_TRANSFERS, code) for code in ("earn", "redeem")}
    assert {code: after[code] - before[code] for code in after} == {"earn": 1, "redeem": 1}


def test_docs_operations_lists_every_metric() -> None:
    from pathlib import Path

    from prometheus_client import REGISTRY

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    names = {
        metric.name + ("_total" if metric.type == "counter" else "")
        for metric in REGISTRY.collect()
        if metric.name.startswith("alliance_hub_")
    }

    assert len(names) == 9
    assert sorted(name for name in names if f"`{name}`" not in guide) == []
