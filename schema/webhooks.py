"""Webhook endpoints: register, list, rotate the secret, disable; the delivery log and
replays (docs/events.md). A partner manages its own endpoints; the operator its own."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from resolvers import webhooks as resolve
from resolvers.context import HubContext
from resolvers.permissions import requires
from schema.connections import connection
from schema.errors import UserError, user_errors
from webhooks.endpoints import AttemptView, DeliveryView, EndpointView

SCOPES = ("webhooks:manage", "operator:admin")


def _gid(type_name: str, value: int) -> strawberry.ID:
    return strawberry.ID(relay.to_base64(type_name, value))


@strawberry.enum(description="Whether an endpoint receives deliveries.")
class WebhookEndpointStatus(Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@strawberry.type(description="Where the hub posts your events, signed per Standard Webhooks.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    event_types: list[str] = strawberry.field(description="The event types it receives.")
    status: WebhookEndpointStatus
    created_at: datetime
    disabled_reason: str | None = strawberry.field(
        description="BY_OWNER, or FAILING when every attempt failed for three days."
    )

    @classmethod
    def from_view(cls, view: EndpointView) -> WebhookEndpoint:
        return cls(
            id=_gid("WebhookEndpoint", view.id),
            url=view.url,
            event_types=view.event_types,
            status=WebhookEndpointStatus(view.status),
            created_at=view.created_at,
            disabled_reason=view.disabled_reason,
        )


@strawberry.type(description="One HTTP attempt of a delivery (the response body is not kept).")
class WebhookAttempt:
    attempted_at: datetime
    outcome: str = strawberry.field(
        description="delivered, http_error, timeout, connect_error or refused_destination."
    )
    status_code: int | None
    latency_ms: int

    @classmethod
    def from_view(cls, view: AttemptView) -> WebhookAttempt:
        return cls(
            attempted_at=view.attempted_at,
            outcome=view.outcome,
            status_code=view.status_code,
            latency_ms=view.latency_ms,
        )


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type(description="One event for one endpoint, with its attempts.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: str = strawberry.field(description="Sent as webhook-id; de-duplicate by it.")
    event_type: str
    status: WebhookDeliveryStatus
    attempts: list[WebhookAttempt]
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def from_view(cls, view: DeliveryView) -> WebhookDelivery:
        return cls(
            id=_gid("WebhookDelivery", view.id),
            event_id=view.event_id,
            event_type=view.event_type,
            status=WebhookDeliveryStatus(view.status),
            attempts=[WebhookAttempt.from_view(a) for a in view.attempts],
            next_attempt_at=view.next_attempt_at,
            delivered_at=view.delivered_at,
        )


@strawberry.type
class WebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_…), shown this once; the hub cannot show it again."
    )
    user_errors: list[UserError]


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    user_errors: list[UserError]


@strawberry.type
class ReplayWebhookDeliveryPayload:
    delivery_id: strawberry.ID | None = strawberry.field(description="The new delivery.")
    user_errors: list[UserError]


def _secret_payload(outcome: Any) -> WebhookEndpointSecretPayload:
    created = outcome.value
    return WebhookEndpointSecretPayload(
        endpoint=None if created is None else WebhookEndpoint.from_view(created.endpoint),
        secret=None if created is None else created.secret,
        user_errors=user_errors(outcome),
    )


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="https; in production it must resolve to public addresses only."
    )
    event_types: list[str] = strawberry.field(description="e.g. points.awarded")


async def create_webhook_endpoint(
    info: Info[HubContext, Any], input: CreateWebhookEndpointInput
) -> WebhookEndpointSecretPayload:
    return _secret_payload(await resolve.create(info.context, input.url, input.event_types))


@strawberry.input
class RotateWebhookSecretInput:
    endpoint_id: strawberry.ID


async def rotate_webhook_secret(
    info: Info[HubContext, Any], input: RotateWebhookSecretInput
) -> WebhookEndpointSecretPayload:
    return _secret_payload(await resolve.rotate(info.context, str(input.endpoint_id)))


@strawberry.input
class DisableWebhookEndpointInput:
    endpoint_id: strawberry.ID


async def disable_webhook_endpoint(
    info: Info[HubContext, Any], input: DisableWebhookEndpointInput
) -> WebhookEndpointPayload:
    outcome = await resolve.disable(info.context, str(input.endpoint_id))
    return WebhookEndpointPayload(
        endpoint=None if outcome.value is None else WebhookEndpoint.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class ReplayWebhookDeliveryInput:
    delivery_id: strawberry.ID


async def replay_webhook_delivery(
    info: Info[HubContext, Any], input: ReplayWebhookDeliveryInput
) -> ReplayWebhookDeliveryPayload:
    outcome = await resolve.replay(info.context, str(input.delivery_id))
    return ReplayWebhookDeliveryPayload(
        delivery_id=None if outcome.value is None else _gid("WebhookDelivery", outcome.value),
        user_errors=user_errors(outcome),
    )


async def webhook_endpoints(
    info: Info[HubContext, Any], first: int | None = None, after: str | None = None
) -> relay.Connection[WebhookEndpoint]:  # type: ignore[type-var]
    edges, has_next = await resolve.endpoints(info.context, first, after)
    return connection(  # type: ignore[no-any-return]
        [(cursor, WebhookEndpoint.from_view(view)) for cursor, view in edges], has_next, after
    )


async def webhook_deliveries(
    info: Info[HubContext, Any],
    endpoint_id: strawberry.ID,
    first: int | None = None,
    after: str | None = None,
) -> relay.Connection[WebhookDelivery] | None:  # type: ignore[type-var]
    page = await resolve.deliveries(info.context, str(endpoint_id), first, after)
    if page is None:
        return None
    edges, has_next = page
    return connection(  # type: ignore[no-any-return]
        [(cursor, WebhookDelivery.from_view(view)) for cursor, view in edges], has_next, after
    )


def _mutation(resolver: Any, description: str) -> Any:
    return strawberry.mutation(
        resolver=resolver, extensions=requires(*SCOPES), description=description
    )


create_webhook_endpoint_field = _mutation(
    create_webhook_endpoint,
    "Register an endpoint for some event types; the signing secret is returned this once.",
)
rotate_webhook_secret_field = _mutation(
    rotate_webhook_secret,
    "A new signing secret; the old one keeps signing beside it for the grace period.",
)
disable_webhook_endpoint_field = _mutation(
    disable_webhook_endpoint, "Stop deliveries to an endpoint of yours."
)
replay_webhook_delivery_field = _mutation(
    replay_webhook_delivery, "Send a delivery's event again (same webhook-id)."
)
webhook_endpoints_field = strawberry.field(
    resolver=webhook_endpoints,
    extensions=requires(*SCOPES),
    description="Your webhook endpoints, oldest first.",
)
webhook_deliveries_field = strawberry.field(
    resolver=webhook_deliveries,
    extensions=requires(*SCOPES),
    description="An endpoint's deliveries, newest first; null when it is not yours.",
)
