"""Messages to a person's phone: one-time codes and consent requests.

Two adapters behind one interface. In development a JSON-lines outbox file
(``HUB_NOTIFY_OUTBOX``) stands in for the phone; in production an HTTP SMS gateway
(``HUB_SMS_WEBHOOK_URL``) receives each message as JSON, signed as Standard Webhooks
specifies (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256
of "id.timestamp.body">``, by the ``standardwebhooks`` library) so the gateway can tell the
hub's requests from anyone else's.
Neither adapter logs the phone or the text."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from core.clock import utcnow


@dataclass(frozen=True, slots=True)
class Notification:
    """``to`` is the normalised phone; ``code`` the one-time code the text carries."""

    to: str
    kind: str  # "registration", "consent", "sign-in"
    text: str
    code: str


class Notifier(Protocol):
    async def send(self, notification: Notification) -> None: ...


class NotificationFailed(Exception):
    """The gateway did not accept a message. Carries no phone and no text."""


class OutboxNotifier:
    """Appends one JSON object per message to a file (development and tests)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    async def send(self, notification: Notification) -> None:
        line = json.dumps({"at": utcnow().timestamp(), **asdict(notification)}, ensure_ascii=False)
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")

    def read(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line]


class SmsWebhookNotifier:
    """POSTs each message to the SMS gateway, signed with ``HUB_SMS_WEBHOOK_SECRET`` (a
    Standard Webhooks secret, ``whsec_`` and base64), which the gateway verifies with any
    Standard Webhooks library."""

    def __init__(self, url: str, secret: str, timeout_seconds: float = 5.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("HUB_SMS_WEBHOOK_URL must be an http(s) URL")
        if not secret:
            raise ValueError("HUB_SMS_WEBHOOK_SECRET is required with HUB_SMS_WEBHOOK_URL")
        try:
            self._signer = Webhook(secret)
        except (ValueError, EmptyWebhookSecretError):
            raise ValueError("HUB_SMS_WEBHOOK_SECRET must be whsec_ and base64") from None
        self.url = url
        self.timeout_seconds = timeout_seconds

    async def send(self, notification: Notification) -> None:
        body = json.dumps(
            {"to": notification.to, "kind": notification.kind, "text": notification.text},
            ensure_ascii=False,
        ).encode()
        message_id = f"msg_{uuid.uuid4().hex}"
        now = utcnow()
        timestamp = str(int(now.timestamp()))
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": timestamp,
                "webhook-signature": self._signer.sign(message_id, now, body.decode()),
            },
        )
        await asyncio.to_thread(self._post, request)

    def _post(self, request: urllib.request.Request) -> None:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            raise NotificationFailed(f"the SMS gateway failed: {type(error).__name__}") from None
        if not 200 <= status < 300:
            raise NotificationFailed(f"the SMS gateway answered {status}")


def notifier_from(outbox: str, sms_webhook_url: str, sms_webhook_secret: str) -> Notifier:
    """The gateway when its URL is set, otherwise the outbox file."""
    if sms_webhook_url:
        return SmsWebhookNotifier(sms_webhook_url, sms_webhook_secret)
    return OutboxNotifier(Path(outbox))
