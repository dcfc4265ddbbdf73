"""The resource side: which bearer tokens /graphql accepts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import utcnow
from hub.oauth2.keys import current_key, rotate_signing_key
from hub.oauth2.models import SigningKey
from hub.oauth2.tokens import issue_access_token
from partners.clients import revoke_client
from partners.registry import suspend_partner
from tests.hub.conftest import ISSUER, Hub

pytestmark = pytest.mark.anyio


def _challenge(response: object) -> str:
    return response.headers["www-authenticate"]  # type: ignore[attr-defined,no-any-return]


async def test_no_token_is_anonymous(hub: Hub) -> None:
    anonymous = await hub.http.post("/graphql", json={"query": "{ apiVersion }"})
    viewer = await hub.viewer(None)

    assert anonymous.json() == {"data": {"apiVersion": "0.1.0"}}
    assert viewer.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_a_valid_token_makes_the_partner_principal(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.viewer(await hub.access_token(client))

    assert response.json() == {
        "data": {
            "viewer": {
                "kind": "partner",
                "clientId": client.client_id,
                "partnerCode": "cinema",
                "scopes": ["catalog:write", "points:redeem"],
            }
        }
    }


async def test_an_operator_token_has_no_partner(hub: Hub) -> None:
    client = await hub.client(partner=None, scopes=("operator:admin",))

    response = await hub.viewer(await hub.access_token(client))

    assert response.json()["data"]["viewer"] == {
        "kind": "operator",
        "clientId": client.client_id,
        "partnerCode": None,
        "scopes": ["operator:admin"],
    }


async def _sign(
    hub: Hub, client_id: str, *, now_offset: timedelta = timedelta(0), **claims: str
) -> str:
    settings = get_settings()
    key = await hub.database.read(current_key, settings.secret_key)
    token, _ = issue_access_token(
        key,
        issuer=claims.get("issuer", settings.issuer),
        audience=claims.get("audience", settings.resource),
        client_id=client_id,
        scopes=["catalog:write"],
        now=utcnow() + now_offset,
        lifetime=settings.access_token_lifetime,
    )
    return token


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ({"now_offset": timedelta(minutes=-20)}, "the token is not valid here: expired_token"),
        (
            {"audience": "https://other.example/graphql"},
            "the token is not valid here: invalid_claim",
        ),
        ({"issuer": "https://other.example"}, "the token is not valid here: invalid_claim"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
async def test_tokens_that_are_not_valid_here_get_401_invalid_token(
    hub: Hub, variant: dict, reason: str
) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.viewer(await _sign(hub, client.client_id, **variant))

    assert response.status_code == 401
    assert _challenge(response) == f'Bearer error="invalid_token", error_description="{reason}"'
    assert response.json() == {
        "errors": [
            {
                "message": f"invalid token: {reason}",
                "extensions": {"code": "UNAUTHENTICATED", "http": {"status": 401}},
            }
        ]
    }


async def test_a_forged_token_signed_with_another_key_is_refused(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    real = await hub.access_token(client)
    published_kid = jws.extract_compact(real.encode()).headers()["kid"]
    forger = ECKey.generate_key("P-256")
    header = {"alg": "ES256", "typ": "at+jwt", "kid": published_kid}
    claims = {
        "iss": ISSUER,
        "aud": f"{ISSUER}/graphql",
        "sub": client.client_id,
        "client_id": client.client_id,
        "scope": "catalog:write",
        "jti": "forged",
        "iat": int(utcnow().timestamp()),
        "exp": int(utcnow().timestamp()) + 60,
    }
    forged = jwt.encode(header, claims, forger, algorithms=["ES256"])

    response = await hub.viewer(forged)

    assert response.status_code == 401
    assert "the signature does not verify" in _challenge(response)


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_malformed_authorization_gets_401(hub: Hub, header: str) -> None:
    response = await hub.http.post(
        "/graphql", json={"query": "{ apiVersion }"}, headers={"Authorization": header}
    )

    assert response.status_code == 401
    assert _challenge(response).startswith('Bearer error="invalid_token"')
    assert response.json()["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "http": {"status": 401},
    }


async def test_a_revoked_token_stops_at_once(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)
    assert (await hub.viewer(token)).status_code == 200

    revoked = await hub.http.post(
        "/oauth/revoke", data={"token": token}, auth=(client.client_id, client.client_secret or "")
    )

    assert revoked.status_code == 200
    response = await hub.viewer(token)
    assert response.status_code == 401
    assert "the token was revoked" in _challenge(response)


async def test_suspending_the_partner_stops_its_live_tokens(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)

    await hub.database.write(suspend_partner, "cinema", utcnow())

    response = await hub.viewer(token)
    assert response.status_code == 401
    assert "no longer active" in _challenge(response)


async def test_revoking_the_client_stops_its_live_tokens(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)

    await hub.database.write(revoke_client, client.client_id, utcnow())

    assert (await hub.viewer(token)).status_code == 401
    assert (await hub.token(client)).status_code == 401


async def test_tokens_of_a_retired_key_work_for_one_lifetime_then_stop(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    old = await hub.access_token(client)
    await hub.database.write(rotate_signing_key, get_settings().secret_key, utcnow())

    published = (await hub.http.get("/.well-known/jwks.json")).json()["keys"]
    still = await hub.viewer(old)
    new = await hub.viewer(await hub.access_token(client))

    def age_retirement(session: Session) -> None:
        session.execute(
            update(SigningKey)
            .where(SigningKey.retired_at.is_not(None))
            .values(retired_at=utcnow() - timedelta(minutes=16))
        )

    await hub.database.write(age_retirement)
    hub_backend_reload = await hub.http.get("/.well-known/jwks.json")
    await _expire_key_cache(hub)
    after = await hub.viewer(old)

    assert len(published) == 2
    assert (still.status_code, new.status_code) == (200, 200)
    assert len(hub_backend_reload.json()["keys"]) == 1
    assert after.status_code == 401
    assert "no longer accepts" in _challenge(after)


async def _expire_key_cache(hub: Hub) -> None:
    """The bearer check caches the JWKS for 30 s; age it as time would."""
    graphql_route = next(r for r in hub.app.routes if getattr(r, "path", "") == "/graphql")
    backend = graphql_route.app.app.backend  # type: ignore[attr-defined]
    backend._loaded_at -= 60
