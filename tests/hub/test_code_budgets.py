"""Who may spend a phone's codes, and how many a sender may send: each purpose has its own
per-phone budget (signing in, each partner's registrations, each partner's consent
requests), so no partner can lock a member out; and each partner and each app client has
an hourly send budget against SMS pumping (SEND_LIMIT_EXCEEDED, audited)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.models import BlockedAttempt
from core.config import get_settings
from core.notify import OutboxNotifier
from hub.app import create_app
from members.codes import SEND_LIMIT_RULE
from members.models import OneTimeCode
from tests.hub.conftest import Hub
from tests.hub.oauth2.test_member_sign_in import app_sign_in, member_and_app
from tests.hub.test_graphql_members import REGISTER, _partner, _register

pytestmark = pytest.mark.anyio

ASK = """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
  request { id } userErrors { code message field } } }"""
KNOWN = "13800138000"
UNKNOWN = "13100131000"


async def _ask(hub: Hub, token: str, phone: str, ref: str) -> tuple[list[str], str | None]:
    response = await hub.http.post(
        "/graphql",
        json={"query": ASK, "variables": {"input": {"phone": phone, "externalRef": ref}}},
        headers={"Authorization": f"Bearer {token}"},
    )
    payload = response.json()["data"]["requestMemberConsent"]
    return [e["code"] for e in payload["userErrors"]], response.headers.get("retry-after")


async def _register_only(hub: Hub, token: str, phone: str, ref: str) -> list[str]:
    response = await hub.http.post(
        "/graphql",
        json={
            "query": REGISTER,
            "variables": {"input": {"externalRef": ref, "phone": phone, "consent": True}},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    return [e["code"] for e in response.json()["data"]["registerMember"]["userErrors"]]


async def _audit(hub: Hub) -> list[tuple[str, str | None, str]]:
    def read(session: Session) -> list[tuple[str, str | None, str]]:
        rows = session.execute(
            select(BlockedAttempt.client_id, BlockedAttempt.operation, BlockedAttempt.summary)
            .where(BlockedAttempt.rule == SEND_LIMIT_RULE)
            .order_by(BlockedAttempt.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    return await hub.database.read(read)


async def test_a_partner_exhausting_a_phones_consent_codes_cannot_lock_the_member_out(
    hub: Hub,
) -> None:
    _, app = await member_and_app(hub)  # the store registered KNOWN
    rogue = await _partner(hub, "rogue")
    for n in range(5):
        assert (await _ask(hub, rogue, KNOWN, f"r{n}"))[0] == []
    assert (await _ask(hub, rogue, KNOWN, "r9"))[0] == ["RATE_LIMITED"]

    # Signing in has its own budget: the member still gets in.
    token = (await app.exchange(await app.authorization_code())).json()
    assert "access_token" in token
    # Another partner's consent request and registration have theirs.
    optician = await _partner(hub, "optician")
    assert (await _ask(hub, optician, KNOWN, "o1"))[0] == []
    assert await _register_only(hub, optician, KNOWN, "o2") == []


async def test_a_partners_registrations_and_consent_requests_have_budgets_of_their_own(
    hub: Hub,
) -> None:
    cinema = await _partner(hub, "cinema")
    for n in range(5):
        assert (await _ask(hub, cinema, UNKNOWN, f"c{n}"))[0] == []
    assert (await _ask(hub, cinema, UNKNOWN, "c9"))[0] == ["RATE_LIMITED"]

    assert await _register_only(hub, cinema, UNKNOWN, "c-member") == []


async def test_signing_in_cannot_spend_a_partners_budget_either(hub: Hub) -> None:
    _, app = await member_and_app(hub)
    for _ in range(5):
        assert (await app.send_code()).status_code == 200
    assert (await app.send_code()).status_code == 429

    cinema = await _partner(hub, "cinema")
    assert (await _ask(hub, cinema, KNOWN, "c1"))[0] == []


async def test_a_partners_purposes_also_have_a_daily_cap_per_phone(hub: Hub) -> None:
    cinema = await _partner(hub, "cinema")

    async def earlier(minutes: int) -> None:
        def shift(session: Session) -> None:
            for row in session.execute(select(OneTimeCode)).scalars():
                row.created_at -= timedelta(minutes=minutes)

        await hub.database.write(shift)

    sent = 0
    for _ in range(2):
        for _ in range(5):
            assert (await _ask(hub, cinema, UNKNOWN, f"c{sent}"))[0] == []
            sent += 1
        await earlier(16)  # past the 15-minute window, still within the day

    codes, wait = await _ask(hub, cinema, UNKNOWN, "c-last")

    assert codes == ["RATE_LIMITED"]
    assert wait is not None
    assert 15 * 60 < int(wait) <= 24 * 3600


async def test_signing_in_has_a_daily_cap_per_phone_too(hub: Hub) -> None:
    """Each code allows 5 guesses: 10 a day bounds an attacker at 50 guesses a day for one
    phone, where 5 every 15 minutes allowed 2,400."""
    _, app = await member_and_app(hub)

    async def earlier(minutes: int) -> None:
        def shift(session: Session) -> None:
            for row in session.execute(select(OneTimeCode)).scalars():
                row.created_at -= timedelta(minutes=minutes)

        await hub.database.write(shift)

    for _ in range(2):
        for _ in range(5):
            assert (await app.send_code()).status_code == 200
        await earlier(16)

    limited = await app.send_code()

    assert limited.status_code == 429
    assert 15 * 60 < int(limited.headers["retry-after"]) <= 24 * 3600


@pytest.fixture
def partner_budget_of_three(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_CODES_PER_PARTNER_HOUR", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("HUB_CODES_PER_PARTNER_HOUR")
    get_settings.cache_clear()


async def test_a_partner_has_an_hourly_send_budget_refused_typed_and_audited(
    hub: Hub, partner_budget_of_three: None
) -> None:
    pump = await _partner(hub, "pump")
    other = await _partner(hub, "other")
    phones = [f"1380013{n:04d}" for n in range(6)]
    assert (await _ask(hub, pump, phones[0], "a"))[0] == []
    assert (await _ask(hub, pump, phones[1], "b"))[0] == []
    assert await _register_only(hub, pump, phones[2], "c") == []  # the same budget
    messages = len(hub.outbox.read())

    refused, wait = await _ask(hub, pump, phones[3], "d")
    registering = await _register_only(hub, pump, phones[4], "e")
    refused_again, _ = await _ask(hub, pump, phones[5], "f")

    assert refused == refused_again == registering == ["SEND_LIMIT_EXCEEDED"]
    assert wait is not None
    assert 0 < int(wait) <= 3600
    assert len(hub.outbox.read()) == messages  # nothing more was sent
    # Other partners keep their own budget.
    assert (await _ask(hub, other, phones[3], "g"))[0] == []
    # Audited once per client and hour, naming no phone.
    [(client_id, operation, summary)] = await _audit(hub)
    assert client_id
    assert operation == "requestMemberConsent"
    assert "1380013" not in summary


async def test_a_phone_limit_answers_alike_known_and_unknown_within_the_partner_budget(
    hub: Hub, partner_budget_of_three: None
) -> None:
    """The partner's budget says nothing about any phone: known and unknown alike."""
    store = await _partner(hub, "store")
    await _register(hub, store, phone=KNOWN)  # one of the store's three
    cinema = await _partner(hub, "cinema")
    for n in range(3):
        assert (await _ask(hub, cinema, KNOWN if n % 2 else UNKNOWN, f"x{n}"))[0] == []
    known = await _ask(hub, cinema, KNOWN, "k")
    unknown = await _ask(hub, cinema, UNKNOWN, "u")
    assert known[0] == unknown[0] == ["SEND_LIMIT_EXCEEDED"]


