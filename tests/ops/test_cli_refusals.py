"""Operability: every configuration or input failure of the CLI is one line naming the
problem (and the path, where a path is involved), exit status 1, nothing created."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import LOCAL_SECRET_FILE, ConfigError, Settings, get_settings
from hub.cli import main
from tests.stores import STORE, TEST_SECRET_KEY, Templates

STRONG = "another-secret-key-that-is-long-enough-0123"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test runs in its own directory; main() may write os.environ, undone after."""
    monkeypatch.chdir(tmp_path)
    for name in ("HUB_DATABASE_URL", "HUB_SECRET_KEY", "HUB_ISSUER", "HUB_ENV"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setenv("HUB_SECRET_KEY", TEST_SECRET_KEY)
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    status = main(args)
    return status, capsys.readouterr().err.splitlines()


def sqlite_only() -> None:
    if STORE != "sqlite":
        pytest.skip("file-path behaviour of the SQLite store")


def test_a_bad_database_url_is_one_line_without_the_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, err = run(["ledger", "verify", "--database-url", "not a url:secret@"], capsys)

    assert status == 1
    assert err == [
        "alliance-hub: HUB_DATABASE_URL (or --database-url) is not a database URL such as "
        "sqlite:///./alliance.db or postgresql://user@host/dbname"
    ]


def test_a_missing_directory_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "such"
    status, err = run(["migrate", "--database-url", f"sqlite:///{missing}/hub.db"], capsys)

    assert status == 1
    assert err == [
        f"alliance-hub: directory {missing} does not exist (for the database {missing}/hub.db)"
    ]
    assert not (tmp_path / "no").exists()


def test_ledger_verify_on_a_missing_file_refuses_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "absent.db"
    status, err = run(["ledger", "verify", "--database-url", f"sqlite:///{path}"], capsys)

    assert status == 1
    assert err == [
        f"alliance-hub: no database at {path}: run `alliance-hub migrate` first, "
        "or set HUB_DATABASE_URL"
    ]
    assert list(tmp_path.iterdir()) == []


def test_an_unmigrated_database_is_refused_by_every_command(
    templates: Templates, capsys: pytest.CaptureFixture[str]
) -> None:
    url = templates.empty_database()
    if STORE == "sqlite":
        Path(url.removeprefix("sqlite:///")).touch()
    for command in (["ledger", "verify"], ["keys", "rotate"], ["partners", "list"]):
        status, err = run([*command, "--database-url", url], capsys)
        assert (status, err) == (
            1,
            ["alliance-hub: the database has no schema: run `alliance-hub migrate`"],
        )


def test_serve_refuses_an_unmigrated_database(
    templates: Templates, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = templates.empty_database()
    if STORE == "sqlite":
        Path(url.removeprefix("sqlite:///")).touch()
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served"))

    status, err = run(["serve", "--database-url", url], capsys)

    assert (status, err) == (
        1,
        ["alliance-hub: the database has no schema: run `alliance-hub migrate`"],
    )


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "rotate"],
        ["serve"],
        ["worker"],
        ["demo"],
        ["clients", "rotate-secret", "c_x"],
        ["operator", "create-client"],
        ["clients", "create", "--partner", "p", "--scopes", "points:issue"],
    ],
)
def test_a_mismatching_secret_key_is_refused_before_anything_runs(
    command: list[str],
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", STRONG)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served"))

    status, err = run([*command, "--database-url", database_url], capsys)

    assert status == 1
    assert err == [
        "alliance-hub: HUB_SECRET_KEY is not the secret key this database's secrets were "
        "made with (checked against the value `alliance-hub migrate` stored): configure the "
        "original key; another would break every client secret and signing key"
    ]


