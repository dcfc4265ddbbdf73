"""Onboarding from the command line: partners, clients, the operator client, keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from hub.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_partner_is_added_listed_and_suspended(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)

    added = _run(capsys, "partners", "add", "--code", "optician", "--name", "Clear Sight", *db)
    listed = _run(capsys, "partners", "list", "--json", *db)
    suspended = _run(capsys, "partners", "suspend", "optician", *db)

    assert added == (0, "partner optician added (Clear Sight)\n", "")
    charity = _run(
        capsys, "partners", "add", "--code", "trees", "--name", "Trees", "--kind", "CHARITY", *db
    )
    assert charity == (0, "partner trees added (Trees, a registered charity)\n", "")
    assert json.loads(listed[1])[0] == {
        "id": 1,
        "code": "optician",
        "name": "Clear Sight",
        "legal_entity": "Clear Sight",
        "status": "ACTIVE",
        "kind": "MERCHANT",
        "compensation_cap_percent": 100,
    }
    assert suspended[:2] == (0, "partner optician suspended; its live tokens no longer work\n")


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (
            ("partners", "add", "--code", "Bad Code", "--name", "x"),
            "partner code 'Bad Code' must be",
        ),
        (("partners", "suspend", "nobody"), "no partner 'nobody'"),
        (
            ("clients", "create", "--partner", "nobody", "--scopes", "catalog:read"),
            "no partner 'nobody'",
        ),
        (("clients", "revoke", "ahc_nobody"), "no active client 'ahc_nobody'"),
    ],
)
def test_bad_input_exits_one_with_a_one_line_reason(
    database_url: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], reason: str
) -> None:
    status, out, err = _run(capsys, *argv, "--database-url", database_url)

    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"alliance-hub: {reason}")


def test_a_client_is_created_with_its_secret_shown_once_as_json(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)
    _run(capsys, "partners", "add", "--code", "cinema", "--name", "Star Cinema", *db)

    status, out, _ = _run(
        capsys,
        "clients",
        "create",
        "--partner",
        "cinema",
        "--scopes",
        "points:redeem",
        "--json",
        *db,
    )
    created = json.loads(out)
    rotated = json.loads(
        _run(capsys, "clients", "rotate-secret", created["client_id"], "--json", *db)[1]
    )
    revoked = _run(capsys, "clients", "revoke", created["client_id"], *db)

    assert status == 0
    assert created["client_id"].startswith("ahc_")
    assert created["client_secret"].startswith("ahs_")
    assert created["scope"] == "points:redeem"
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
    assert revoked[0] == 0


def test_operator_admin_is_refused_to_a_partner_client(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)
    _run(capsys, "partners", "add", "--code", "cinema", "--name", "Star Cinema", *db)

    status, _, err = _run(
        capsys, "clients", "create", "--partner", "cinema", "--scopes", "operator:admin", *db
    )

    assert (status, err) == (
        1,
        "alliance-hub: operator:admin can never be granted to a partner client\n",
    )


def test_the_operator_client_has_operator_admin(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(
        capsys, "operator", "create-client", "--json", "--database-url", database_url
    )

    assert status == 0
    assert json.loads(out)["scope"] == "operator:admin"


def test_a_private_key_jwt_client_registers_a_jwks_file(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ("--database-url", database_url)
    _run(capsys, "partners", "add", "--code", "cinema", "--name", "Star Cinema", *db)
    public = tmp_path / "jwks.json"
    public.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}))

    ok = _run(
        capsys,
        "clients",
        "create",
        "--partner",
        "cinema",
        "--scopes",
        "catalog:read",
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        str(public),
        "--json",
        *db,
    )
    refused = _run(
        capsys,
        "clients",
        "create",
        "--partner",
        "cinema",
        "--scopes",
        "catalog:read",
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        str(private),
        *db,
    )

    assert ok[0] == 0
    assert "client_secret" not in json.loads(ok[1])
    assert refused[0] == 1
    assert "a private key was given" in refused[2]


def test_keys_rotate_publishes_a_new_key(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "keys", "rotate", "--database-url", database_url)

    assert status == 0
    assert out.endswith("the previous keys verify for 15 more minutes\n")
