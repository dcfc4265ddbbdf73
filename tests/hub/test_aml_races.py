"""CR-08's hard limits when requests race (issue 12, attack finding F3): screening and the
posting it allows are serialised per member (the member's account row, locked first), so
on PostgreSQL, with real concurrent connections, exactly as many earnings and spends pass
as the limit allows, whatever the path: awards at any partner, refund compensation,
redemptions and reservations, donations by a charity partner or by the member. Each race
sits next to its allowed neighbour: the same race under a limit that lets all of it pass."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ledger
from tests.hub.conftest import Hub
from tests.hub.test_aml import THRESHOLD, _operator
from tests.hub.test_aml_patterns import _award_at, _midday, _seasoned_partner
from tests.hub.test_compensation import Cinema
from tests.hub.test_compliance_table import Alliance
from tests.hub.test_graphql_members import (
    AWARD,
    PUBLISH,
    REDEEM,
    _award_input,
    _gql,
    _partner,
    _register,
)
from tests.hub.test_member_self import member_token
from tests.hub.test_money_paths import DONATE, _project

pytestmark = pytest.mark.anyio

BALANCE = "query($id: ID!) { member(id: $id) { balance heldPoints } }"
RESERVE = """mutation($input: ReserveRedemptionInput!) {
  reserveRedemption(input: $input) { redemption { status points } userErrors { code rule } } }"""
REFUND = """mutation($input: RefundRedemptionInput!) {
  refundRedemption(input: $input) { compensationPoints userErrors { code rule } } }"""


def _outcomes(bodies: list[dict], field: str) -> list[tuple[str, ...]]:
    """Each racer's refusal rules (empty when it passed), sorted."""
    return sorted(
        tuple(e.get("rule") or e["code"] for e in body["data"][field]["userErrors"])
        for body in bodies
    )


async def _threshold(hub: Hub, pattern: str, soft: int, hard: int) -> None:
    body = await _gql(hub, THRESHOLD, await _operator(hub), pattern=pattern, soft=soft, hard=hard)
    assert body["data"]["setAmlThreshold"]["userErrors"] == []


async def _balance(hub: Hub, token: str, member: str) -> int:
    body = await _gql(hub, BALANCE, token, id=member)
    return int(body["data"]["member"]["balance"])


@pytest.mark.parametrize(("hard", "passing"), [(150, 1), (246, 2), (492, 4)])
async def test_racing_awards_at_two_partners_hold_the_daily_earning_limit(
    hub: Hub, hard: int, passing: int
) -> None:
    """The attack's race: four awards of 123 points at two partners for one member."""
    mart, mall = await _partner(hub, "mart"), await _partner(hub, "mall")
    member = await _register(hub, mart)
    await _register(hub, mall, ref="x-1")
    await _threshold(hub, "EARNED_PER_MEMBER_DAY", soft=100, hard=hard)

    bodies = await asyncio.gather(
        *(
            _gql(hub, AWARD, token, input=_award_input(member, key=f"k{n}", order=f"o{n}"))
            for n, token in enumerate((mart, mall, mart, mall))
        )
    )

    assert _outcomes(bodies, "awardPoints") == [()] * passing + [("CR-08",)] * (4 - passing)
    assert await _balance(hub, mart, member) == 123 * passing
    assert (await hub.database.read(ledger.verify)).clean


@pytest.mark.parametrize(("hard", "passing"), [(200, 1), (243, 2)])
async def test_racing_compensations_hold_the_daily_earning_limit(
    hub: Hub, hard: int, passing: int
) -> None:
    """123 earned today; two refunds each compensating 60 race (compensation is earning)."""
    cinema = await Cinema(hub).setup()
    await _threshold(hub, "EARNED_PER_MEMBER_DAY", soft=150, hard=hard)

    bodies = await asyncio.gather(
        *(
            _gql(
                hub,
                REFUND,
                cinema.cinema,
                input={
                    "idempotencyKey": f"rc{n}",
                    "redemptionId": cinema.redemptions[n],
                    "compensationPoints": 60,
                },
            )
            for n in range(2)
        )
    )

    assert _outcomes(bodies, "refundRedemption") == [()] * passing + [("CR-08",)] * (2 - passing)
    # A refused refund is refused whole: its 60 points stay spent, no compensation.
    assert await _balance(hub, cinema.cinema, cinema.member) == 3 + 120 * passing
    assert (await hub.database.read(ledger.verify)).clean


