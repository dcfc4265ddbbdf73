"""Overload beyond the database bound is 503 with Retry-After on every endpoint, never a
500; a committed write's payload never depends on a read after its commit."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pytest
from sqlalchemy.orm import Session

import resolvers.loaders
from core.db import DatabaseBusy
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql
from tests.hub.test_graphql_redemptions import _alliance

pytestmark = pytest.mark.anyio

CATALOG = "{ catalog(first: 1) { edges { node { id } } } }"
# Served from the database (the catalogue itself may come from a worker's memory or cache).
PARTNERS = "{ partners(first: 1) { edges { node { id } } } }"


@contextlib.asynccontextmanager
async def saturated(hub: Hub):  # type: ignore[no-untyped-def]
    """Every admission slot busy and no queue: the next unit of work is refused."""
    admission = hub.database.admission
    admission.queue_limit = 0
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(admission.limit):
            await stack.enter_async_context(admission.slot())
        yield


async def test_graphql_over_the_bound_is_503_with_retry_after_and_service_unavailable(
    hub: Hub,
) -> None:
    _, cinema, _, _ = await _alliance(hub)
    await _gql(hub, CATALOG, cinema)  # the signing keys are cached
    await hub.app.state.catalogue.settled()  # the in-memory catalogue's load holds no slot

    async with saturated(hub):
        anonymous = await hub.http.post("/graphql", json={"query": PARTNERS})
        bearer = await hub.http.post(
            "/graphql", json={"query": PARTNERS}, headers={"Authorization": f"Bearer {cinema}"}
        )

    for response in (anonymous, bearer):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == [
            "SERVICE_UNAVAILABLE"
        ]


async def test_the_token_endpoint_over_the_bound_is_a_json_503(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    async with saturated(hub):
        response = await hub.token(client)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"] == "temporarily_unavailable"


async def test_a_failing_bearer_check_is_unavailable_not_a_500(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cinema, _, _ = await _alliance(hub)

    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(hub.database, "read", broken)
    response = await hub.http.post(
        "/graphql", json={"query": CATALOG}, headers={"Authorization": f"Bearer {cinema}"}
    )

    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "connection reset" not in response.text


async def test_a_committed_redemption_shows_its_balance_without_reading_after_commit(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cinema, member, ticket = await _alliance(hub)  # 123 points, a 35-point ticket

    def busy(session: Session, member_ids: Sequence[int]) -> None:
        raise DatabaseBusy("the pool is dry")

    monkeypatch.setattr(resolvers.loaders, "balances", busy)
    redeemed = await _gql(
        hub,
        """mutation($input: RedeemPointsInput!) {
          redeemPoints(input: $input) {
            redemption { status points } member { balance heldPoints } userErrors { code }
          }
        }""",
        cinema,
        input={"idempotencyKey": "seen", "memberId": member, "catalogItemId": ticket},
    )

    assert redeemed == {
        "data": {
            "redeemPoints": {
                "redemption": {"status": "CAPTURED", "points": 35},
                "member": {"balance": 88, "heldPoints": 0},
                "userErrors": [],
            }
        }
    }
