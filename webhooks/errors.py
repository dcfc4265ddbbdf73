"""Expected refusals of the webhook API, each with its stable code."""

from __future__ import annotations


class WebhookError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class EndpointNotFound(WebhookError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such webhook endpoint of yours", ["endpointId"])


class DeliveryNotFound(WebhookError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such webhook delivery of yours", ["deliveryId"])


class UnsafeDestination(WebhookError):
    """The URL is not one the hub will post to (SSRF): not https in production, or it
    resolves to a loopback, private, link-local or metadata address."""

    code = "UNSAFE_DESTINATION"

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused webhook destination: {reason}", ["url"])
