"""Two hub workers (separate processes on one database), each with its own public
response cache: a change committed through one is seen by the very next request to the
other, and a promotion is served from the instant it starts, by both."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import httpx2
import pytest

from core.db import Database, utcnow
from partners.catalog import ItemInput, upsert_items
from partners.clients import IssuedClient, create_client
from partners.registry import add_partner, find_partner
from tests.serving import serving
from tests.stores import TEST_SECRET_KEY

PAGE = "{ catalog(first: 10) { edges { node { id sku points } } } }"


def _onboard(database_url: str) -> tuple[IssuedClient, IssuedClient]:
    async def run() -> tuple[IssuedClient, IssuedClient]:
        database = Database(database_url)
        try:
            now = utcnow()
            await database.write(
                add_partner, code="shop", name="Shop", legal_entity="Shop Ltd", now=now
            )
            partner = await database.read(find_partner, "shop")
            await database.write(
                upsert_items,
                partner.id,
                [
                    ItemInput("a", "Item a", "gifts", "GOODS", False, 100),
                    ItemInput("b", "Item b", "gifts", "GOODS", False, 200),
                ],
                now,
            )
            shop = await database.write(
                create_client,
                TEST_SECRET_KEY,
                partner_code="shop",
                scopes=["catalog:write"],
                now=now,
            )
            operator = await database.write(
                create_client,
                TEST_SECRET_KEY,
                partner_code=None,
                scopes=["operator:admin"],
                now=now,
            )
            return shop, operator
        finally:
            await database.dispose()

    return asyncio.run(run())


def _token(http: httpx2.Client, base: str, client: IssuedClient) -> str:
    reply = http.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.client_secret or ""),
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


VARIED = """query($most: Int) {
  catalog(first: 10, filter: {maxPoints: $most}) { edges { node { sku points } } } }"""
ASKED = iter(range(10_000, 20_000))


def _page(http: httpx2.Client, base: str) -> dict[str, int]:
    """The page as the public cache answers it (GET), checked against the same page with
    arguments never asked before (no cache can answer it: the worker's in-memory catalogue
    or the database does)."""
    reply = http.get(f"{base}/graphql", params={"query": PAGE})
    assert reply.status_code == 200, reply.text
    assert reply.headers["cache-control"].startswith("public")
    cached = {
        e["node"]["sku"]: e["node"]["points"] for e in reply.json()["data"]["catalog"]["edges"]
    }
    fresh = http.post(
        f"{base}/graphql", json={"query": VARIED, "variables": {"most": next(ASKED)}}
    ).json()["data"]["catalog"]["edges"]
    assert {e["node"]["sku"]: e["node"]["points"] for e in fresh} == cached
    return cached


def _mutate(http: httpx2.Client, base: str, token: str, query: str, **variables: object) -> None:
    reply = http.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = reply.json()
    assert reply.status_code == 200, body
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], payload


def _until(at: datetime) -> None:
    time.sleep(max(0.0, (at - utcnow()).total_seconds()))


UPSERT = """mutation($items: [CatalogItemInput!]!) {
  upsertCatalogItems(input: {items: $items}) { userErrors { code } } }"""
PROMOTE = """mutation($id: ID!, $starts: DateTime!, $ends: DateTime!) {
  setPromotion(input: {catalogItemId: $id, points: 10, startsAt: $starts, endsAt: $ends}) {
    userErrors { code } } }"""
SUSPEND = 'mutation { suspendPartner(input: {code: "shop"}) { userErrors { code } } }'


@pytest.mark.slow
def test_two_workers_never_serve_a_stale_catalogue(database_url: str) -> None:
    shop, operator = _onboard(database_url)
    with serving(database_url) as one, serving(database_url) as two, httpx2.Client() as http:
        shop_token, operator_token = _token(http, one, shop), _token(http, one, operator)
        for base in (one, two, one, two):  # both workers have the page cached
            assert _page(http, base) == {"a": 100, "b": 200}

        # A price change committed through worker one.
        _mutate(
            http,
            one,
            shop_token,
            UPSERT,
            items=[
                {
                    "sku": "b",
                    "title": "Item b",
                    "category": "gifts",
                    "kind": "GOODS",
                    "green": False,
                    "basePoints": 50,
                }
            ],
        )
        for base in (two, one, two):
            assert _page(http, base) == {"b": 50, "a": 100}

        # A promotion that starts a few seconds from now, set through worker one.
        ids = http.get(f"{two}/graphql", params={"query": PAGE}).json()["data"]["catalog"]
        item_a = next(e["node"]["id"] for e in ids["edges"] if e["node"]["sku"] == "a")
        starts = utcnow() + timedelta(seconds=3)
        _mutate(
            http,
            one,
            shop_token,
            PROMOTE,
            id=item_a,
            starts=starts.isoformat(),
            ends=(starts + timedelta(hours=1)).isoformat(),
        )
        for base in (two, one):
            assert _page(http, base) == {"b": 50, "a": 100}
        _until(starts)
        for base in (two, one, two):
            assert _page(http, base) == {"a": 10, "b": 50}

        # The partner suspended through worker one.
        _mutate(http, one, operator_token, SUSPEND)
        for base in (two, one):
            assert _page(http, base) == {}