async def test_an_award_racing_a_compensation_holds_the_daily_earning_limit(hub: Hub) -> None:
    cinema = await Cinema(hub).setup()  # 123 earned today
    await _threshold(hub, "EARNED_PER_MEMBER_DAY", soft=150, hard=250)

    award, refund = await asyncio.gather(
        _gql(hub, AWARD, cinema.store, input=_award_input(cinema.member, key="a2", order="a2")),
        _gql(
            hub,
            REFUND,
            cinema.cinema,
            input={
                "idempotencyKey": "rc",
                "redemptionId": cinema.redemptions[0],
                "compensationPoints": 60,
            },
        ),
    )

    # 123 + 123 + 60 > 250: whichever screens second is refused; 123 + 123 and 123 + 60 pass.
    rules = _outcomes([award], "awardPoints") + _outcomes([refund], "refundRedemption")
    assert sorted(rules) == [(), ("CR-08",)]
    assert (await hub.database.read(ledger.verify)).clean


async def _spender(hub: Hub, points: int = 10) -> tuple[str, str, str]:
    """A store, a member with 246 points earned there, and a ``points``-point GOODS item."""
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    for n in range(2):
        await _gql(hub, AWARD, store, input=_award_input(member, key=f"e{n}", order=f"e{n}"))
    published = await _gql(
        hub,
        PUBLISH,
        store,
        items=[
            {
                "sku": "mug",
                "title": "Mug",
                "category": "home",
                "kind": "GOODS",
                "green": False,
                "basePoints": points,
            }
        ],
    )
    return store, member, str(published["data"]["upsertCatalogItems"]["items"][0]["id"])


@pytest.mark.parametrize(("hard", "passing"), [(3, 2), (5, 4)])
async def test_racing_redemptions_and_reservations_hold_the_daily_count(
    hub: Hub, hard: int, passing: int
) -> None:
    """One redemption already today; two redemptions and two reservations race."""
    store, member, mug = await _spender(hub)
    await _threshold(hub, "REDEMPTIONS_PER_MEMBER_DAY", soft=1, hard=hard)
    first = await _gql(
        hub, REDEEM, store, input={"idempotencyKey": "r0", "memberId": member, "catalogItemId": mug}
    )
    assert first["data"]["redeemPoints"]["userErrors"] == []

    def attempt(n: int) -> Any:
        entry = {"idempotencyKey": f"r{n}", "memberId": member, "catalogItemId": mug}
        if n % 2:
            return _gql(hub, REDEEM, store, input=entry)
        return _gql(hub, RESERVE, store, input=entry)

    bodies = await asyncio.gather(*(attempt(n) for n in range(1, 5)))

    rules = sorted(
        tuple(e["rule"] for e in body["data"][field]["userErrors"])
        for body in bodies
        for field in body["data"]
    )
    assert rules == [()] * passing + [("CR-08",)] * (4 - passing)
    assert await _balance(hub, store, member) == 246 - 10 * (1 + passing)
    assert (await hub.database.read(ledger.verify)).clean