@pytest.fixture
async def tight_hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub whose sign-in page may send 3 codes per address and 4 per app an hour."""
    settings = dataclasses.replace(get_settings(), codes_per_address=3, codes_per_app_hour=4)
    outbox = OutboxNotifier(tmp_path / "notifications.jsonl")
    app = create_app(database_url, settings=settings, notifier=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, client=("198.51.100.7", 50000))
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Hub(app, http, outbox)


def _from(hub: Hub, address: str) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=hub.app, client=(address, 50000))
    return httpx2.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_sign_in_page_limits_each_address_and_each_app(tight_hub: Hub) -> None:
    hub = tight_hub
    app = await app_sign_in(hub)
    phones = [f"1390013{n:04d}" for n in range(8)]
    answers: list[Any] = [(await app.send_code(phone)).status_code for phone in phones[:4]]
    assert answers == [200, 200, 200, 429]  # 3 per address, whatever the phones

    other_address = _from(hub, "203.0.113.50")
    async with other_address:
        app.hub = Hub(hub.app, other_address, hub.outbox)
        assert (await app.send_code(phones[4])).status_code == 200  # the app's 4th
        limited = await app.send_code(phones[5])  # the app's budget is spent
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 3600
    [(client_id, operation, _)] = await _audit(hub)
    assert (client_id, operation) == (app.client_id, "signIn")
    # Another app has its own budget.
    second = await app_sign_in(hub)
    async with _from(hub, "203.0.113.51") as third_address:
        second.hub = Hub(hub.app, third_address, hub.outbox)
        assert (await second.send_code(phones[6])).status_code == 200


async def test_an_ipv6_client_is_limited_by_its_64_network(tight_hub: Hub) -> None:
    """One IPv6 subscriber holds a whole /64: counting single addresses would let it dodge
    the per-address limit by changing the last 64 bits."""
    hub = tight_hub
    app = await app_sign_in(hub)
    statuses = []
    for n in range(4):
        async with _from(hub, f"2001:db8:1:2::{n + 1:x}") as http:
            app.hub = Hub(hub.app, http, hub.outbox)
            statuses.append((await app.send_code(f"1390013{n:04d}")).status_code)
    async with _from(hub, "2001:db8:1:3::1") as http:
        app.hub = Hub(hub.app, http, hub.outbox)
        other_network = (await app.send_code("13900139999")).status_code

    assert statuses == [200, 200, 200, 429]
    assert other_network == 200


async def test_codes_go_only_to_the_countries_served(hub: Hub) -> None:
    """SMS pumping lives on international premium routes: codes go only to the calling
    codes in HUB_SMS_COUNTRY_CODES (default 86), alike for members and strangers."""
    cinema = await _partner(hub, "cinema")
    _, app = await member_and_app(hub)
    before = len(hub.outbox.read())

    asked = await _ask(hub, cinema, "+882 1234 5678", "sat")
    registering = await _register_only(hub, cinema, "+44 7700 900123", "uk")
    page = await app.send_code("+1 900 555 0100")

    assert asked[0] == registering == ["PHONE_NOT_SERVED"]
    assert page.status_code == 400
    assert "not served" in page.text
    assert len(hub.outbox.read()) == before
    assert (await _ask(hub, cinema, "+86 131 0013 1000", "cn"))[0] == []


@pytest.fixture
def any_country(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_SMS_COUNTRY_CODES", "86,852")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("HUB_SMS_COUNTRY_CODES")
    get_settings.cache_clear()


async def test_the_operator_chooses_the_countries(hub: Hub, any_country: None) -> None:
    cinema = await _partner(hub, "cinema")
    assert (await _ask(hub, cinema, "+852 9123 4567", "hk"))[0] == []
    assert (await _ask(hub, cinema, "+853 6612 3456", "mo"))[0] == ["PHONE_NOT_SERVED"]
