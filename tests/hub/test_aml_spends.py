"""CR-08 on every spend (issue 12, attack findings F5 and F6): donations count with the
day's redemptions, whoever makes them; fresh points spent on liquid items are counted
over the window, so splitting a redemption in two does not pass where one is refused.
Each refusal (ledger untouched, one audit row) sits next to its allowed neighbour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from core.db import utcnow
from tests.hub.conftest import Hub
from tests.hub.test_aml import THRESHOLD
from tests.hub.test_aml_patterns import _award_at, _cases, _seasoned_partner
from tests.hub.test_compliance_table import Alliance, _allowed, _blocked
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


async def _publish(
    hub: Hub, token: str, sku: str, kind: str, points: int, title: str = "Snack voucher"
) -> str:
    body = await _gql(
        hub,
        PUBLISH,
        token,
        items=[
            {
                "sku": sku,
                "title": title,
                "category": "food",
                "kind": kind,
                "green": False,
                "basePoints": points,
            }
        ],
    )
    assert body["data"]["upsertCatalogItems"]["userErrors"] == []
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


def _redeem(
    hub: Hub, token: str, member: str, item: str, key: str, quantity: int = 1
) -> Callable[[], Awaitable[dict]]:
    async def run() -> dict:
        body = await _gql(
            hub,
            REDEEM,
            token,
            input={
                "idempotencyKey": key,
                "memberId": member,
                "catalogItemId": item,
                "quantity": quantity,
            },
        )
        return dict(body["data"]["redeemPoints"])

    return run


def _donate(
    hub: Hub, token: str, member: str, project: str, key: str, points: int = 5
) -> Callable[[], Awaitable[dict]]:
    async def run() -> dict:
        body = await _gql(
            hub,
            DONATE,
            token,
            input={
                "idempotencyKey": key,
                "memberId": member,
                "charityProjectId": project,
                "points": points,
            },
        )
        return dict(body["data"]["donatePoints"])

    return run


async def _charity(alliance: Alliance) -> tuple[str, str]:
    charity = await _partner(alliance.hub, "greenfuture", kind="CHARITY")
    await _register(alliance.hub, charity, ref="g-1")
    return charity, await _project(alliance.hub, charity)


async def test_donations_count_with_the_days_redemptions_f5(hub: Hub) -> None:
    """The finding replayed: the charity made five donations for one member under a daily
    hard limit of 2, all passed, no case; the member's next redemption was refused."""
    alliance = await Alliance(hub).setup()
    charity, project = await _charity(alliance)
    own = await member_token(hub)
    mug = await _publish(hub, alliance.store, "mug", "GOODS", 5, "Mug")
    await _gql(
        hub, THRESHOLD, alliance.operator, pattern="REDEMPTIONS_PER_MEMBER_DAY", soft=1, hard=2
    )

    await _allowed(alliance, _donate(hub, charity, alliance.member, project, "d1"))
    assert await _cases(hub, alliance.operator) == []
    await _allowed(alliance, _donate(hub, own, alliance.member, project, "m1"))  # the 2nd
    [case] = await _cases(hub, alliance.operator)
    assert (case["pattern"], case["observed"], case["partner"]) == (
        "REDEMPTIONS_PER_MEMBER_DAY",
        2,
        {"code": "greenfuture"},
    )

    # A third spend of the day, whichever it is, is refused.
    await _blocked(alliance, "CR-08", _donate(hub, charity, alliance.member, project, "d2"))
    await _blocked(alliance, "CR-08", _donate(hub, own, alliance.member, project, "m2"))
    await _blocked(alliance, "CR-08", _redeem(hub, alliance.store, alliance.member, mug, "r1"))
    # A replay is the first donation's answer, not a new spend to screen.
    await _allowed(alliance, _donate(hub, charity, alliance.member, project, "d1"))
    # The neighbour: with room for a third spend, the member's own donation passes.
    await _gql(
        hub, THRESHOLD, alliance.operator, pattern="REDEMPTIONS_PER_MEMBER_DAY", soft=1, hard=3
    )
    await _allowed(alliance, _donate(hub, own, alliance.member, project, "m3"))
    balance = await _gql(hub, "{ me { balance } }", own)
    assert balance["data"]["me"]["balance"] == 123 - 3 * 5