@pytest.mark.parametrize(("hard", "passing"), [(3, 3), (6, 6)])
async def test_racing_donations_and_redemptions_hold_the_daily_count(
    hub: Hub, hard: int, passing: int
) -> None:
    """Two redemptions, two donations by a charity partner and two by the member herself
    race for one member's daily count (finding F5: donations are spends)."""
    alliance = await Alliance(hub).setup()  # the member has 123 points
    charity = await _partner(hub, "greenfuture", kind="CHARITY")
    await _register(hub, charity, ref="g-1")
    project = await _project(hub, charity)
    published = await _gql(
        hub,
        PUBLISH,
        alliance.store,
        items=[
            {
                "sku": "mug",
                "title": "Mug",
                "category": "home",
                "kind": "GOODS",
                "green": False,
                "basePoints": 5,
            }
        ],
    )
    mug = published["data"]["upsertCatalogItems"]["items"][0]["id"]
    own = await member_token(hub)
    await _threshold(hub, "REDEMPTIONS_PER_MEMBER_DAY", soft=1, hard=hard)

    def donate(token: str, key: str) -> Any:
        return _gql(
            hub,
            DONATE,
            token,
            input={
                "idempotencyKey": key,
                "memberId": alliance.member,
                "charityProjectId": project,
                "points": 5,
            },
        )

    def redeem(key: str) -> Any:
        return _gql(
            hub,
            REDEEM,
            alliance.store,
            input={"idempotencyKey": key, "memberId": alliance.member, "catalogItemId": mug},
        )

    bodies = await asyncio.gather(
        redeem("r1"),
        donate(charity, "d1"),
        donate(own, "m1"),
        redeem("r2"),
        donate(charity, "d2"),
        donate(own, "m2"),
    )

    rules = sorted(
        tuple(e["rule"] for e in body["data"][field]["userErrors"])
        for body in bodies
        for field in body["data"]
    )
    assert rules == [()] * passing + [("CR-08",)] * (6 - passing)
    assert await _balance(hub, alliance.store, alliance.member) == 123 - 5 * passing
    assert (await hub.database.read(ledger.verify)).clean


@pytest.mark.parametrize(("hard", "passing"), [(100, 1), (120, 2)])
async def test_racing_voucher_redemptions_hold_the_fast_liquid_limit(
    hub: Hub, hard: int, passing: int
) -> None:
    """Finding F6 raced: 246 fresh points, two 60-point voucher redemptions at once."""
    store, member, _ = await _spender(hub)
    published = await _gql(
        hub,
        PUBLISH,
        store,
        items=[
            {
                "sku": "voucher",
                "title": "Snack voucher",
                "category": "food",
                "kind": "VOUCHER",
                "green": False,
                "basePoints": 60,
            }
        ],
    )
    voucher = published["data"]["upsertCatalogItems"]["items"][0]["id"]
    await _threshold(hub, "FAST_LIQUID_REDEMPTION", soft=10, hard=hard)

    bodies = await asyncio.gather(
        *(
            _gql(
                hub,
                REDEEM,
                store,
                input={"idempotencyKey": f"v{n}", "memberId": member, "catalogItemId": voucher},
            )
            for n in range(2)
        )
    )

    assert _outcomes(bodies, "redeemPoints") == [()] * passing + [("CR-08",)] * (2 - passing)
    assert await _balance(hub, store, member) == 246 - 60 * passing
    assert (await hub.database.read(ledger.verify)).clean


@pytest.mark.parametrize(("hard", "passing"), [(250, 2), (300, 3)])
async def test_racing_awards_hold_the_partners_issuance_spike_limit(
    hub: Hub, hard: int, passing: int
) -> None:
    """A partner's pattern raced: ten days of 123 points a day, then three awards of 123
    at once today (100 %, 200 %, 300 % of its average). The partner's budget row, taken
    before the figure is read, puts them one after the other."""
    store, store_id = await _seasoned_partner(hub, "store", days=12)
    members = [await _register(hub, store, ref=f"m-{n}", phone=f"1380013800{n}") for n in range(3)]
    for days_ago in range(10, 0, -1):
        await _award_at(hub, store_id, members[0], _midday(days_ago), 12_300, f"h{days_ago}")
    await _threshold(hub, "PARTNER_ISSUANCE_SPIKE", soft=150, hard=hard)

    bodies = await asyncio.gather(
        *(
            _gql(hub, AWARD, store, input=_award_input(member, key=f"t{n}", order=f"t{n}"))
            for n, member in enumerate(members)
        )
    )

    assert _outcomes(bodies, "awardPoints") == [()] * passing + [("CR-08",)] * (3 - passing)
    assert (await hub.database.read(ledger.verify)).clean
