"""A copy of everything, and deletion (PIPL Art. 44-45, 47): the export is compared with
every table, and after closing no personal data of the member remains anywhere."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from strawberry.relay import GlobalID

import ledger
from core.config import get_settings
from core.crypto import keyed_hash
from core.db import Base, utcnow
from events.models import OutboxEvent
from hub.models import import_all_models
from hub.worker import Worker
from members.registration import PHONE_PURPOSE
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import Alliance
from tests.hub.test_graphql_members import _gql, _partner, _register
from tests.hub.test_member_self import ASK, PREFERENCES, WITHDRAW, member_token
from webhooks.endpoints import create_endpoint

pytestmark = pytest.mark.anyio

PHONE_HASH = keyed_hash(get_settings().secret_key, PHONE_PURPOSE, "+8613800138000")
EXPORT = "mutation { exportMyData { document userErrors { code } } }"
CLOSE = """mutation($confirm: Boolean!) { closeMyAccount(input: {confirm: $confirm}) {
  closed pointsForfeited userErrors { code message field } } }"""


def _member_id(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


def _rows_concerning(session: Session, member_id: int) -> dict[str, set[str]]:
    """The oracle, independent of the exporter: scan every row of every table for a
    column that names the member (``*member_id``, the members row, a webhook delivery's
    ordering key), their phone's hash, one of their ledger accounts, or text that mentions
    their global id (an event's payload); then the rows that hang off those (a delivery's
    attempts)."""
    import_all_models()
    accounts = {f"member:{member_id}", f"member:{member_id}:held", f"member:{member_id}:debt"}
    global_id = base64.b64encode(f"Member:{member_id}".encode()).decode()
    found: dict[str, set[str]] = {}
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            values = row._mapping
            concerns = any(
                (name.endswith("member_id") and value == member_id)
                or (table.name == "members" and name == "id" and value == member_id)
                or (name == "order_key" and value == f"m{member_id}")
                or value == PHONE_HASH
                or (isinstance(value, str) and value in accounts)
                or (isinstance(value, str) and global_id in value)
                for name, value in values.items()
            )
            if concerns:
                key = ",".join(str(values[c.name]) for c in table.primary_key.columns)
                found.setdefault(table.name, set()).add(key)
    deliveries = {int(key) for key in found.get("webhook_deliveries", set())}
    attempts = Base.metadata.tables["webhook_attempts"]
    for row in session.execute(select(attempts).where(attempts.c.delivery_id.in_(deliveries))):
        found.setdefault("webhook_attempts", set()).add(str(row.id))
    return found


async def _rich_member(hub: Hub) -> tuple[Alliance, str]:
    """A member with an award, a consent request, a second partner, preferences and a
    sign-in: rows in most of the member's tables."""
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    await _gql(hub, ASK, cinema, input={"phone": "13800138000", "externalRef": "fan-1"})
    await _register(hub, cinema, ref="fan-2", phone="13800138000")
    await _register(
        hub, alliance.store, ref="m-2", phone="13900139000", displayName="Han Meimei"
    )  # someone else
    token = await member_token(hub)
    await _gql(hub, PREFERENCES, token, offers=True, marketing=False)
    # Events about the member (consent.granted and .withdrawn name the partner's
    # reference), fanned out to the operator's webhook endpoint and tried once.
    await hub.database.write(
        create_endpoint,
        get_settings().secret_key,
        owner=None,
        url="http://127.0.0.1:9/hooks",
        event_types=["consent.granted", "consent.withdrawn", "points.awarded"],
        production=False,
        now=utcnow(),
    )
    withdrawn = await _gql(hub, WITHDRAW, token, code="cinema", only=False)
    assert withdrawn["data"]["withdrawConsent"]["userErrors"] == []
    await Worker(hub.database, get_settings()).deliver()
    return alliance, token


