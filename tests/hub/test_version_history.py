"""The versions the workers keep answers behind (the credentials', migration 0033; the
catalogue's, migration 0023) after the database's history changes under them: a failover
that loses the last commits or a restore from a backup takes the row back, and the next
bumps climb to a number a worker already holds, on another history. The stamp each bump
writes (migration 0041) tells the two apart: the worker's held answers no longer serve.
And the triggers fire whatever the replication role, and on TRUNCATE (PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import Database, utcnow
from core.notify import OutboxNotifier
from hub.app import create_app
from hub.oauth2.bearer import ClientStates
from partners.catalog import ItemInput, upsert_items
from partners.catalog_memory import CatalogueSnapshot
from partners.registry import add_partner, find_partner
from tests.hub.conftest import Hub
from tests.stores import STORE

pytestmark = pytest.mark.anyio

PAGE = "{ catalog(first: 10) { edges { node { sku points } } } }"


@pytest.fixture
async def other(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """A second hub instance on the same database as ``hub``, with its own memory."""
    outbox = OutboxNotifier(tmp_path / "other.jsonl")
    app = create_app(database_url, notifier=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Hub(app, http, outbox)


async def _outside(url: str, *statements: str, **params: Any) -> list[dict[str, Any]]:
    """Plain SQL from outside the hub (an operator's console, a restore), in one
    transaction; the rows of the last statement if it returns any."""
    outside = Database(url)
    rows: list[dict[str, Any]] = []

    def run(session: Session) -> None:
        for statement in statements:
            result = session.execute(text(statement), params)
            if result.returns_rows:
                rows[:] = [dict(row._mapping) for row in result]

    try:
        await outside.write(run)
    finally:
        await outside.dispose()
    return rows


async def _row(url: str, table: str) -> dict[str, Any]:
    return (await _outside(url, f"SELECT * FROM {table} WHERE id = 1"))[0]


async def _restore(url: str, table: str, row: dict[str, Any]) -> None:
    """The version row as it was at ``row``: what a failover losing the commits since, or
    a restore from a backup taken then, leaves (every column as it was, none rewritten)."""
    columns = [name for name in row if name != "id"]
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    await _outside(
        url,
        f"UPDATE {table} SET {assignments} WHERE id = 1",
        **{name: row[name] for name in columns},
    )


async def test_a_revocation_after_a_failover_is_refused_by_the_instance_holding_the_token(
    hub: Hub, other: Hub, database_url: str
) -> None:
    """The attack's F1: both instances hold the token's state at version n; the database
    goes back to n - 1 (the commit that made n is lost); the revocation brings the number
    to n again. The other instance must not serve its 'not revoked' state."""
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)
    before = await _row(database_url, "credential_version")
    await _outside(database_url, "UPDATE partners SET name = 'Cinema renamed'")  # the lost one
    for _ in range(2):
        for one in (hub, other):
            assert (await one.viewer(token)).status_code == 200
    assert (await _row(database_url, "credential_version"))["version"] == before["version"] + 1

    await _restore(database_url, "credential_version", before)
    revoked = await hub.http.post(
        "/oauth/revoke", data={"token": token}, auth=(client.client_id, client.client_secret or "")
    )

    assert revoked.status_code == 200
    assert (await _row(database_url, "credential_version"))["version"] == before["version"] + 1
    refused = await other.viewer(token)
    assert refused.status_code == 401
    assert "the token was revoked" in refused.headers["www-authenticate"]
    assert (await hub.viewer(token)).status_code == 401


def test_a_state_held_under_the_same_number_on_another_history_does_not_serve() -> None:
    states = ClientStates()
    states.put((8, "a" * 32), ("c", "j"), None)

    assert states.get((8, "a" * 32), ("c", "j")) is not None
    assert states.get((8, "b" * 32), ("c", "j")) is None
    states.put((8, "b" * 32), ("c", "k"), None)  # the other history replaces the held one
    assert states.get((8, "b" * 32), ("c", "k")) is not None
    assert states.get((8, "b" * 32), ("c", "j")) is None
    assert states.get((8, "a" * 32), ("c", "k")) is None


async def _shop(hub: Hub) -> int:
    now = utcnow()
    await hub.database.write(
        add_partner, code="shop", name="Shop", legal_entity="Shop Ltd", now=now
    )
    partner = await hub.database.read(find_partner, "shop")
    await hub.database.write(
        upsert_items, partner.id, [ItemInput("a", "Item a", "gifts", "GOODS", False, 100)], now
    )
    return int(partner.id)


async def _points(hub: Hub, query: str = PAGE) -> list[tuple[str, int]]:
    reply = await hub.http.get("/graphql", params={"query": query})
    assert reply.status_code == 200, reply.text
    edges = reply.json()["data"]["catalog"]["edges"]
    return [(edge["node"]["sku"], edge["node"]["points"]) for edge in edges]


async def test_a_price_change_after_a_restore_is_seen_by_the_instance_holding_the_page(
    hub: Hub, other: Hub, database_url: str
) -> None:
    """The same bug class in the public catalogue: the other instance holds the page in its
    public cache and its in-memory catalogue at version n; the database goes back to
    n - 3 and a price decrease (and renames, as many as needed) bring it to n again. Its
    next answers show the new price."""
    partner_id = await _shop(hub)
    before = await _row(database_url, "catalog_version")
    for lost in range(3):  # the commits the failover loses
        await _outside(database_url, f"UPDATE partners SET name = 'Shop {lost}'")
    held = await _row(database_url, "catalog_version")
    # Another page (not the public cache's) is answered from the in-memory catalogue.
    varied = "{ catalog(first: 9) { edges { node { sku points } } } }"
    for _ in range(2):
        assert await _points(other) == [("a", 100)]
        assert await _points(other, varied) == [("a", 100)]
        await other.app.state.catalogue.settled()
    assert other.app.state.catalogue.snapshot is not None

    await _restore(database_url, "catalog_version", before)
    await hub.database.write(
        upsert_items, partner_id, [ItemInput("a", "Item a", "gifts", "GOODS", False, 60)], utcnow()
    )
    while (await _row(database_url, "catalog_version"))["version"] < held["version"]:
        await _outside(database_url, "UPDATE partners SET name = 'Shop again'")

    assert (await _row(database_url, "catalog_version"))["version"] == held["version"]
    assert await _points(other) == [("a", 60)]
    assert await _points(other, varied) == [("a", 60)]
    assert await _points(hub) == [("a", 60)]


def test_a_snapshot_serves_only_its_own_history() -> None:
    from datetime import UTC, datetime

    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    snapshot = CatalogueSnapshot((5, "a" * 32), start, start, end, [], [], [], [], {})

    assert snapshot.serves((5, "a" * 32), start)
    assert not snapshot.serves((5, "b" * 32), start)


VERSIONED = {
    "credential_version": ("oauth_revoked_tokens", "oauth_clients", "partners"),
    "catalog_version": (
        "partners",
        "catalog_items",
        "catalog_promotions",
        "catalog_scheduled_prices",
    ),
}


async def test_every_bump_writes_a_fresh_stamp(hub: Hub, database_url: str) -> None:
    await _shop(hub)
    seen = {table: [await _row(database_url, table)] for table in VERSIONED}
    for name in ("One", "Two"):
        await _outside(database_url, f"UPDATE partners SET name = '{name}'")
        for table in VERSIONED:
            seen[table].append(await _row(database_url, table))

    for rows in seen.values():
        assert [row["version"] for row in rows] == [rows[0]["version"] + n for n in range(3)]
        assert len({row["stamp"] for row in rows}) == 3
        assert all(len(row["stamp"]) == 32 for row in rows)


postgresql_only = pytest.mark.skipif(
    STORE != "postgresql", reason="PostgreSQL's roles and TRUNCATE"
)


@postgresql_only
async def test_writes_in_the_replica_role_bump_the_versions(
    hub: Hub, other: Hub, database_url: str
) -> None:
    """Logical replication's apply, or a restore run as ``session_replication_role =
    replica``, fires only ALWAYS triggers: a revocation written so is refused at once."""
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)
    for one in (hub, other, hub, other):
        assert (await one.viewer(token)).status_code == 200
    jti = await _jti(hub, token)
    before = {table: await _row(database_url, table) for table in VERSIONED}

    await _outside(
        database_url,
        "SET LOCAL session_replication_role = replica",
        "INSERT INTO oauth_revoked_tokens (jti, client_id, expires_at, revoked_at) "
        "VALUES (:jti, :client_id, '2999-01-01', '2026-01-01')",
        "UPDATE partners SET name = 'Cinema in replica'",
        jti=jti,
        client_id=client.client_id,
    )

    for table, row in before.items():
        after = await _row(database_url, table)
        assert after["version"] > row["version"], table
        assert after["stamp"] != row["stamp"], table
    assert (await other.viewer(token)).status_code == 401
    assert (await hub.viewer(token)).status_code == 401


async def _jti(hub: Hub, token: str) -> str:
    import base64
    import json

    body = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["jti"])


@postgresql_only
@pytest.mark.parametrize(
    ("table", "versions"),
    [
        ("oauth_revoked_tokens", ["credential_version"]),
        ("catalog_promotions", ["catalog_version"]),
        ("catalog_scheduled_prices", ["catalog_version"]),
    ],
)
async def test_a_truncate_bumps_the_versions(
    hub: Hub, database_url: str, table: str, versions: list[str]
) -> None:
    """TRUNCATE fires no row trigger; the statement trigger bumps, even in the replica role."""
    before = {name: await _row(database_url, name) for name in versions}

    await _outside(database_url, f"TRUNCATE {table}")
    middle = {name: await _row(database_url, name) for name in versions}
    await _outside(
        database_url, "SET LOCAL session_replication_role = replica", f"TRUNCATE {table}"
    )

    for name in versions:
        after = await _row(database_url, name)
        assert before[name]["version"] < middle[name]["version"] < after["version"]
        assert len({before[name]["stamp"], middle[name]["stamp"], after["stamp"]}) == 3


ALWAYS_TRIGGERS = sorted(
    f"{table}.{table}_{version}{suffix}"
    for version, tables in VERSIONED.items()
    for table in tables
    for suffix in ("", "_truncate")
)


async def _always(database_url: str) -> list[str]:
    rows = await _outside(
        database_url,
        "SELECT tgrelid::regclass::text AS versioned, tgname FROM pg_trigger "
        "WHERE tgname ~ '_(credential|catalog)_version(_truncate)?$' AND tgenabled = 'A'",
    )
    return sorted(f"{row['versioned']}.{row['tgname']}" for row in rows)


@postgresql_only
async def test_the_docs_make_the_triggers_always_again_after_a_data_only_restore(
    hub: Hub, database_url: str
) -> None:
    """Every versioning trigger is ALWAYS; ``pg_restore --disable-triggers`` ends with
    ``ENABLE TRIGGER ALL`` (ordinary again), and docs/oauth.md's block makes them ALWAYS."""
    assert await _always(database_url) == ALWAYS_TRIGGERS
    await _outside(
        database_url, *(f"ALTER TABLE {table} ENABLE TRIGGER ALL" for table in VERSIONED_TABLES)
    )
    assert await _always(database_url) == []

    await _outside(database_url, _docs_block("ENABLE ALWAYS"))

    assert await _always(database_url) == ALWAYS_TRIGGERS


@postgresql_only
async def test_the_docs_statements_after_a_restore_move_both_versions(
    hub: Hub, other: Hub, database_url: str
) -> None:
    """docs/oauth.md's statements after a restore give both rows a history no worker
    holds: a state held is read again (a client revoked with triggers disabled, as a
    data-only restore loads it, is refused after them)."""
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)
    for one in (hub, other, hub, other):
        assert (await one.viewer(token)).status_code == 200
    before = {table: await _row(database_url, table) for table in VERSIONED}
    await _outside(
        database_url,
        "ALTER TABLE oauth_clients DISABLE TRIGGER ALL",
        "UPDATE oauth_clients SET status = 'REVOKED' WHERE client_id = :client_id",
        "ALTER TABLE oauth_clients ENABLE TRIGGER ALL",
        client_id=client.client_id,
    )
    assert (await other.viewer(token)).status_code == 200  # what the docs call not covered

    statements = _docs_block("SET version = version + 1").split(";\n")
    await _outside(database_url, *(one for one in statements if one.strip()))

    for table, row in before.items():
        after = await _row(database_url, table)
        assert after["version"] == row["version"] + 1
        assert after["stamp"] != row["stamp"]
    assert (await other.viewer(token)).status_code == 401
    assert (await hub.viewer(token)).status_code == 401


VERSIONED_TABLES = sorted({table for tables in VERSIONED.values() for table in tables})


def _docs_block(containing: str) -> str:
    """The SQL block of docs/oauth.md that contains ``containing``."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "oauth.md").read_text()
    return next(b for b in docs.split("```sql\n")[1:] if containing in b).split("```")[0]
