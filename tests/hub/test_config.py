from datetime import timedelta

from core.config import DEFAULT_DATABASE_URL, Settings


def test_defaults_are_an_embedded_sqlite_file_and_fifteen_minute_holds() -> None:
    settings = Settings.from_env({})

    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./alliance.db"
    assert settings.hold_ttl == timedelta(minutes=15)


def test_environment_overrides_the_defaults() -> None:
    settings = Settings.from_env(
        {"HUB_DATABASE_URL": "postgresql://h/db", "HUB_HOLD_TTL_SECONDS": "60"}
    )

    assert (settings.database_url, settings.hold_ttl) == ("postgresql://h/db", timedelta(minutes=1))
