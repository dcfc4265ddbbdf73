"""Webhook tests drive the hub through GraphQL and the worker with a clock they move."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.config import get_settings
from core.db import Database, utcnow
from hub.worker import Worker
from tests.hub.conftest import Hub, hub
from tests.hub.test_graphql_members import ALL, _gql, _partner

__all__ = ["hub"]

CREATE = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url eventTypes status } secret userErrors { code message field }
  }
}"""
WEBHOOK_SCOPES = (*ALL, "webhooks:manage")


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


async def webhook_partner(hub: Hub, code: str) -> str:
    return await _partner(hub, code, scopes=WEBHOOK_SCOPES)


async def register_endpoint(hub: Hub, token: str, url: str, types: list[str]) -> dict[str, Any]:
    body = await _gql(hub, CREATE, token, input={"url": url, "eventTypes": types})
    created = body["data"]["createWebhookEndpoint"]
    assert created["userErrors"] == [], created
    return dict(created)


def worker(database: Database, clock: Clock) -> Worker:
    return Worker(database, get_settings(), clock=clock)


async def drain(worker: Worker, clock: Clock, step: timedelta = timedelta(seconds=30)) -> None:
    """Run the worker, moving the clock on, until nothing is left to post (at most 3 days)."""
    from webhooks.delivery import pending_count

    for _ in range(10_000):
        await worker.deliver()
        if not await worker.database.read(pending_count):
            return
        clock.advance(step)
    raise AssertionError("deliveries still pending after three simulated days")
