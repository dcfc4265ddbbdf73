from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette

from core.config import get_settings
from core.db import Database, utcnow
from core.notify import OutboxNotifier
from hub.app import create_app
from partners.clients import IssuedClient, create_client
from partners.models import AuthMethod
from partners.registry import add_partner

ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = "http://testserver/oauth/token"


@dataclass
class Hub:
    app: Starlette
    http: httpx2.AsyncClient
    outbox: OutboxNotifier

    def last_message(self, phone: str | None = None) -> dict[str, str]:
        """The newest message the hub sent (to ``phone``, normalised, when given)."""
        sent = [m for m in self.outbox.read() if phone is None or m["to"] == phone]
        assert sent, "no message was sent"
        return sent[-1]

    @property
    def database(self) -> Database:
        database: Database = self.app.state.database
        return database

    async def partner(self, code: str = "cinema", kind: str = "MERCHANT") -> str:
        await self.database.write(
            add_partner,
            code=code,
            name=code.title(),
            legal_entity=f"{code} Ltd",
            now=utcnow(),
            kind=kind,
        )
        return code

    async def client(
        self,
        partner: str | None = "cinema",
        scopes: tuple[str, ...] = ("points:redeem", "catalog:write"),
        method: AuthMethod = AuthMethod.CLIENT_SECRET_BASIC,
        jwks: dict[str, Any] | None = None,
    ) -> IssuedClient:
        return await self.database.write(
            create_client,
            get_settings().secret_key,
            partner_code=partner,
            scopes=list(scopes),
            now=utcnow(),
            auth_method=method,
            jwks=jwks,
        )

    async def token(self, client: IssuedClient, **form: str) -> httpx2.Response:
        return await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", **form},
            auth=(client.client_id, client.client_secret or ""),
        )

    async def access_token(self, client: IssuedClient) -> str:
        response = await self.token(client)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def viewer(self, token: str | None) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql",
            json={"query": "{ viewer { kind clientId partnerCode scopes } }"},
            headers=headers,
        )


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    outbox = OutboxNotifier(tmp_path / "notifications.jsonl")
    app = create_app(database_url, notifier=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Hub(app, http, outbox)


def signing_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex[:8]})


def public_jwks(key: ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def assertion(
    key: ECKey | Any,
    client_id: str,
    *,
    audience: str = ISSUER,
    issued: int | None = None,
    lifetime: int = 60,
    jti: str | None = None,
    alg: str = "ES256",
) -> str:
    now = int(utcnow().timestamp()) if issued is None else issued  # the hub's clock
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def assertion_form(token: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token,
    }
