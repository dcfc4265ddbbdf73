"""The notifier's two adapters: the development outbox file and the signed SMS gateway,
against a local fake gateway on a free port."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.config import Settings
from core.notify import (
    Notification,
    NotificationFailed,
    OutboxNotifier,
    SmsWebhookNotifier,
)

pytestmark = pytest.mark.anyio

KEY = b"a gateway key of thirty-two byte"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
MESSAGE = Notification(to="+8613800138000", kind="sign-in", text="Your code: 123456", code="123456")


class FakeGateway:
    def __init__(self, status: int) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def gateway() -> Iterator[tuple[str, FakeGateway]]:
    fake = FakeGateway(204)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(fake.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_the_outbox_appends_one_json_line_per_message(tmp_path: Path) -> None:
    outbox = OutboxNotifier(tmp_path / "notifications.jsonl")

    await outbox.send(MESSAGE)
    await outbox.send(MESSAGE)

    lines = (tmp_path / "notifications.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert {k: v for k, v in json.loads(lines[0]).items() if k != "at"} == {
        "to": "+8613800138000",
        "kind": "sign-in",
        "text": "Your code: 123456",
        "code": "123456",
    }


async def test_the_gateway_receives_each_message_signed(gateway: tuple[str, FakeGateway]) -> None:
    url, fake = gateway

    await SmsWebhookNotifier(url, SECRET).send(MESSAGE)

    [(headers, body)] = fake.received
    assert json.loads(body) == {
        "to": "+8613800138000",
        "kind": "sign-in",
        "text": "Your code: 123456",
    }
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest())
    assert headers["webhook-signature"] == "v1," + expected.decode()
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    # Another secret does not verify: the gateway can tell the hub's requests apart.
    other = "whsec_" + base64.b64encode(b"another key of 32 bytes length!!").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


async def test_a_gateway_refusal_fails_without_the_phone_or_text(
    gateway: tuple[str, FakeGateway],
) -> None:
    url, fake = gateway
    fake.status = 500

    with pytest.raises(NotificationFailed) as failed:
        await SmsWebhookNotifier(url, SECRET).send(MESSAGE)

    assert str(failed.value) == "the SMS gateway answered 500"


async def test_an_unreachable_gateway_fails_without_details() -> None:
    with pytest.raises(NotificationFailed) as failed:
        await SmsWebhookNotifier("http://127.0.0.1:9/sms", SECRET, timeout_seconds=1).send(MESSAGE)

    assert "13800138000" not in str(failed.value)


def test_settings_choose_the_gateway_only_when_its_url_is_set(tmp_path: Path) -> None:
    outbox = Settings.from_env({"HUB_SECRET_KEY": "k", "HUB_NOTIFY_OUTBOX": str(tmp_path / "o")})
    gateway = Settings.from_env(
        {
            "HUB_SECRET_KEY": "k",
            "HUB_SMS_WEBHOOK_URL": "https://sms.example/send",
            "HUB_SMS_WEBHOOK_SECRET": SECRET,
        }
    )

    assert isinstance(outbox.notifier(), OutboxNotifier)
    assert Settings.from_env({"HUB_SECRET_KEY": "k"}).notify_outbox == "./notifications.jsonl"
    assert isinstance(gateway.notifier(), SmsWebhookNotifier)
    with pytest.raises(ValueError, match="HUB_SMS_WEBHOOK_SECRET"):
        Settings.from_env({"HUB_SECRET_KEY": "k", "HUB_SMS_WEBHOOK_URL": "https://x"}).notifier()
    with pytest.raises(ValueError, match="whsec_"):
        SmsWebhookNotifier("https://sms.example/send", "not base64 !")
