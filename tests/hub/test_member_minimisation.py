"""CR-10 minimisation (PIPL Art. 6): a partner sees its own lines with a member in full,
the member's activity at other partners only as totals, and a lot's issuer only if it is
that issuer; the operator sees everything."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import (
    AWARD,
    PUBLISH,
    REDEEM,
    _award_input,
    _gql,
    _partner,
    _register,
)

pytestmark = pytest.mark.anyio

VIEW = """query($id: ID!) {
  member(id: $id) {
    balance
    lots { edges { node { points remaining issuer { code } earnedAt expiresAt } } }
    history { edges { node { code amount partner { code } orderRef redemptionId } } }
    activityElsewhere { pointsIn pointsOut }
    expiringElsewhere { expiresOn points }
  }
}"""
NODE_VIEW = """query($id: ID!) {
  node(id: $id) { ... on Member {
    lots { edges { node { issuer { code } } } }
    history { edges { node { code orderRef partner { code } } } }
  } }
}"""


@pytest.fixture
async def alliance(hub: Hub) -> dict[str, Any]:
    """A member who earned 123 at the store (order-1) and spent 70 at the cinema."""
    store = await _partner(hub, "store")
    cinema = await _partner(hub, "cinema")
    optician = await _partner(hub, "optician")
    member = await _register(hub, store)
    await _register(hub, cinema, ref="c-1")
    await _register(hub, optician, ref="o-1")
    ticket = (
        await _gql(
            hub,
            PUBLISH,
            cinema,
            items=[
                {
                    "sku": "ticket",
                    "title": "Ticket",
                    "category": "film",
                    "kind": "VOUCHER",
                    "green": False,
                    "basePoints": 35,
                }
            ],
        )
    )["data"]["upsertCatalogItems"]["items"][0]["id"]
    await _gql(hub, AWARD, store, input=_award_input(member))
    redeemed = await _gql(
        hub,
        REDEEM,
        cinema,
        input={"idempotencyKey": "r", "memberId": member, "catalogItemId": ticket, "quantity": 2},
    )
    assert redeemed["data"]["redeemPoints"]["userErrors"] == []
    operator = await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))
    return {
        "member": member,
        "store": store,
        "cinema": cinema,
        "optician": optician,
        "operator": operator,
    }


def _lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in body["data"]["member"]["history"]["edges"]]


def _issuers(body: dict[str, Any]) -> list[Any]:
    return [edge["node"]["issuer"] for edge in body["data"]["member"]["lots"]["edges"]]


async def test_the_issuing_partner_sees_its_award_and_only_totals_elsewhere(
    hub: Hub, alliance: dict[str, Any]
) -> None:
    body = await _gql(hub, VIEW, alliance["store"], id=alliance["member"])

    assert _issuers(body) == [{"code": "store"}]
    assert _lines(body) == [
        {
            "code": "earn",
            "amount": 123,
            "partner": {"code": "store"},
            "orderRef": "order-1",
            "redemptionId": None,
        }
    ]
    assert body["data"]["member"]["activityElsewhere"] == {"pointsIn": "0", "pointsOut": "70"}
    assert body["data"]["member"]["balance"] == 53
    # Its own lot in full; nothing elsewhere to expire.
    [lot] = [edge["node"] for edge in body["data"]["member"]["lots"]["edges"]]
    assert (lot["points"], lot["remaining"]) == (123, 53)
    assert lot["earnedAt"]
    assert body["data"]["member"]["expiringElsewhere"] == []


async def test_the_redeeming_partner_sees_its_redemption_and_not_the_store(
    hub: Hub, alliance: dict[str, Any]
) -> None:
    body = await _gql(hub, VIEW, alliance["cinema"], id=alliance["member"])
    own = await _gql(hub, VIEW, alliance["store"], id=alliance["member"])

    # Found by an outside attack (F10): the store's lot showed the cinema when the member
    # bought at the store, to the microsecond, and for how much. Now not at all: only its
    # points left by the day they expire, with no partner or time.
    assert _issuers(body) == []
    [lot] = [edge["node"] for edge in own["data"]["member"]["lots"]["edges"]]
    assert body["data"]["member"]["expiringElsewhere"] == [
        {"expiresOn": lot["expiresAt"][:10], "points": 53}
    ]
    assert lot["earnedAt"][:19] not in str(body)
    lines = _lines(body)
    assert [
        (line["code"], line["amount"], line["partner"], line["orderRef"]) for line in lines
    ] == [("redeem", -70, {"code": "cinema"}, "item:ticket")]
    assert lines[0]["redemptionId"] is not None
    assert body["data"]["member"]["activityElsewhere"] == {"pointsIn": "123", "pointsOut": "0"}
    assert "order-1" not in str(body)
    assert "store" not in str(body)


async def test_a_partner_with_no_activity_sees_totals_and_expiry_only(
    hub: Hub, alliance: dict[str, Any]
) -> None:
    body = await _gql(hub, VIEW, alliance["optician"], id=alliance["member"])

    member = body["data"]["member"]
    assert member["history"] == {"edges": []}
    assert member["lots"] == {"edges": []}
    [expiring] = member["expiringElsewhere"]
    assert expiring["points"] == 53
    assert member["activityElsewhere"] == {"pointsIn": "123", "pointsOut": "70"}


async def test_the_operator_sees_every_line_and_every_issuer(
    hub: Hub, alliance: dict[str, Any]
) -> None:
    body = await _gql(hub, VIEW, alliance["operator"], id=alliance["member"])

    assert _issuers(body) == [{"code": "store"}]
    assert [(line["code"], line["partner"], line["orderRef"]) for line in _lines(body)] == [
        ("redeem", {"code": "cinema"}, "item:ticket"),
        ("earn", {"code": "store"}, "order-1"),
    ]
    assert body["data"]["member"]["activityElsewhere"] is None
    assert body["data"]["member"]["expiringElsewhere"] is None
    [lot] = [edge["node"] for edge in body["data"]["member"]["lots"]["edges"]]
    assert lot["earnedAt"]


async def test_the_member_sees_every_lot_with_its_time_and_issuer(
    hub: Hub, alliance: dict[str, Any]
) -> None:
    from tests.hub.test_member_self import member_token

    token = await member_token(hub)
    body = await _gql(
        hub, "{ me { lots { edges { node { points issuer { code } earnedAt } } } } }", token
    )

    [lot] = [edge["node"] for edge in body["data"]["me"]["lots"]["edges"]]
    assert (lot["points"], lot["issuer"]) == (123, {"code": "store"})
    assert lot["earnedAt"]


async def test_a_partner_pages_only_its_own_lots(hub: Hub, alliance: dict[str, Any]) -> None:
    """Two more lots at the optician: it pages through its two, never the store's."""
    for n in (2, 3):
        body = await _gql(
            hub,
            AWARD,
            alliance["optician"],
            input=_award_input(alliance["member"], key=f"o-{n}", order=f"o-order-{n}"),
        )
        assert body["data"]["awardPoints"]["userErrors"] == []
    page = """query($id: ID!, $after: String) { member(id: $id) {
      lots(first: 1, after: $after) { edges { cursor node { issuer { code } } }
        pageInfo { hasNextPage } }
      expiringElsewhere { points } } }"""

    first = await _gql(hub, page, alliance["optician"], id=alliance["member"])
    cursor = first["data"]["member"]["lots"]["edges"][0]["cursor"]
    second = await _gql(hub, page, alliance["optician"], id=alliance["member"], after=cursor)

    for body in (first, second):
        member = body["data"]["member"]
        assert [e["node"]["issuer"] for e in member["lots"]["edges"]] == [{"code": "optician"}]
        assert member["expiringElsewhere"] == [{"points": 53}]
    assert first["data"]["member"]["lots"]["pageInfo"]["hasNextPage"] is True
    assert second["data"]["member"]["lots"]["pageInfo"]["hasNextPage"] is False


async def test_node_applies_the_same_rule(hub: Hub, alliance: dict[str, Any]) -> None:
    body = await _gql(hub, NODE_VIEW, alliance["cinema"], id=alliance["member"])

    assert body == {
        "data": {
            "node": {
                "lots": {"edges": []},
                "history": {
                    "edges": [
                        {
                            "node": {
                                "code": "redeem",
                                "orderRef": "item:ticket",
                                "partner": {"code": "cinema"},
                            }
                        }
                    ]
                },
            }
        }
    }
