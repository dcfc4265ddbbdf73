"""A travelled hub behaves as it would later (core/clock.py): every part that reads the
time follows the one clock, so tokens, codes and assertions expire, holds lapse for the
worker, and the public cache and the in-memory catalogue leave their time windows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import utcnow
from hub.worker import Worker, schedule
from partners.catalog import ItemInput, upsert_items
from partners.models import AuthMethod, Promotion
from partners.registry import find_partner
from tests.conftest import Clock
from tests.hub.conftest import Hub, assertion, assertion_form, public_jwks, signing_key
from tests.hub.test_graphql_members import (
    CONFIRM_REGISTRATION,
    REGISTER,
    _gql,
    _partner,
)
from tests.hub.test_graphql_redemptions import BALANCE, RESERVE, _alliance

pytestmark = pytest.mark.anyio

VIEWER = "{ viewer { clientId } }"
PAGE = "{ catalog(first: 10) { edges { node { sku points } } } }"


async def test_an_access_token_expires_in_the_hubs_time(hub: Hub, clock: Clock) -> None:
    await hub.partner("mall")
    client = await hub.client(partner="mall", scopes=("points:redeem",))
    token = await hub.access_token(client)

    clock.travel(get_settings().access_token_lifetime - timedelta(minutes=1))
    still = await hub.viewer(token)
    clock.travel(timedelta(minutes=2))
    expired = await hub.viewer(token)
    fresh = await hub.viewer(await hub.access_token(client))

    assert still.json()["data"]["viewer"]["clientId"] == client.client_id
    assert expired.status_code == 401
    assert fresh.json()["data"]["viewer"]["clientId"] == client.client_id


async def test_a_client_assertion_is_judged_by_the_hubs_clock(hub: Hub, clock: Clock) -> None:
    await hub.partner("mall")
    key = signing_key()
    client = await hub.client(
        partner="mall", method=AuthMethod.PRIVATE_KEY_JWT, jwks=public_jwks(key)
    )
    made_before = assertion(key, client.client_id)  # valid for a minute of the hub's time

    clock.travel(timedelta(minutes=5))
    stale = await hub.http.post("/oauth/token", data=assertion_form(made_before))
    current = await hub.http.post(
        "/oauth/token", data=assertion_form(assertion(key, client.client_id))
    )

    assert (stale.status_code, stale.json()["error"]) == (401, "invalid_client")
    assert current.status_code == 200, current.text


async def test_a_registration_code_expires_in_the_hubs_time(hub: Hub, clock: Clock) -> None:
    store = await _partner(hub, "store")

    async def register(ref: str, phone: str) -> tuple[str, str]:
        body = await _gql(
            hub,
            REGISTER,
            store,
            input={"externalRef": ref, "phone": phone, "displayName": "Li", "consent": True},
        )
        return body["data"]["registerMember"]["requestId"], hub.last_message()["code"]

    async def confirm(request: str, code: str) -> dict[str, Any]:
        body = await _gql(
            hub, CONFIRM_REGISTRATION, store, input={"requestId": request, "code": code}
        )
        return dict(body["data"]["confirmMemberRegistration"])

    in_time, late = await register("m-1", "138 0013 8000"), await register("m-2", "139 0013 9000")
    clock.travel(timedelta(minutes=4))  # a code lives five minutes
    confirmed = await confirm(*in_time)
    clock.travel(timedelta(minutes=2))
    refused = await confirm(*late)

    assert confirmed["userErrors"] == []
    assert confirmed["member"]["status"] == "ACTIVE"
    assert refused["member"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_CODE"]


async def test_the_worker_voids_a_hold_past_its_deadline_in_the_hubs_time(
    hub: Hub, clock: Clock
) -> None:
    _, cinema, member, ticket = await _alliance(hub)
    reserved = await _gql(
        hub,
        RESERVE,
        cinema,
        input={"idempotencyKey": "res-1", "memberId": member, "catalogItemId": ticket},
    )
    worker = Worker(hub.database, get_settings(), jobs=schedule(get_settings()))
    await worker.run_due_jobs()  # nothing overdue yet
    held = await _gql(hub, BALANCE, cinema, id=member)

    clock.travel(get_settings().hold_ttl + timedelta(minutes=2))
    await worker.run_due_jobs()
    cinema = await hub.access_token(await hub.client(partner="cinema", scopes=("members:read",)))
    after = await _gql(hub, BALANCE, cinema, id=member)

    assert reserved["data"]["reserveRedemption"]["redemption"]["status"] == "PENDING"
    assert held["data"]["member"] == {"balance": 88, "heldPoints": 35}
    assert after["data"]["member"] == {"balance": 123, "heldPoints": 0}


async def test_the_public_catalogue_follows_the_travelled_clock(hub: Hub, clock: Clock) -> None:
    """A promotion from in three days to in ten: the anonymous answer (public cache) and the
    signed-in one (in-memory catalogue) both show it exactly while it runs."""
    await hub.partner("shop")
    partner = await hub.database.read(find_partner, "shop")
    now = utcnow()
    await hub.database.write(
        upsert_items,
        partner.id,
        [ItemInput("a", "Item a", "gifts", "GOODS", False, 100)],
        now,
    )
    item_id = int(
        await hub.database.read(
            lambda s: s.execute(text("SELECT id FROM catalog_items WHERE sku = 'a'")).scalar()
        )
    )

    def promote(session: Session) -> None:
        session.add(
            Promotion(
                item_id=item_id,
                points=10,
                starts_at=now + timedelta(days=3),
                ends_at=now + timedelta(days=10),
                created_at=now,
            )
        )

    await hub.database.write(promote)
    client = await hub.client(partner="shop", scopes=("points:redeem",))

    async def both() -> tuple[Any, Any]:
        anonymous = await hub.http.get("/graphql", params={"query": PAGE})
        token = await hub.access_token(client)
        signed_in = await _gql(hub, PAGE, token)
        await hub.app.state.catalogue.settled()
        return _points(anonymous.json()), _points(signed_in)

    before = [await both(), await both()]  # the second from the cache and from memory
    clock.travel(timedelta(days=3, minutes=1))
    running = [await both(), await both()]
    clock.travel(timedelta(days=7))
    ended = [await both(), await both()]

    assert before == [(100, 100), (100, 100)]
    assert running == [(10, 10), (10, 10)]
    assert ended == [(100, 100), (100, 100)]
    snapshot = hub.app.state.catalogue.snapshot
    assert snapshot is not None
    assert snapshot.valid_from >= now + timedelta(days=10)  # loaded in the travelled time


def _points(body: dict[str, Any]) -> int:
    return int(body["data"]["catalog"]["edges"][0]["node"]["points"])