async def test_a_donation_is_a_spend_but_not_a_liquid_one(hub: Hub) -> None:
    """A charity gift cannot be resold: fresh points donated at once are not a
    FAST_LIQUID_REDEMPTION, and they leave the fresh points a voucher may take intact."""
    alliance = await Alliance(hub).setup()  # 123 points earned just now
    charity, project = await _charity(alliance)
    voucher = await _publish(hub, alliance.store, "voucher", "VOUCHER", 10)
    await _gql(hub, THRESHOLD, alliance.operator, pattern="FAST_LIQUID_REDEMPTION", soft=1, hard=9)

    await _allowed(alliance, _donate(hub, charity, alliance.member, project, "d1", points=100))
    assert await _cases(hub, alliance.operator) == []
    await _blocked(
        alliance, "CR-08", _redeem(hub, alliance.store, alliance.member, voucher, "v1")
    )  # 10 fresh points on a voucher > 9


async def test_split_voucher_redemptions_add_up_f6(hub: Hub) -> None:
    """The finding replayed: 120 fresh points on vouchers in one redemption were refused,
    in two of 60 both passed. Now the second of the two is refused as the one of 120."""
    alliance = await Alliance(hub).setup()
    await _gql(
        hub, AWARD, alliance.store, input=_award_input(alliance.member, key="k2", order="k2")
    )
    voucher = await _publish(hub, alliance.store, "voucher", "VOUCHER", 60)
    goods = await _publish(hub, alliance.store, "goods", "GOODS", 60, "Snack box")
    await _gql(
        hub, THRESHOLD, alliance.operator, pattern="FAST_LIQUID_REDEMPTION", soft=10, hard=100
    )
    store, member = alliance.store, alliance.member

    await _blocked(alliance, "CR-08", _redeem(hub, store, member, voucher, "whole", quantity=2))
    await _allowed(alliance, _redeem(hub, store, member, voucher, "half-1"))
    [case] = await _cases(hub, alliance.operator)
    assert (case["pattern"], case["observed"]) == ("FAST_LIQUID_REDEMPTION", 60)
    await _blocked(alliance, "CR-08", _redeem(hub, store, member, voucher, "half-2"))  # 120
    # The neighbour: the same points on goods are not liquid.
    await _allowed(alliance, _redeem(hub, store, member, goods, "goods"))


async def test_a_voucher_redeemed_before_the_fresh_points_took_none_of_them(hub: Hub) -> None:
    store, store_id = await _seasoned_partner(hub, "store", days=2)
    operator = await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))
    member = await _register(hub, store)
    await _award_at(hub, store_id, member, utcnow() - timedelta(hours=1), 12_300, "old")
    voucher = await _publish(hub, store, "voucher", "VOUCHER", 60)
    await _gql(hub, THRESHOLD, operator, pattern="FAST_LIQUID_REDEMPTION", soft=10, hard=100)

    first = await _redeem(hub, store, member, voucher, "v1")()  # of points an hour old
    assert first["userErrors"] == []
    assert await _cases(hub, operator) == []
    await _gql(hub, AWARD, store, input=_award_input(member, key="fresh", order="fresh"))
    second = await _redeem(hub, store, member, voucher, "v2")()  # 60 of the 123 fresh
    third = await _redeem(hub, store, member, voucher, "v3")()  # 120 of them

    assert second["userErrors"] == []
    assert [e["rule"] for e in third["userErrors"]] == ["CR-08"]
    [case] = await _cases(hub, operator)
    assert (case["pattern"], case["observed"]) == ("FAST_LIQUID_REDEMPTION", 60)


