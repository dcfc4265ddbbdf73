"""A partner's webhook receiver on loopback: it verifies every delivery with the
``standardwebhooks`` library exactly as a partner would, and de-duplicates by webhook-id."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.down = False  # answer 503, as a receiver in an outage
        self.delay = 0.0  # seconds before answering
        self.redirect_to: str | None = None
        self.requests = 0
        self.rejected = 0
        self.received: list[dict[str, Any]] = []  # verified deliveries, duplicates included
        self.seen: dict[str, dict[str, Any]] = {}  # de-duplicated by webhook-id
        self.first_request = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def types(self) -> list[str]:
        return [event["type"] for event in self.seen.values()]

    def _accept(self, body: bytes, headers: dict[str, str]) -> int:
        with self._lock:
            self.requests += 1
            self.first_request.set()
            if self.down:
                return 503
            if self.redirect_to:
                return 302
            try:
                event = Webhook(self.secret or "").verify(body, headers)
            except WebhookVerificationError:
                self.rejected += 1
                return 400
            assert event["id"] == headers["webhook-id"]
            self.received.append(event)
            self.seen.setdefault(headers["webhook-id"], event)
            return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver._accept(body, dict(self.headers.items()))
                self.send_response(status)
                if status == 302:
                    self.send_header("location", receiver.redirect_to or "/")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def payload(event: dict[str, Any]) -> str:
    return json.dumps(event["data"], sort_keys=True)
