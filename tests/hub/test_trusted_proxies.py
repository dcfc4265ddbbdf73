"""Which proxies the server believes: none unless ``HUB_TRUSTED_PROXIES`` names them, so a
client cannot dodge the sign-in page's per-address limit with a forged X-Forwarded-For
(uvicorn believes loopback by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from hub import cli
from hub.cli import main
from tests.hub.oauth2.test_member_sign_in import REDIRECT, hidden_fields, verifier_and_challenge
from tests.serving import serving


def _app_client(database_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["clients", "create-app", "--database-url", database_url, "--name", "App"]
    assert main([*argv, "--redirect-uri", REDIRECT, "--json"]) == 0
    return str(json.loads(capsys.readouterr().out)["client_id"])


def _send_codes(base: str, client_id: str, forwarded_for: list[str]) -> list[int]:
    """One sign-in code request per forged X-Forwarded-For, each for another phone."""
    _, challenge = verifier_and_challenge()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "member:self",
            "state": "s",
        }
    )
    statuses = []
    with httpx2.Client(base_url=base, timeout=10) as http:
        for n, address in enumerate(forwarded_for):
            page = http.get(f"/oauth/authorize?{query}", headers={"X-Forwarded-For": address})
            assert page.status_code == 200, page.text
            form = {**hidden_fields(page.text), "phone": f"1310013{n:04d}"}
            sent = http.post("/oauth/authorize", data=form, headers={"X-Forwarded-For": address})
            statuses.append(sent.status_code)
    return statuses


def _settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "HUB_CODES_PER_ADDRESS": "2",
        "HUB_NOTIFY_OUTBOX": str(tmp_path / "notifications.jsonl"),
        **extra,
    }


FORGED = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]


def test_a_forged_forwarded_for_does_not_dodge_the_address_limit(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = _app_client(database_url, capsys)
    with serving(database_url, env=_settings(tmp_path)) as base:
        statuses = _send_codes(base, client_id, FORGED)

    assert statuses == [200, 200, 429]  # all three came from 127.0.0.1


def test_a_trusted_proxy_supplies_the_client_address(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = _app_client(database_url, capsys)
    settings = _settings(tmp_path, HUB_TRUSTED_PROXIES="127.0.0.1")
    with serving(database_url, env=settings) as base:
        statuses = _send_codes(base, client_id, FORGED)

    assert statuses == [200, 200, 200]  # three addresses, as the proxy said


def test_serve_passes_the_proxy_trust_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: seen.append(kwargs))
    args = cli.build_parser().parse_args(["serve"])

    monkeypatch.delenv("HUB_TRUSTED_PROXIES", raising=False)
    cli.get_settings.cache_clear()
    cli.cmd_serve(args)
    monkeypatch.setenv("HUB_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")
    cli.get_settings.cache_clear()
    cli.cmd_serve(args)
    cli.get_settings.cache_clear()

    assert seen[0]["proxy_headers"] is False
    assert seen[1]["proxy_headers"] is True
    assert seen[1]["forwarded_allow_ips"] == ["10.0.0.0/8", "192.0.2.7"]
