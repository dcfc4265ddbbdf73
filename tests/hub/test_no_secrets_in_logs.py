"""Logs that can be handed to anyone: an abusive scenario puts tokens, secrets, phones and
names everywhere a careless or hostile client could (query strings, GET mutations, bad
names, headers, a failing service quoting its input), and the captured log holds none."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from core.config import get_settings
from hub import cli
from partners.models import AuthMethod
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import REGISTER, _partner

pytestmark = pytest.mark.anyio

PHONE = "13987654321"
NAME = "Li Lei"
SURROGATE_NAME = "Han \ud800Meimei"
NUL_NAME = "Wang\x00Fang"


async def _post_json(hub: Hub, url: str, body: dict[str, Any], **headers: str) -> int:
    response = await hub.http.post(
        url,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
    )
    return response.status_code


async def test_an_abusive_scenario_logs_no_secret_token_phone_or_name(
    hub: Hub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    await hub.partner("store")
    client = await hub.client("store", method=AuthMethod.CLIENT_SECRET_POST)
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
    partner_token = await _partner(hub, "cinema")
    register = {
        "externalRef": "ref-1",
        "phone": PHONE,
        "displayName": NAME,
        "consent": True,
    }
    statuses = [
        # Secrets and tokens in query strings.
        (
            await hub.http.post(
                f"/oauth/token?client_id={client.client_id}&client_secret={secret}",
                data={"grant_type": "client_credentials"},
            )
        ).status_code,
        await _post_json(hub, f"/graphql?access_token={token}", {"query": "{ apiVersion }"}),
        (await hub.http.get(f"/graphql/{secret}?access_token={token}")).status_code,
        # A mutation by GET, with the phone and the name in the URL.
        (
            await hub.http.get(
                "/graphql",
                params={
                    "query": "mutation($i: RegisterMemberInput!) { registerMember(input: $i) "
                    "{ member { id } } }",
                    "variables": json.dumps({"i": register}),
                },
            )
        ).status_code,
        # Bad names: a lone surrogate, a NUL, one too long; a phone that is not one.
        *[
            await _post_json(
                hub,
                "/graphql",
                {"query": REGISTER, "variables": {"input": {**register, "displayName": bad}}},
                Authorization=f"Bearer {partner_token}",
            )
            for bad in (SURROGATE_NAME, NUL_NAME, NAME * 50)
        ],
        await _post_json(
            hub,
            "/graphql",
            {"query": REGISTER, "variables": {"input": {**register, "phone": f"{PHONE}x{NAME}"}}},
            Authorization=f"Bearer {partner_token}",
        ),
        # Bad credentials: a wrong secret, a token that is not one, a revoked token.
        (
            await hub.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, secret[:-4] + "AAAA"),
            )
        ).status_code,
        await _post_json(
            hub, "/graphql", {"query": "{ viewer { kind } }"}, Authorization=f"Bearer {secret}"
        ),
        (
            await hub.http.post(
                "/oauth/revoke",
                data={"token": token, "client_id": client.client_id, "client_secret": secret},
            )
        ).status_code,
        await _post_json(
            hub, "/graphql", {"query": "{ viewer { kind } }"}, Authorization=f"Bearer {token}"
        ),
    ]

    # A service that fails quoting its input: the traceback's message must not be logged.
    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"cannot store {kwargs.get('phone')} / {kwargs.get('display_name')}")

    monkeypatch.setattr("resolvers.members.start_registration", failing)
    failed = await hub.http.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": register}},
        headers={"Authorization": f"Bearer {partner_token}"},
    )
    errors = failed.json()["errors"]

    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''} {record.__dict__}"
        for record in caplog.records
        if not record.name.startswith("httpx")
    )
    assert statuses == [400, 200, 404, 405, 200, 200, 200, 200, 401, 401, 200, 401]
    assert errors[0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert f"error={errors[0]['extensions']['errorId']}" in logged
    assert "builtins.RuntimeError at" in logged
    for needle in (
        secret,
        secret[4:20],
        token,
        token.split(".")[2],
        partner_token,
        PHONE,
        NAME,
        "Meimei",
        "Fang",
        "access_token",
        "client_secret=",
    ):
        assert needle not in logged, needle


def test_serve_turns_uvicorn_access_log_off(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("HUB_ISSUER", "")  # unset; restored (and the cache cleared) after
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    try:
        assert cli.main(["serve", "--port", "8013"]) == 0
        assert get_settings().issuer == "http://127.0.0.1:8013"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert seen["access_log"] is False
