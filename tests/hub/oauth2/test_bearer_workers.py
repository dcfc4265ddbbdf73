"""Two hub instances on one database, each keeping the bearer check's client states in
memory (hub.oauth2.bearer): a revocation, a suspension or any change to a client written
through one instance, or straight into the database, is refused by the very next request
to the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from core.db import Database, utcnow
from core.notify import OutboxNotifier
from hub.app import create_app
from hub.oauth2.bearer import MAX_STATES, ClientStates
from partners.clients import IssuedClient, revoke_client
from partners.models import OAuthClient
from partners.registry import suspend_partner
from tests.hub.conftest import Hub
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio


@pytest.fixture
async def other(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """A second hub instance (its own database connections, its own memory) on the same
    database as ``hub``."""
    outbox = OutboxNotifier(tmp_path / "other.jsonl")
    app = create_app(database_url, notifier=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Hub(app, http, outbox)


async def _warm(token: str, *hubs: Hub) -> None:
    """Both instances accept the token and hold its state."""
    for _ in range(2):
        for one in hubs:
            assert (await one.viewer(token)).status_code == 200


async def _live(hub: Hub) -> tuple[IssuedClient, str]:
    await hub.partner()
    client = await hub.client()
    return client, await hub.access_token(client)


async def test_a_token_revoked_on_one_instance_is_refused_by_the_other_at_once(
    hub: Hub, other: Hub
) -> None:
    client, token = await _live(hub)
    kept = await hub.access_token(client)
    await _warm(token, hub, other)
    await _warm(kept, hub, other)

    revoked = await hub.http.post(
        "/oauth/revoke", data={"token": token}, auth=(client.client_id, client.client_secret or "")
    )

    assert revoked.status_code == 200
    refused = await other.viewer(token)
    assert refused.status_code == 401
    assert "the token was revoked" in refused.headers["www-authenticate"]
    assert (await hub.viewer(token)).status_code == 401
    # The client's other token stands on both.
    assert (await other.viewer(kept)).status_code == 200
    assert (await hub.viewer(kept)).status_code == 200


async def test_a_partner_suspended_through_one_instance_is_refused_by_the_other_at_once(
    hub: Hub, other: Hub
) -> None:
    _, token = await _live(hub)
    await _warm(token, hub, other)

    await hub.database.write(suspend_partner, "cinema", utcnow())

    refused = await other.viewer(token)
    assert refused.status_code == 401
    assert "no longer active" in refused.headers["www-authenticate"]
    assert (await hub.viewer(token)).status_code == 401


async def test_a_client_revoked_through_one_instance_is_refused_by_the_other_at_once(
    hub: Hub, other: Hub
) -> None:
    client, token = await _live(hub)
    await _warm(token, hub, other)

    await other.database.write(revoke_client, client.client_id, utcnow())

    assert (await hub.viewer(token)).status_code == 401
    assert (await other.viewer(token)).status_code == 401


async def test_a_change_written_straight_into_the_database_is_seen_at_once(
    hub: Hub, other: Hub, database_url: str
) -> None:
    """Not only the hub's own code paths: an operator's SQL narrowing a client's scopes
    (the triggers bump the version whoever writes) is seen by both instances' next
    request."""
    client, token = await _live(hub)
    await _warm(token, hub, other)
    outside = Database(database_url)

    def narrow(session: Session) -> None:
        session.execute(
            update(OAuthClient)
            .where(OAuthClient.client_id == client.client_id)
            .values(scopes="catalog:write")
        )

    try:
        await outside.write(narrow)
    finally:
        await outside.dispose()

    for one in (hub, other):
        viewer = (await one.viewer(token)).json()["data"]["viewer"]
        assert viewer["scopes"] == ["catalog:write"]


async def test_a_held_state_costs_no_read_but_the_version(hub: Hub) -> None:
    """The second request of a token reads only the credentials' version (on SQLite not
    even through the engines: the event loop's own connection)."""
    _, token = await _live(hub)
    assert (await hub.viewer(token)).status_code == 200

    with counting_statements(hub.database) as log:
        assert (await hub.viewer(token)).status_code == 200

    assert [s for s in log.statements if "credential_version" not in s] == []


async def test_a_revoked_token_is_refused_on_the_instance_holding_it_too(
    hub: Hub, other: Hub
) -> None:
    """Each instance's next request sees the change, whichever instance wrote it and
    however long either has held the state."""
    client, token = await _live(other)
    for _ in range(5):
        await _warm(token, hub, other)

    await other.http.post(
        "/oauth/revoke", data={"token": token}, auth=(client.client_id, client.client_secret or "")
    )

    for one in (other, hub, other, hub):
        assert (await one.viewer(token)).status_code == 401


async def test_the_version_row_moves_in_the_changing_transaction(hub: Hub) -> None:
    """A revocation that rolls back moves nothing; one that commits moves the version."""
    await hub.partner()
    client = await hub.client()

    def version(session: Session) -> int:
        return int(session.execute(text("SELECT version FROM credential_version")).scalar_one())

    before = await hub.database.read(version)

    def revoke_then_fail(session: Session) -> None:
        revoke_client(session, client.client_id, utcnow())
        session.flush()
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await hub.database.write(revoke_then_fail)
    assert await hub.database.read(version) == before

    await hub.database.write(revoke_client, client.client_id, utcnow())
    assert await hub.database.read(version) > before


def test_states_read_under_an_older_version_are_not_kept() -> None:
    """A request that read version 7 and then the state must not overwrite the memory of
    a request that already saw version 8 (a change lies between them)."""
    states = ClientStates()
    states.put((8, "s8"), ("c", "j"), None)
    states.put((7, "s7"), ("c", "k"), None)

    assert states.get((8, "s8"), ("c", "j")) is not None
    assert states.get((8, "s8"), ("c", "k")) is None
    assert states.get((7, "s7"), ("c", "j")) is None  # only the version in force serves
    states.put((9, "s9"), ("c", "k"), None)
    assert states.get((9, "s9"), ("c", "j")) is None  # the version moved: all forgotten


def test_the_memory_is_bounded() -> None:
    states = ClientStates()
    for n in range(MAX_STATES + 5):
        states.put((1, "s1"), ("c", str(n)), None)

    assert states.get((1, "s1"), ("c", str(MAX_STATES + 4))) is not None
    assert states.get((1, "s1"), ("c", "0")) is None
    assert len(states._held) <= MAX_STATES
