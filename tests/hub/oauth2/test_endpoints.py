"""Introspection, revocation, metadata, keys and secrets."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import utcnow
from partners.clients import rotate_secret
from partners.errors import OperatorScopeForbidden
from partners.models import AuthMethod
from tests.hub.conftest import (
    ISSUER,
    Hub,
    assertion,
    assertion_form,
    public_jwks,
    signing_key,
)

pytestmark = pytest.mark.anyio


async def _introspect(hub: Hub, caller: object, token: str) -> dict[str, object]:
    response = await hub.http.post(
        "/oauth/introspect",
        data={"token": token},
        auth=(caller.client_id, caller.client_secret),  # type: ignore[attr-defined]
    )
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def test_a_client_introspects_its_own_token(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)

    found = await _introspect(hub, client, token)

    assert found["active"] is True
    assert {k: found[k] for k in ("client_id", "sub", "scope", "token_type", "iss", "aud")} == {
        "client_id": client.client_id,
        "sub": client.client_id,
        "scope": "points:redeem catalog:write",
        "token_type": "Bearer",
        "iss": ISSUER,
        "aud": f"{ISSUER}/graphql",
    }
    assert found["exp"] - found["iat"] == 900  # type: ignore[operator]


async def test_another_clients_token_introspects_as_inactive(hub: Hub) -> None:
    await hub.partner()
    await hub.partner("optician")
    mine = await hub.client()
    theirs = await hub.client(partner="optician")

    assert await _introspect(hub, mine, await hub.access_token(theirs)) == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_unknown_tokens_introspect_as_inactive(hub: Hub, token: str) -> None:
    await hub.partner()
    client = await hub.client()

    assert await _introspect(hub, client, token) == {"active": False}


async def test_a_revoked_token_introspects_as_inactive(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)
    await hub.http.post(
        "/oauth/revoke", data={"token": token}, auth=(client.client_id, client.client_secret or "")
    )

    assert await _introspect(hub, client, token) == {"active": False}


async def test_introspection_needs_client_authentication(hub: Hub) -> None:
    response = await hub.http.post("/oauth/introspect", data={"token": "x"})

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_revoking_another_clients_token_answers_200_and_changes_nothing(hub: Hub) -> None:
    await hub.partner()
    await hub.partner("optician")
    mine = await hub.client()
    theirs = await hub.client(partner="optician")
    token = await hub.access_token(theirs)

    response = await hub.http.post(
        "/oauth/revoke", data={"token": token}, auth=(mine.client_id, mine.client_secret or "")
    )

    assert response.status_code == 200
    assert (await hub.viewer(token)).status_code == 200


async def test_metadata_describes_the_server(hub: Hub) -> None:
    metadata = (await hub.http.get("/.well-known/oauth-authorization-server")).json()

    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert metadata["grant_types_supported"] == [
        "client_credentials",
        "authorization_code",
        "refresh_token",
    ]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    assert "operator:admin" in metadata["scopes_supported"]
    assert "member:self" in metadata["scopes_supported"]


async def test_jwks_publishes_only_public_keys(hub: Hub) -> None:
    keys = (await hub.http.get("/.well-known/jwks.json")).json()["keys"]

    assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("EC", "P-256", "ES256")]
    assert all("d" not in key for key in keys)


async def test_a_rotated_secret_keeps_the_old_one_for_the_grace_period(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    settings = get_settings()
    rotated = await hub.database.write(
        rotate_secret, settings.secret_key, client.client_id, utcnow(), timedelta(hours=1)
    )

    assert (await hub.token(client)).status_code == 200
    assert (await hub.token(rotated)).status_code == 200

    await hub.database.write(
        rotate_secret, settings.secret_key, client.client_id, utcnow(), timedelta(0)
    )
    assert (await hub.token(client)).status_code == 401
    assert (await hub.token(rotated)).status_code == 401


async def test_two_concurrent_uses_of_one_assertion_yield_one_token(hub: Hub) -> None:
    await hub.partner()
    key = signing_key()
    client = await hub.client(method=AuthMethod.PRIVATE_KEY_JWT, jwks=public_jwks(key))
    token = assertion(key, client.client_id)

    responses = await asyncio.gather(
        *(hub.http.post("/oauth/token", data=assertion_form(token)) for _ in range(2))
    )

    assert sorted(response.status_code for response in responses) == [200, 401]


async def test_operator_admin_is_refused_for_partner_clients_in_code(hub: Hub) -> None:
    await hub.partner()

    with pytest.raises(OperatorScopeForbidden):
        await hub.client(scopes=("operator:admin",))


async def test_operator_admin_is_refused_for_partner_clients_by_the_database(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    def grant(session: Session) -> None:
        session.execute(
            text(
                "UPDATE oauth_clients SET scopes = 'catalog:read operator:admin' "
                "WHERE client_id = :c"
            ),
            {"c": client.client_id},
        )

    with pytest.raises(IntegrityError, match="operator_scope_only_for_operator"):
        await hub.database.write(grant)


async def test_secrets_and_tokens_appear_neither_in_logs_nor_in_the_database(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await hub.partner()
    client = await hub.client(method=AuthMethod.CLIENT_SECRET_POST)
    secret = client.client_secret or ""
    token_response = await hub.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
    )
    token = token_response.json()["access_token"]
    await hub.viewer(token)
    await hub.http.post(f"/oauth/token?client_secret={secret}", data={"grant_type": "x"})
    await hub.http.post(
        "/oauth/revoke",
        data={"token": token, "client_id": client.client_id, "client_secret": secret},
    )

    # Everything the hub logged; the test's own HTTP client (httpx2) is the caller, not the hub.
    logged = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("httpx")
    )

    def every_stored_text(session: Session) -> str:
        found = []
        for table in inspect(session.get_bind()).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                found.extend(str(value) for value in row)
        return "\n".join(found)

    stored = await hub.database.read(every_stored_text)

    assert "POST /oauth/token 200" in logged
    for needle in (secret, token, token.split(".")[2]):
        assert needle not in logged
        assert needle not in stored
    assert client.client_id in stored


async def test_the_signing_key_is_stored_sealed(hub: Hub) -> None:
    from hub.oauth2.models import SigningKey

    def sealed(session: Session) -> list[str]:
        return list(session.execute(select(SigningKey.private_key_sealed)).scalars())

    stored = await hub.database.read(sealed)

    assert len(stored) == 1
    assert '"d"' not in stored[0]


async def test_expired_assertion_and_revocation_records_are_purged(hub: Hub) -> None:
    from hub.oauth2.housekeeping import purge_expired
    from hub.oauth2.models import RevokedToken, UsedAssertion

    await hub.partner()
    key = signing_key()
    client = await hub.client(method=AuthMethod.PRIVATE_KEY_JWT, jwks=public_jwks(key))
    token_reply = await hub.http.post(
        "/oauth/token", data=assertion_form(assertion(key, client.client_id, lifetime=60))
    )
    await hub.http.post(
        "/oauth/revoke",
        data={
            **assertion_form(assertion(key, client.client_id)),
            "token": token_reply.json()["access_token"],
        },
    )

    def counts(session: Session) -> tuple[int, int]:
        return (
            len(session.execute(select(UsedAssertion.jti)).all()),
            len(session.execute(select(RevokedToken.jti)).all()),
        )

    before = await hub.database.read(counts)
    kept = await hub.database.write(purge_expired, utcnow())
    purged = await hub.database.write(purge_expired, utcnow() + timedelta(hours=2))

    assert before == (2, 1)
    assert (kept, purged) == (0, 3)
    assert await hub.database.read(counts) == (0, 0)


@pytest.mark.parametrize("hint", ["refresh_token", "access_token", "made_up"])
async def test_revocation_ignores_the_token_type_hint(hub: Hub, hint: str) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)

    response = await hub.http.post(
        "/oauth/revoke",
        data={"token": token, "token_type_hint": hint},
        auth=(client.client_id, client.client_secret or ""),
    )

    assert (response.status_code, response.json()) == (200, {})
    assert (await hub.viewer(token)).status_code == 401


async def test_introspection_ignores_an_unknown_token_type_hint(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)

    response = await hub.http.post(
        "/oauth/introspect",
        data={"token": token, "token_type_hint": "made_up"},
        auth=(client.client_id, client.client_secret or ""),
    )

    assert (response.status_code, response.json()["active"]) == (200, True)


@pytest.mark.parametrize("endpoint", ["/oauth/revoke", "/oauth/introspect"])
async def test_a_request_without_a_token_is_400_invalid_request(hub: Hub, endpoint: str) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.http.post(
        endpoint,
        data={"token_type_hint": "access_token"},
        auth=(client.client_id, client.client_secret or ""),
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert "www-authenticate" not in response.headers