async def test_a_voucher_declared_goods_is_screened_as_liquid(hub: Hub) -> None:
    """F6's second half: the same "Snack voucher" published as GOODS took 120 fresh points
    unscreened. An item whose title or category reads like a voucher is liquid whatever
    kind it declares; an honest GOODS item is not."""
    alliance = await Alliance(hub).setup()
    await _gql(
        hub, AWARD, alliance.store, input=_award_input(alliance.member, key="k2", order="k2")
    )
    store, member = alliance.store, alliance.member
    declared_goods = await _publish(hub, store, "snack-v", "GOODS", 120)  # "Snack voucher"
    coupon = await _gql(
        hub,
        PUBLISH,
        store,
        items=[
            {
                "sku": "coupon",
                "title": "Noodles",
                "category": "电影兑换券",
                "kind": "GOODS",
                "green": False,
                "basePoints": 120,
            }
        ],
    )
    coupon_id = coupon["data"]["upsertCatalogItems"]["items"][0]["id"]
    honest = await _gql(
        hub,
        PUBLISH,
        store,
        items=[
            {
                "sku": "snack-box",
                "title": "Snack box",
                "category": "food",
                "kind": "GOODS",
                "green": False,
                "basePoints": 120,
            }
        ],
    )
    honest_id = honest["data"]["upsertCatalogItems"]["items"][0]["id"]
    await _gql(
        hub, THRESHOLD, alliance.operator, pattern="FAST_LIQUID_REDEMPTION", soft=10, hard=100
    )

    await _blocked(alliance, "CR-08", _redeem(hub, store, member, declared_goods, "g1"))
    await _blocked(alliance, "CR-08", _redeem(hub, store, member, coupon_id, "g2"))
    await _allowed(alliance, _redeem(hub, store, member, honest_id, "g3"))
    assert await _cases(hub, alliance.operator) == []


# Attack finding G3: items that read like vouchers without the words "voucher" or 券 (glued
# Latin words, Traditional forms, pick-up cards, card secrets, the misspelling 兑换卷), each
# next to an honest GOODS neighbour with the same shape that passes.
DODGED_VOUCHERS = [
    ("snackvoucher", "Snack box"),
    ("CinemaCoupon 2D", "Cinema popcorn"),
    ("星巴克提货卡 中杯", "卡布奇诺 中杯"),
    ("兑换卷 电影 1张", "鸡肉卷 1份"),
    ("卡密 视频会员月卡", "会员卡套"),
    ("兑换碼 电影", "电影海报"),
    ("Gift code 50", "Gift box 50"),
    ("游戏激活码", "游戏手柄"),
]


@pytest.mark.parametrize(("liquid", "honest"), DODGED_VOUCHERS)
async def test_voucher_wording_declared_goods_is_screened_as_liquid_g3(
    hub: Hub, liquid: str, honest: str
) -> None:
    """The finding replayed: FAST_LIQUID_REDEMPTION soft 10 / hard 100, 246 fresh points,
    a GOODS item at 120 whose title reads like a voucher redeemed with no error and no case."""
    alliance = await Alliance(hub).setup()
    await _gql(
        hub, AWARD, alliance.store, input=_award_input(alliance.member, key="k2", order="k2")
    )
    store, member = alliance.store, alliance.member
    liquid_id = await _publish(hub, store, "liquid", "GOODS", 120, liquid)
    honest_id = await _publish(hub, store, "honest", "GOODS", 120, honest)
    await _gql(
        hub, THRESHOLD, alliance.operator, pattern="FAST_LIQUID_REDEMPTION", soft=10, hard=100
    )

    await _blocked(alliance, "CR-08", _redeem(hub, store, member, liquid_id, "l1"))
    await _allowed(alliance, _redeem(hub, store, member, honest_id, "h1"))
    assert await _cases(hub, alliance.operator) == []
