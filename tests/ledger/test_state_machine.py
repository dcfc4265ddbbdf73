"""Random sequences of earn, reserve, capture, void, redeem, refund, clawback, expire
and donate keep every ledger invariant, and the verifier agrees after every step."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

import ledger
from core.db import Database
from ledger.errors import (
    ClawbackDebtOutstanding,
    HoldExpired,
    HoldNotPending,
    InsufficientPoints,
    LedgerError,
    ReversalExceedsEarned,
)
from tests.ledger.world import World, key
from tests.stores import Templates

MEMBERS = (1, 2)
PARTNERS = (10, 20, 30)
START = datetime(2026, 3, 1, tzinfo=UTC)


def ledger_machine(templates: Templates) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        pending = Bundle("pending")
        captured = Bundle("captured")
        lots = Bundle("lots")

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.url = templates.new_database()
            self.db = Database(self.url, pool_size=2)
            self.now = START
            self.world = World(self.db, self.now)
            self.run(self.world.open(members=MEMBERS, partners=PARTNERS))
            self.held: Counter[int] = Counter()
            self.deadlines: dict[int, tuple[int, int, datetime]] = {}
            self.redeemed: Counter[int] = Counter()
            self.donated = 0

        def run(self, coroutine: Any) -> Any:
            return self.loop.run_until_complete(coroutine)

        def attempt(self, call: Any, *expected: type[LedgerError]) -> Any:
            """Run a ledger call; an expected refusal must leave the ledger untouched."""
            before = self.run(self.world.verify()).transfers
            try:
                return self.run(call)
            except expected:
                assert self.run(self.world.verify()).transfers == before
                return None

        def teardown(self) -> None:
            self.run(self.db.dispose())
            self.loop.close()
            templates.drop(self.url)

        @rule(
            target=lots,
            member=st.sampled_from(MEMBERS),
            partner=st.sampled_from(PARTNERS),
            points=st.integers(1, 300),
            days=st.integers(1, 60),
            green=st.booleans(),
        )
        def earn(self, member: int, partner: int, points: int, days: int, green: bool) -> int:
            result = self.run(
                self.world.earn(
                    member, partner, points, at=self.now, lifetime=timedelta(days=days), green=green
                )
            )
            return int(result.lot_id)

        @rule(hours=st.integers(1, 24 * 20))
        def advance(self, hours: int) -> None:
            self.now += timedelta(hours=hours)

        @rule(
            target=pending,
            member=st.sampled_from(MEMBERS),
            partner=st.sampled_from(PARTNERS),
            amount=st.integers(1, 250),
            minutes=st.integers(1, 60 * 48),
        )
        def reserve(self, member: int, partner: int, amount: int, minutes: int) -> Any:
            result = self.attempt(
                self.world.reserve(
                    member, partner, amount, at=self.now, ttl=timedelta(minutes=minutes)
                ),
                InsufficientPoints,
                ClawbackDebtOutstanding,
            )
            if result is None:
                return None
            self.held[member] += amount
            self.deadlines[result.hold_id] = (member, amount, self.now + timedelta(minutes=minutes))
            return (result.hold_id, member, partner, amount)

        def sweep(self) -> None:
            voided = self.run(self.db.write(ledger.void_lapsed_holds, self.now))
            lapsed = [hold for hold, (_, _, due) in self.deadlines.items() if due <= self.now]
            assert voided == len(lapsed)
            for hold in lapsed:
                member, amount, _ = self.deadlines.pop(hold)
                self.held[member] -= amount

        @rule(target=captured, hold=consumes(pending))
        def capture(self, hold: Any) -> Any:
            if hold is None:
                return None
            hold_id, member, partner, amount = hold
            if hold_id not in self.deadlines:  # the sweep voided it already
                self.attempt(
                    self.db.write(ledger.capture, key(), hold_id=hold_id, now=self.now),
                    HoldNotPending,
                )
                return None
            if self.deadlines[hold_id][2] <= self.now:
                with pytest.raises(HoldExpired):
                    self.run(self.db.write(ledger.capture, key(), hold_id=hold_id, now=self.now))
                self.sweep()
                return None
            self.run(self.db.write(ledger.capture, key(), hold_id=hold_id, now=self.now))
            del self.deadlines[hold_id]
            self.held[member] -= amount
            self.redeemed[partner] += amount
            return (hold_id, partner, amount)

        @rule(hold=consumes(pending))
        def void(self, hold: Any) -> None:
            if hold is None:
                return
            hold_id, member, _, amount = hold
            if hold_id not in self.deadlines:
                self.attempt(
                    self.db.write(ledger.void, key(), hold_id=hold_id, now=self.now), HoldNotPending
                )
                return
            self.run(self.db.write(ledger.void, key(), hold_id=hold_id, now=self.now))
            del self.deadlines[hold_id]
            self.held[member] -= amount

        @rule(
            target=captured,
            member=st.sampled_from(MEMBERS),
            partner=st.sampled_from(PARTNERS),
            amount=st.integers(1, 250),
        )
        def redeem(self, member: int, partner: int, amount: int) -> Any:
            result = self.attempt(
                self.world.redeem(member, partner, amount, at=self.now),
                InsufficientPoints,
                ClawbackDebtOutstanding,
            )
            if result is None:
                return None
            self.redeemed[partner] += amount
            return (result.hold_id, partner, amount)

        @rule(redemption=consumes(captured), compensation=st.integers(0, 30))
        def refund(self, redemption: Any, compensation: int) -> None:
            if redemption is None:
                return
            hold_id, partner, amount = redemption
            self.run(
                self.db.write(
                    ledger.refund,
                    key(),
                    hold_id=hold_id,
                    now=self.now,
                    compensation_points=compensation,
                    compensation_expires_at=self.now + timedelta(days=30),
                )
            )
            self.redeemed[partner] -= amount

        @rule(lot=lots, points=st.one_of(st.none(), st.integers(1, 300)))
        def clawback(self, lot: int, points: int | None) -> None:
            self.attempt(
                self.db.write(ledger.reverse_earn, key(), lot_id=lot, points=points, now=self.now),
                ReversalExceedsEarned,
            )

        @rule(member=st.sampled_from(MEMBERS), points=st.integers(1, 100))
        def donate(self, member: int, points: int) -> None:
            result = self.attempt(
                self.db.write(
                    ledger.donate,
                    key(),
                    member_id=member,
                    charity_id=90,
                    points=points,
                    now=self.now,
                ),
                InsufficientPoints,
                ClawbackDebtOutstanding,
            )
            if result is not None:
                self.donated += points

        @rule()
        def expire(self) -> None:
            self.sweep()
            self.run(self.db.write(ledger.expire_lapsed_lots, self.now))

        @invariant()
        def verifier_is_clean(self) -> None:
            report = self.run(self.world.verify())
            assert report.clean, report.lines()

        @invariant()
        def model_quantities_match(self) -> None:
            balance = self.world.balance
            for member in MEMBERS:
                held = self.run(balance(f"member:{member}:held"))
                assert held == self.held[member]
                assert self.run(balance(f"member:{member}")) >= 0
                assert self.run(balance(f"member:{member}:debt")) <= 0
            for partner in PARTNERS:
                assert self.run(balance(f"partner:{partner}:redeemed")) == self.redeemed[partner]
            assert self.run(balance("charity:90")) == self.donated

    return LedgerMachine


@pytest.mark.slow
def test_random_operation_sequences_keep_every_invariant(templates: Templates) -> None:
    machine = ledger_machine(templates)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("HUB_STATE_MACHINE_EXAMPLES", "25")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