async def test_the_export_holds_every_row_the_database_holds_about_the_member(hub: Hub) -> None:
    alliance, token = await _rich_member(hub)
    member_id = _member_id(alliance.member)

    body = await _gql(hub, EXPORT, token)

    payload = body["data"]["exportMyData"]
    assert payload["userErrors"] == []
    document = json.loads(payload["document"])
    exported = {
        name: {
            ",".join(str(row[c.name]) for c in Base.metadata.tables[name].primary_key.columns)
            for row in rows
        }
        for name, rows in document["tables"].items()
    }
    expected = await hub.database.read(_rows_concerning, member_id)
    assert exported == expected
    for table in (
        "members",
        "member_consents",
        "ledger_lots",
        "ledger_transfers",
        "member_consent_events",
        "member_privacy_preferences",
        "member_refresh_tokens",
        "outbox_events",
        "webhook_deliveries",
        "webhook_attempts",
    ):
        assert table in exported, table
    assert document["tables"]["members"][0]["display_name"] == "Li Lei"
    secrets = [row["token_hash"] for row in document["tables"]["member_refresh_tokens"]]
    assert set(secrets) == {"(withheld: a credential)"}


async def test_closing_needs_confirmation_then_erases_the_person(hub: Hub) -> None:
    alliance, token = await _rich_member(hub)
    member_id = _member_id(alliance.member)
    cinema = await _partner(hub, "optician")
    del cinema

    warned = await _gql(hub, CLOSE, token, confirm=False)
    assert warned["data"]["closeMyAccount"]["closed"] is False
    [error] = warned["data"]["closeMyAccount"]["userErrors"]
    assert (error["code"], error["field"]) == ("CONFIRMATION_REQUIRED", ["confirm"])
    assert "123 points go to breakage" in error["message"]
    assert (await _gql(hub, "{ me { balance } }", token))["data"]["me"]["balance"] == 123

    report = await hub.database.read(ledger.verify)
    assert report.breaches == []
    personal = {"Li Lei", PHONE_HASH, "m-1", "fan-1", "fan-2"}

    def remaining(session: Session) -> list[tuple[str, str, Any]]:
        """Every value that is, or (in text such as an event's JSON) contains, one."""
        import_all_models()
        return [
            (table.name, name, value)
            for table in Base.metadata.sorted_tables
            for row in session.execute(select(table))
            for name, value in row._mapping.items()
            if value in personal
            or (isinstance(value, str) and any(f'"{item}"' in value for item in personal))
        ]

    before = await hub.database.read(_rows_concerning, member_id)
    assert {"outbox_events", "webhook_deliveries", "webhook_attempts"} <= set(before)
    assert await hub.database.read(remaining) != []  # the oracle sees the events' refs

    closed = await _gql(hub, CLOSE, token, confirm=True)

    assert closed["data"]["closeMyAccount"] == {
        "closed": True,
        "pointsForfeited": 123,
        "userErrors": [],
    }
    assert await hub.database.read(remaining) == []
    # The ledger keeps the member's rows under the opaque id.
    kept = await hub.database.read(_rows_concerning, member_id)
    assert {"members", "ledger_transfers", "ledger_lots", "member_consent_events"} <= set(kept)
    # The events stay (ids and amounts), without the partners' references; each partner
    # that still held consent hears it ended.
    assert {"outbox_events", "webhook_deliveries"} <= set(kept)

    def withdrawals(session: Session) -> list[dict[str, Any]]:
        return [
            json.loads(payload)
            for payload in session.execute(
                select(OutboxEvent.payload)
                .where(OutboxEvent.member_id == member_id, OutboxEvent.type == "consent.withdrawn")
                .order_by(OutboxEvent.id)
            ).scalars()
        ]

    last = (await hub.database.read(withdrawals))[-1]
    assert last == {
        "accountClosed": True,
        "externalRef": None,
        "memberId": alliance.member,
        "partnerId": last["partnerId"],
        "scope": "PARTNERSHIP",
    }
    # The token no longer works; the partner no longer sees the member.
    after = await hub.http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert after.status_code == 401
    read = await _gql(
        hub, "query($id: ID!) { member(id: $id) { balance } }", alliance.store, id=alliance.member
    )
    assert read["errors"][0]["extensions"]["rule"] == "CR-10"


async def test_a_closed_phone_registers_as_a_new_person(hub: Hub) -> None:
    alliance, token = await _rich_member(hub)
    await _gql(hub, CLOSE, token, confirm=True)

    again = await _register(hub, alliance.store, ref="m-9", phone="13800138000")

    assert again != alliance.member
