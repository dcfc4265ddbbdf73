"""Issue 12's findings replayed through GraphQL, each refused with its rule (ledger
untouched, one audit row) next to its allowed neighbour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import PUBLISH_ONE, Alliance, _allowed, _blocked
from tests.hub.test_graphql_members import _gql, _partner, _register

pytestmark = pytest.mark.anyio

DONATE = """mutation($input: DonatePointsInput!) {
  donatePoints(input: $input) { points userErrors { code rule field } } }"""


async def _project(hub: Hub, token: str) -> str:
    body = await _gql(
        hub,
        PUBLISH_ONE,
        token,
        items=[
            {
                "sku": "trees",
                "title": "Plant trees",
                "category": "charity",
                "kind": "CHARITY",
                "green": False,
                "basePoints": 1,
            }
        ],
    )
    assert body["data"]["upsertCatalogItems"]["userErrors"] == [], body
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


def _donate(
    alliance: Alliance, token: str, project: str, key: str
) -> Callable[[], Awaitable[dict]]:
    async def run() -> dict:
        body = await _gql(
            alliance.hub,
            DONATE,
            token,
            input={
                "idempotencyKey": key,
                "memberId": alliance.member,
                "charityProjectId": project,
                "points": 5,
            },
        )
        return dict(body["data"]["donatePoints"])

    return run


async def test_only_a_registered_charity_receives_donations(hub: Hub) -> None:
    """The convenience store's own "staff fund" cannot take donations: CR-06."""
    alliance = await Alliance(hub).setup()
    charity = await _partner(hub, "greenfuture", kind="CHARITY")
    await _register(hub, charity, ref="g-1")
    project = await _project(hub, charity)

    staff_fund = await _gql(
        hub,
        PUBLISH_ONE,
        alliance.store,
        items=[
            {
                "sku": "staff-fund",
                "title": "Staff fund",
                "category": "charity",
                "kind": "CHARITY",
                "green": False,
                "basePoints": 1,
            }
        ],
    )
    assert [e["rule"] for e in staff_fund["data"]["upsertCatalogItems"]["userErrors"]] == ["CR-06"]
    await _blocked(alliance, "CR-06", _donate(alliance, alliance.store, project, "d-store"))
    await _allowed(alliance, _donate(alliance, charity, project, "d-charity"))
