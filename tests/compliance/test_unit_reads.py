"""Reads an award sends once per unit of work (issue 18) still answer what the database
holds: the AML thresholds memo follows the unit's own changes, is not carried into the
next unit, and the compiled vocabulary follows every edit of the terms."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from compliance.aml import DEFAULTS, Pattern, set_threshold, thresholds
from compliance.vocabulary import set_term, vocabulary
from core.db import Database, forget_memo, unit_memo, utcnow

pytestmark = pytest.mark.anyio
EARNED = Pattern.EARNED_PER_MEMBER_DAY


async def test_a_threshold_set_in_the_unit_is_read_back_in_it(db: Database) -> None:
    def change(session: Session) -> tuple[tuple[int, int], tuple[int, int]]:
        before = thresholds(session, EARNED)
        set_threshold(session, EARNED.value, 7, 9, utcnow())
        return before, thresholds(session, EARNED)

    before, after = await db.write(change)

    assert before == DEFAULTS[EARNED]
    assert after == (7, 9)
    assert (
        await db.read(thresholds, Pattern.DAYS_JUST_UNDER_LIMIT)
        == DEFAULTS[Pattern.DAYS_JUST_UNDER_LIMIT]
    )


def test_a_memo_lives_for_one_transaction_of_the_session() -> None:
    """A session's next transaction (the next unit, a retry) computes again; so does a
    forgotten key."""
    computed: list[int] = []

    def compute() -> int:
        computed.append(len(computed))
        return len(computed)

    with Session(create_engine("sqlite://")) as session:
        with session.begin():
            assert unit_memo(session, "k", compute) == 1
            assert unit_memo(session, "k", compute) == 1
            forget_memo(session, "k")
            assert unit_memo(session, "k", compute) == 2
        with session.begin():
            assert unit_memo(session, "k", compute) == 3

    assert computed == [0, 1, 2]


async def test_the_vocabulary_follows_each_edit(db: Database) -> None:
    assert (await db.read(vocabulary)).violation("moonstone voucher") is None

    await db.write(set_term, "moonstone", "CR-05", utcnow())
    assert (await db.read(vocabulary)).violation("moonstone voucher") is not None

    await db.write(set_term, "moonstone", None, utcnow())
    assert (await db.read(vocabulary)).violation("moonstone voucher") is None
