"""The one middleware shape the hub repeats: pass non-HTTP traffic through, note whether the
response has started, and hand an escaping exception of the kinds caught to ``handle``
(which may answer only while nothing has been sent)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ResponseGuard:
    catches: tuple[type[Exception], ...] = (Exception,)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except self.catches as error:
            await self.handle(error, scope, receive, send, started=started)

    async def handle(
        self, error: Exception, scope: Scope, receive: Receive, send: Send, *, started: bool
    ) -> None:
        raise error
