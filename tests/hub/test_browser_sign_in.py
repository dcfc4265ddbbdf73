"""The sign-in and approval pages in a real browser: Debian's Chromium, headless, driven by
Playwright (nothing is downloaded: the browser is the system's). The member signs in with
the code from the outbox, approves a partner's request, and the partner's read succeeds.
Runs when Chromium is present, and always under CI=true (in the SQLite half: what it checks
does not depend on the store)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import uvicorn

from core.db import utcnow
from hub.app import create_app
from members.signin import create_app_client
from tests.hub.conftest import Hub
from tests.hub.oauth2.test_member_sign_in import verifier_and_challenge
from tests.hub.test_graphql_members import _gql, _partner, _register
from tests.stores import STORE

pytestmark = pytest.mark.anyio

CHROMIUM = Path("/usr/bin/chromium")
PHONE = "13800138000"
REDIRECT = "http://127.0.0.1:8765/callback"  # the app's loopback redirect (RFC 8252 §7.3)


def _browser_or_skip() -> None:
    if STORE != "sqlite":
        pytest.skip("store-independent; runs in the SQLite half")
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (apt-get install chromium; `make test` does it as root)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (make install)"
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}; CI=true requires the browser test to run")
        pytest.skip(missing)


@pytest.fixture
async def live_hub(hub: Hub, database_url: str) -> AsyncIterator[str]:
    """The hub served over real HTTP on a free port, sharing the test's database and
    outbox."""
    app = create_app(database_url, notifier=hub.outbox)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "the hub did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        listener.close()


async def _next_code(hub: Hub, before: int) -> str:
    for _ in range(250):
        sent = hub.outbox.read()
        if len(sent) > before:
            return sent[-1]["code"]
        await asyncio.sleep(0.02)
    raise AssertionError("no sign-in code was sent")


async def test_a_member_signs_in_and_approves_in_chromium(hub: Hub, live_hub: str) -> None:
    _browser_or_skip()
    from playwright.async_api import Route, async_playwright

    store = await _partner(hub, "store")
    member = await _register(hub, store, phone=PHONE)
    cinema = await _partner(hub, "cinema")
    await _gql(
        hub,
        """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
          request { id } } }""",
        cinema,
        input={"phone": PHONE, "externalRef": "fan-1", "purpose": "film club"},
    )
    refused = await _gql(hub, "query($id: ID!) { member(id: $id) { balance } }", cinema, id=member)
    assert refused["errors"][0]["extensions"]["rule"] == "CR-10"
    client_id = await hub.database.write(
        create_app_client, name="Alliance app", redirect_uris=[REDIRECT], now=utcnow()
    )
    verifier, challenge = verifier_and_challenge()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "member:self",
            "state": "browser",
        }
    )
    requested: list[str] = []
    landed: list[str] = []

    async def the_app(route: Route) -> None:
        landed.append(route.request.url)
        await route.fulfill(status=200, content_type="text/plain", body="back in the app")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = await browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            await page.route(f"{REDIRECT}*", the_app)
            await page.goto(f"{live_hub}/oauth/authorize?{query}")
            assert await page.locator("script").count() == 0
            before = len(hub.outbox.read())
            await page.fill("input[name=phone]", "138 0013 8000")
            await page.click("button[type=submit]")
            await page.fill("input[name=code]", await _next_code(hub, before))
            await page.click("button[type=submit]")
            await page.get_by_text("for: film club").wait_for()
            await page.get_by_role("button", name="Approve").click()
            await page.wait_for_url(f"{REDIRECT}*")
        finally:
            await browser.close()

    [arrived] = landed
    returned = parse_qs(urlsplit(arrived).query)
    assert returned["state"] == ["browser"]
    assert {urlsplit(url).netloc for url in requested} <= {
        urlsplit(live_hub).netloc,
        "127.0.0.1:8765",
    }
    tokens = await hub.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": returned["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200
    read = await _gql(hub, "query($id: ID!) { member(id: $id) { balance } }", cinema, id=member)
    assert read == {"data": {"member": {"balance": 0}}}
