"""A partner's system against a real hub process: uvicorn on 127.0.0.1, authlib's client."""

from __future__ import annotations

import asyncio

import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client

from core.db import Database, utcnow
from partners.clients import IssuedClient, create_client
from partners.registry import add_partner
from tests.serving import serving
from tests.stores import TEST_SECRET_KEY


def _onboard(database_url: str) -> IssuedClient:
    async def run() -> IssuedClient:
        database = Database(database_url)
        try:
            await database.write(
                add_partner, code="tea", name="Leaf Tea", legal_entity="Leaf Tea Co", now=utcnow()
            )
            return await database.write(
                create_client,
                TEST_SECRET_KEY,
                partner_code="tea",
                scopes=["catalog:write"],
                now=utcnow(),
            )
        finally:
            await database.dispose()

    return asyncio.run(run())


@pytest.mark.slow
def test_a_partner_gets_a_token_and_calls_graphql_over_real_http(database_url: str) -> None:
    client = _onboard(database_url)

    async def call(base: str) -> dict[str, object]:
        async with AsyncOAuth2Client(client.client_id, client.client_secret) as oauth:
            await oauth.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
            reply = await oauth.post(
                f"{base}/graphql", json={"query": "{ viewer { partnerCode } }"}
            )
            return dict(reply.json())

    with serving(database_url) as base:
        body = asyncio.run(call(base))

    assert body == {"data": {"viewer": {"partnerCode": "tea"}}}
