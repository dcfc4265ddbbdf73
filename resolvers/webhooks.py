"""Webhook endpoints of the calling partner, or of the operator (owner None)."""

from __future__ import annotations

from core.config import get_settings
from core.db import utcnow
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, attempt
from resolvers.pagination import encode_cursor, page_request
from webhooks.destinations import check_destination
from webhooks.endpoints import (
    CreatedEndpoint,
    DeliveryView,
    EndpointView,
    create_endpoint,
    deliveries_page,
    disable_endpoint,
    endpoints_page,
    replay_delivery,
    rotate_secret,
)
from webhooks.errors import DeliveryNotFound, EndpointNotFound


def owner(context: HubContext) -> int | None:
    """The partner whose endpoints these are; None for the operator's own."""
    return context.principal.partner_id


def _endpoint_id(global_id: str) -> int:
    found = decode_id(global_id, "WebhookEndpoint")
    if found is None:
        raise EndpointNotFound()
    return found


async def create(context: HubContext, url: str, event_types: list[str]) -> Outcome[CreatedEndpoint]:
    settings = get_settings()

    async def call() -> CreatedEndpoint:
        await check_destination(url, production=settings.production)
        return await context.database.write(
            create_endpoint,
            settings.secret_key,
            owner=owner(context),
            url=url,
            event_types=event_types,
            production=settings.production,
            now=utcnow(),
        )

    return await attempt(context, "createWebhookEndpoint", call)


async def rotate(context: HubContext, endpoint_gid: str) -> Outcome[CreatedEndpoint]:
    settings = get_settings()

    async def call() -> CreatedEndpoint:
        return await context.database.write(
            rotate_secret,
            settings.secret_key,
            owner=owner(context),
            endpoint_id=_endpoint_id(endpoint_gid),
            grace=settings.secret_rotation_grace,
            now=utcnow(),
        )

    return await attempt(context, "rotateWebhookSecret", call)


async def disable(context: HubContext, endpoint_gid: str) -> Outcome[EndpointView]:
    async def call() -> EndpointView:
        return await context.database.write(
            disable_endpoint,
            owner=owner(context),
            endpoint_id=_endpoint_id(endpoint_gid),
            now=utcnow(),
        )

    return await attempt(context, "disableWebhookEndpoint", call)


async def replay(context: HubContext, delivery_gid: str) -> Outcome[int]:
    delivery_id = decode_id(delivery_gid, "WebhookDelivery")

    async def call() -> int:
        if delivery_id is None:
            raise DeliveryNotFound()
        return await context.database.write(
            replay_delivery, owner=owner(context), delivery_id=delivery_id, now=utcnow()
        )

    return await attempt(context, "replayWebhookDelivery", call)


async def endpoints(
    context: HubContext, first: int | None, after: str | None
) -> tuple[list[tuple[str, EndpointView]], bool]:
    page = page_request(first, after, "webhook-endpoints")
    after_id = int(page.after[0]) if page.after else None
    rows = await context.database.read(
        endpoints_page, owner(context), limit=page.limit, after_id=after_id
    )
    shown = rows[: page.limit]
    return [(encode_cursor("webhook-endpoints", [r.id]), r) for r in shown], len(rows) > page.limit


async def deliveries(
    context: HubContext, endpoint_gid: str, first: int | None, after: str | None
) -> tuple[list[tuple[str, DeliveryView]], bool] | None:
    """None when the endpoint is not the caller's (it reads as not found)."""
    endpoint_id = decode_id(endpoint_gid, "WebhookEndpoint")
    kind = f"webhook-deliveries:{endpoint_id}"
    page = page_request(first, after, kind)
    if endpoint_id is None:
        return None
    before_id = int(page.after[0]) if page.after else None
    try:
        rows = await context.database.read(
            deliveries_page,
            owner=owner(context),
            endpoint_id=endpoint_id,
            limit=page.limit,
            before_id=before_id,
        )
    except EndpointNotFound:
        return None
    shown = rows[: page.limit]
    return [(encode_cursor(kind, [r.id]), r) for r in shown], len(rows) > page.limit