def test_keys_rotate_with_the_wrong_key_leaves_the_right_one_working(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", STRONG)
    assert main(["keys", "rotate", "--database-url", database_url]) == 1
    monkeypatch.setenv("HUB_SECRET_KEY", TEST_SECRET_KEY)
    assert main(["keys", "rotate", "--database-url", database_url]) == 0
    assert "new signing key" in capsys.readouterr().out


def test_migrate_stores_the_check_and_refuses_another_key_later(
    templates: Templates, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = templates.empty_database()
    assert main(["migrate", "--database-url", url]) == 0
    monkeypatch.setenv("HUB_SECRET_KEY", STRONG)

    status, err = run(["migrate", "--database-url", url], capsys)

    assert status == 1
    assert err[0].startswith("alliance-hub: HUB_SECRET_KEY is not the secret key")


def test_a_weak_key_is_refused(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", "x")

    status, err = run(["keys", "rotate", "--database-url", database_url], capsys)

    assert status == 1
    assert err == [
        "alliance-hub: HUB_SECRET_KEY is too weak (1 characters; at least 16): make one with "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    ]


def test_production_refuses_a_missing_or_short_key_and_a_missing_issuer() -> None:
    production = {"HUB_ENV": "production", "HUB_ISSUER": "https://hub.example.com"}

    assert Settings.from_env({**production, "HUB_SECRET_KEY": STRONG}).refusals() == []
    assert Settings.from_env({**production, "HUB_SECRET_KEY": "a" * 20}).refusals() == [
        "HUB_SECRET_KEY is too weak (20 characters; at least 32 in production): make one with "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    ]
    assert Settings.from_env({"HUB_ENV": "production", "HUB_SECRET_KEY": STRONG}).refusals() == [
        "HUB_ISSUER is required in production: the public https URL of the hub, "
        "e.g. https://hub.example.com"
    ]
    assert Settings.from_env(
        {"HUB_ENV": "production", "HUB_SECRET_KEY": STRONG, "HUB_ISSUER": "http://hub"}
    ).refusals() == ["HUB_ISSUER must be an https URL in production, not 'http://hub'"]


def test_production_serve_without_a_key_is_one_line(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_only()
    monkeypatch.setenv("HUB_SECRET_KEY", "")
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_ISSUER", "https://hub.example.com")
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served"))

    status, err = run(["serve", "--database-url", database_url], capsys)

    assert status == 1
    assert err[0].startswith("alliance-hub: HUB_SECRET_KEY is required in production")


def test_an_http_issuer_in_production_is_one_line(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_ISSUER", "http://hub.example.com")
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served"))

    status, err = run(["serve", "--database-url", database_url], capsys)

    assert (status, err) == (
        1,
        [
            "alliance-hub: HUB_ISSUER must be an https URL in production, not 'http://hub.example.com'"
        ],
    )


def test_the_secret_file_is_made_only_for_a_database_without_keys(
    templates: Templates,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", "")
    url = templates.empty_database()
    assert main(["migrate", "--database-url", url]) == 0
    secret = tmp_path / LOCAL_SECRET_FILE
    assert secret.stat().st_mode & 0o777 == 0o600
    assert f"secret key kept in {secret}" in capsys.readouterr().out
    assert main(["keys", "rotate", "--database-url", url]) == 0

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served"))
    status, err = run(["serve", "--database-url", url], capsys)

    assert status == 1
    assert err == [
        f"alliance-hub: no HUB_SECRET_KEY and no {elsewhere / LOCAL_SECRET_FILE}, but this "
        "database's secrets were made with a secret key: set HUB_SECRET_KEY to it, or run "
        "from the directory holding its .alliance-hub-secret"
    ]
    status, err = run(["migrate", "--database-url", url], capsys)
    assert status == 1
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_DB_POOL_SIZE": "ten"}, "HUB_DB_POOL_SIZE must be a whole number, not 'ten'"),
        ({"HUB_DB_POOL_SIZE": "0"}, "HUB_DB_POOL_SIZE must be at least 1, not 0"),
        (
            {"HUB_DB_POOL_TIMEOUT_SECONDS": "soon"},
            "HUB_DB_POOL_TIMEOUT_SECONDS must be a number of seconds, not 'soon'",
        ),
        ({"HUB_HOLD_TTL_SECONDS": "-5"}, "HUB_HOLD_TTL_SECONDS must be at least 1, not -5"),
        ({"HUB_LOG_FORMAT": "xml"}, "HUB_LOG_FORMAT must be one of text, json, not 'xml'"),
        ({"HUB_GRAPHIQL": "maybe"}, "HUB_GRAPHIQL must be on or off, not 'maybe'"),
        (
            {"HUB_CORS_ORIGINS": "*"},
            "HUB_CORS_ORIGINS holds '*': give exact origins such as https://app.example.com "
            "(scheme, host and port only)",
        ),
        (
            {"HUB_METRICS_NETWORKS": "everyone"},
            "HUB_METRICS_NETWORKS holds 'everyone', not a network such as 10.0.0.0/8",
        ),
        ({"HUB_ENV": "prod"}, "HUB_ENV must be one of development, production, not 'prod'"),
        (
            {"HUB_SMS_COUNTRY_CODES": "china"},
            "HUB_SMS_COUNTRY_CODES must list calling codes (1-3 digits) or *",
        ),
        (
            {"HUB_CATALOG_MEMORY_ITEMS": "many"},
            "HUB_CATALOG_MEMORY_ITEMS must be a whole number, not 'many'",
        ),
    ],
)
def test_bad_settings_are_one_line_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)

    assert str(raised.value) == message


def test_a_bad_setting_stops_the_cli_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "ledger", "verify"],
        env={**os.environ, "HUB_DB_POOL_SIZE": "lots", "HUB_SECRET_KEY": TEST_SECRET_KEY},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "alliance-hub: HUB_DB_POOL_SIZE must be a whole number, not 'lots'"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_missing_output_directory_is_named(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "out.json"

    status, err = run(
        ["demo", "--credentials", str(target), "--database-url", database_url], capsys
    )

    assert status == 1
    assert err == [f"alliance-hub: {target}: No such file or directory"]


def test_a_missing_metrics_directory_is_named(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(missing))

    status, err = run(["ledger", "verify", "--database-url", database_url], capsys)

    assert (status, err) == (
        1,
        [f"alliance-hub: PROMETHEUS_MULTIPROC_DIR names {missing}, which is not a directory"],
    )
