"""Overload beyond the database bound is 503 with Retry-After on every endpoint, never a
500; a committed write's payload never depends on a read after its commit."""

from __future__ import annotations

import asyncio
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
    await hub.app.state.catalogue.settled()  # a catalogue reload holds a slot meanwhile
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

    # The check reads the credentials' version on every request (its client state may be
    # held in memory) and the state when it is not: either failing is unavailable.
    monkeypatch.setattr(hub.database, "peek", broken)
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


REDEEM_SEEN = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) {
    redemption { id status points } member { balance heldPoints } userErrors { code }
  }
}"""


async def test_a_replay_shows_the_balance_the_first_answer_showed(hub: Hub) -> None:
    _, cinema, member, ticket = await _alliance(hub)  # 123 points, a 35-point ticket

    async def redeem(key: str) -> dict[str, object]:
        answer = await _gql(
            hub,
            REDEEM_SEEN,
            cinema,
            input={"idempotencyKey": key, "memberId": member, "catalogItemId": ticket},
        )
        payload: dict[str, object] = answer["data"]["redeemPoints"]
        return payload

    first = await redeem("first")
    second = await redeem("second")  # the balance moves on
    replayed = await redeem("first")

    assert first["member"] == {"balance": 88, "heldPoints": 0}
    assert second["member"] == {"balance": 53, "heldPoints": 0}
    assert replayed == first


@contextlib.asynccontextmanager
async def requests_saturated(hub: Hub, queue_limit: int = 0, wait: float = 0.05):  # type: ignore[no-untyped-def]
    """Every request slot of the worker taken (by requests still running); a line of
    ``queue_limit`` waiting at most ``wait`` seconds."""
    admission = hub.app.state.request_admission
    admission.queue_limit, admission.timeout = queue_limit, wait
    for _ in range(admission.limit):
        await admission.acquire()
    try:
        yield admission
    finally:
        for _ in range(admission.limit):
            admission.release()


async def test_requests_beyond_the_line_are_503_before_any_work(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cinema, _, _ = await _alliance(hub)
    client = await hub.client()
    touched: list[str] = []
    original = hub.database.read

    async def read(*args: object, **kwargs: object) -> object:
        touched.append("read")
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hub.database, "read", read)

    async with requests_saturated(hub):
        graphql = await hub.http.post(
            "/graphql", json={"query": CATALOG}, headers={"Authorization": f"Bearer {cinema}"}
        )
        token = await hub.token(client)
        health = await hub.http.get("/healthz")  # never waits in line

    assert graphql.status_code == 503
    assert graphql.headers["retry-after"] == "1"
    assert [e["extensions"]["code"] for e in graphql.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
    assert token.status_code == 503
    assert token.headers["retry-after"] == "1"
    assert token.json()["error"] == "temporarily_unavailable"
    assert health.status_code == 200
    assert touched == ["read"]  # the health check's ping; the refused requests read nothing


async def test_a_request_waits_its_turn_and_is_served_when_a_slot_frees(hub: Hub) -> None:
    _, cinema, _, _ = await _alliance(hub)

    async with requests_saturated(hub, queue_limit=10, wait=30) as admission:
        waiting = asyncio.create_task(
            hub.http.post(
                "/graphql", json={"query": CATALOG}, headers={"Authorization": f"Bearer {cinema}"}
            )
        )
        while admission.waiting == 0:  # noqa: ASYNC110 (the request is in line)
            await asyncio.sleep(0.01)
        assert not waiting.done()
        admission.release()  # one request finishes
        served = await waiting
        await admission.acquire()  # given back to the context manager

    assert served.status_code == 200
    assert "errors" not in served.json()
    assert (admission.running, admission.waiting) == (0, 0)


async def test_a_request_that_waits_past_the_bound_is_503(hub: Hub) -> None:
    _, cinema, _, _ = await _alliance(hub)

    async with requests_saturated(hub, queue_limit=10, wait=0.05):
        response = await hub.http.post(
            "/graphql", json={"query": CATALOG}, headers={"Authorization": f"Bearer {cinema}"}
        )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
