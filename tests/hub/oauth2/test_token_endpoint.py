"""The token endpoint with each client authentication method, and every refusal."""

from __future__ import annotations

import base64
import json
import time

import httpx2
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from core.db import utcnow
from partners.models import AuthMethod
from partners.registry import suspend_partner
from tests.hub.conftest import (
    ISSUER,
    TOKEN_URL,
    Hub,
    assertion,
    assertion_form,
    public_jwks,
    signing_key,
)

pytestmark = pytest.mark.anyio


def _oauth_client(hub: Hub, client_id: str, secret: object, method: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id,
        secret,
        token_endpoint_auth_method=method,
        transport=httpx2.ASGITransport(app=hub.app),
        base_url="http://testserver",
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_client_gets_a_token_with_a_secret_and_calls_graphql(
    hub: Hub, method: str
) -> None:
    await hub.partner()
    client = await hub.client(method=AuthMethod(method))

    async with _oauth_client(hub, client.client_id, client.client_secret, method) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
        reply = await oauth.post(
            "/graphql", json={"query": "{ viewer { kind partnerCode scopes } }"}
        )

    assert (token["token_type"], token["expires_in"]) == ("Bearer", 900)
    assert reply.json() == {
        "data": {
            "viewer": {
                "kind": "partner",
                "partnerCode": "cinema",
                "scopes": ["catalog:write", "points:redeem"],
            }
        }
    }


async def test_authlib_client_gets_a_token_with_private_key_jwt(hub: Hub) -> None:
    await hub.partner()
    key = signing_key()
    client = await hub.client(method=AuthMethod.PRIVATE_KEY_JWT, jwks=public_jwks(key))

    async with _oauth_client(hub, client.client_id, key, "private_key_jwt") as oauth:
        oauth.register_client_auth_method(
            PrivateKeyJWT(ISSUER, alg="ES256", headers={"kid": key.kid})
        )
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
        reply = await oauth.post("/graphql", json={"query": "{ viewer { clientId } }"})

    assert token["scope"] == "points:redeem catalog:write"
    assert reply.json() == {"data": {"viewer": {"clientId": client.client_id}}}


async def test_access_tokens_are_rfc9068_jwts_signed_by_a_published_key(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    token = await hub.access_token(client)
    header_part, claims_part, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=="))
    claims = json.loads(base64.urlsafe_b64decode(claims_part + "=="))
    published = (await hub.http.get("/.well-known/jwks.json")).json()

    assert (header["typ"], header["alg"]) == ("at+jwt", "ES256")
    assert header["kid"] in [key["kid"] for key in published["keys"]]
    assert {k: claims[k] for k in ("iss", "aud", "sub", "client_id", "scope")} == {
        "iss": ISSUER,
        "aud": f"{ISSUER}/graphql",
        "sub": client.client_id,
        "client_id": client.client_id,
        "scope": "points:redeem catalog:write",
    }
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert len(claims["jti"]) >= 16


async def test_a_narrower_scope_may_be_requested(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.token(client, scope="catalog:write")

    assert response.json()["scope"] == "catalog:write"
    assert response.headers["cache-control"] == "no-store"


async def test_a_scope_not_registered_to_the_client_is_invalid_scope(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.token(client, scope="points:issue")

    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")


async def test_operator_admin_cannot_be_requested_by_a_partner(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.token(client, scope="operator:admin")

    assert response.json()["error"] == "invalid_scope"


async def test_a_wrong_secret_is_invalid_client_401_with_a_challenge(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, "ahs_not-the-secret"),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"] == 'Basic realm="alliance-hub"'
    assert response.headers["cache-control"] == "no-store"


async def test_a_wrong_secret_in_the_body_is_also_401(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client(method=AuthMethod.CLIENT_SECRET_POST)

    response = await hub.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": "nope",
        },
    )

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_an_unknown_client_is_invalid_client(hub: Hub) -> None:
    response = await hub.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("ahc_nobody", "x")
    )

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_a_client_must_use_its_registered_method(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client(method=AuthMethod.CLIENT_SECRET_POST)

    response = await hub.token(client)  # HTTP Basic instead of the body

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_a_suspended_partners_client_is_invalid_client(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()
    await hub.database.write(suspend_partner, "cinema", utcnow())

    response = await hub.token(client)

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_another_grant_type_is_unsupported(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        auth=(client.client_id, client.client_secret or ""),
    )

    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize(
    ("request_kwargs", "description"),
    [
        ({"data": {"scope": "catalog:write"}}, "grant_type is required"),
        (
            {
                "content": "grant_type=client_credentials&grant_type=client_credentials",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            "parameters may appear only once: grant_type",
        ),
        (
            {"json": {"grant_type": "client_credentials"}},
            "the body must be application/x-www-form-urlencoded",
        ),
    ],
    ids=["missing-grant-type", "duplicate-parameter", "json-body"],
)
async def test_malformed_token_requests_are_invalid_request(
    hub: Hub, request_kwargs: dict[str, object], description: str
) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.http.post(
        "/oauth/token", auth=(client.client_id, client.client_secret or ""), **request_kwargs
    )

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": description}
    assert response.headers["cache-control"] == "no-store"


async def test_two_authentication_methods_at_once_are_invalid_request(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client()

    response = await hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": client.client_secret or ""},
        auth=(client.client_id, client.client_secret or ""),
    )

    assert response.json() == {
        "error": "invalid_request",
        "error_description": "use exactly one client authentication method",
    }


async def test_a_secret_in_the_query_string_is_invalid_request(hub: Hub) -> None:
    await hub.partner()
    client = await hub.client(method=AuthMethod.CLIENT_SECRET_POST)

    response = await hub.http.post(
        f"/oauth/token?client_id={client.client_id}&client_secret={client.client_secret}",
        data={"grant_type": "client_credentials"},
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


class TestPrivateKeyJwt:
    @pytest.fixture
    async def registered(self, hub: Hub) -> tuple[object, str]:
        await hub.partner()
        key = signing_key()
        client = await hub.client(method=AuthMethod.PRIVATE_KEY_JWT, jwks=public_jwks(key))
        return key, client.client_id

    async def _post(self, hub: Hub, token: str) -> httpx2.Response:
        return await hub.http.post("/oauth/token", data=assertion_form(token))

    async def test_a_valid_assertion_gets_a_token(self, hub: Hub, registered: tuple) -> None:
        key, client_id = registered

        response = await self._post(hub, assertion(key, client_id))

        assert response.status_code == 200

    async def test_the_token_endpoint_url_is_an_accepted_audience(
        self, hub: Hub, registered: tuple
    ) -> None:
        key, client_id = registered

        response = await self._post(
            hub, assertion(key, client_id, audience=f"{ISSUER}/oauth/token")
        )

        assert response.status_code == 200

    async def test_a_replayed_assertion_is_refused(self, hub: Hub, registered: tuple) -> None:
        key, client_id = registered
        token = assertion(key, client_id)

        first = await self._post(hub, token)
        replay = await self._post(hub, token)

        assert (first.status_code, replay.status_code) == (200, 401)
        assert replay.json()["error"] == "invalid_client"

    @pytest.mark.parametrize(
        ("claims", "reason"),
        [
            ({"issued": int(time.time()) - 600, "lifetime": 120}, "expired"),
            ({"audience": "https://elsewhere.example/oauth/token"}, "wrong audience"),
            ({"lifetime": 3601}, "lifetime over an hour"),
            ({"issued": int(time.time()) + 600}, "issued in the future"),
        ],
    )
    async def test_an_assertion_with_bad_claims_is_refused(
        self, hub: Hub, registered: tuple, claims: dict, reason: str
    ) -> None:
        key, client_id = registered

        response = await self._post(hub, assertion(key, client_id, **claims))

        assert (response.status_code, response.json()["error"]) == (401, "invalid_client"), reason

    async def test_an_assertion_signed_by_another_key_is_refused(
        self, hub: Hub, registered: tuple
    ) -> None:
        _, client_id = registered

        response = await self._post(hub, assertion(signing_key(), client_id))

        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")

    async def test_an_unsigned_alg_none_assertion_is_refused(
        self, hub: Hub, registered: tuple
    ) -> None:
        _, client_id = registered

        def encode(part: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

        now = int(time.time())
        unsigned = ".".join(
            [
                encode({"alg": "none"}),
                encode(
                    {
                        "iss": client_id,
                        "sub": client_id,
                        "aud": ISSUER,
                        "iat": now,
                        "exp": now + 60,
                        "jti": "none-1",
                    }
                ),
                "",
            ]
        )

        response = await self._post(hub, unsigned)

        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")

    async def test_an_hmac_assertion_is_refused(self, hub: Hub, registered: tuple) -> None:
        from joserfc.jwk import OctKey

        _, client_id = registered
        secret = OctKey.generate_key(256, parameters={"kid": "k"})

        response = await self._post(hub, assertion(secret, client_id, alg="HS256"))

        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")

    async def test_a_client_id_beside_the_assertion_must_be_its_subject(
        self, hub: Hub, registered: tuple
    ) -> None:
        key, client_id = registered
        other = await hub.client()

        mismatched = await hub.http.post(
            "/oauth/token",
            data={**assertion_form(assertion(key, client_id)), "client_id": other.client_id},
        )
        matching = await hub.http.post(
            "/oauth/token",
            data={**assertion_form(assertion(key, client_id)), "client_id": client_id},
        )

        assert (mismatched.status_code, mismatched.json()["error"]) == (401, "invalid_client")
        assert matching.status_code == 200

    async def test_a_refused_mismatch_does_not_spend_the_assertion(
        self, hub: Hub, registered: tuple
    ) -> None:
        key, client_id = registered
        token = assertion(key, client_id)

        refused = await hub.http.post(
            "/oauth/token", data={**assertion_form(token), "client_id": "someone-else"}
        )
        accepted = await self._post(hub, token)

        assert (refused.status_code, accepted.status_code) == (401, 200)
