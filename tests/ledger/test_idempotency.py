from __future__ import annotations

from datetime import datetime

import pytest

from core.db import Database
from ledger.errors import IdempotencyKeyReused
from ledger.idempotency import IdempotencyKey, InvalidIdempotencyKey
from tests.ledger.world import World

pytestmark = pytest.mark.anyio


async def test_replay_returns_the_first_result_and_posts_nothing_new(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    idem = IdempotencyKey("client-a", "award-1")

    first = await world.earn(1, 10, 50, idem=idem, order_ref="o-1")
    again = await world.earn(1, 10, 50, idem=idem, order_ref="o-1")

    assert again == first
    assert await world.balance("member:1") == 50
    assert (await world.verify()).transfers == 1


async def test_same_key_with_a_different_payload_is_refused(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    idem = IdempotencyKey("client-a", "award-1")
    await world.earn(1, 10, 50, idem=idem, order_ref="o-1")

    with pytest.raises(IdempotencyKeyReused):
        await world.earn(1, 10, 60, idem=idem, order_ref="o-1")

    assert await world.balance("member:1") == 50


async def test_keys_are_scoped_per_client(db: Database, now: datetime) -> None:
    world = await World(db, now).open()

    await world.earn(1, 10, 50, idem=IdempotencyKey("client-a", "k"), order_ref="o-1")
    await world.earn(1, 20, 70, idem=IdempotencyKey("client-b", "k"), order_ref="o-2")

    assert await world.balance("member:1") == 120


async def test_a_failed_call_does_not_consume_its_key(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    idem = IdempotencyKey("client-a", "redeem-1")

    with pytest.raises(Exception, match="has 0 points"):
        await world.redeem(1, 20, 30, idem=idem)
    await world.earn(1, 10, 30)
    result = await world.redeem(1, 20, 30, idem=idem)

    assert result.amount == 30
    assert await world.balance("member:1") == 0


@pytest.mark.parametrize("value", ["", "x" * 256])
def test_key_length_is_bounded(value: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        IdempotencyKey("client-a", value)
