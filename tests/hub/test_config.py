from datetime import timedelta

import pytest

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


def test_pool_settings_are_per_worker_with_documented_defaults() -> None:
    defaults = Settings.from_env({})
    tuned = Settings.from_env(
        {
            "HUB_DB_POOL_SIZE": "4",
            "HUB_DB_MAX_OVERFLOW": "2",
            "HUB_DB_POOL_TIMEOUT_SECONDS": "0.5",
            "HUB_DB_QUEUE_LIMIT": "50",
            "HUB_DB_STATEMENT_CACHE_SIZE": "0",
        }
    )

    assert (
        defaults.database_pool_size,
        defaults.database_max_overflow,
        defaults.database_pool_timeout,
        defaults.database_queue_limit,
        defaults.database_statement_cache_size,
    ) == (10, 5, 10.0, 2000, 100)
    assert (
        tuned.database_pool_size,
        tuned.database_max_overflow,
        tuned.database_pool_timeout,
        tuned.database_queue_limit,
        tuned.database_statement_cache_size,
    ) == (4, 2, 0.5, 50, 0)


def test_the_earlier_pool_size_variable_is_still_honoured() -> None:
    assert Settings.from_env({"HUB_DATABASE_POOL_SIZE": "7"}).database_pool_size == 7


def test_the_price_notice_period_is_seven_days_unless_set() -> None:
    assert Settings.from_env({}).price_notice == timedelta(days=7)
    assert Settings.from_env({"HUB_PRICE_NOTICE_DAYS": "14"}).price_notice == timedelta(days=14)
    with pytest.raises(ValueError, match="at least 1"):
        Settings.from_env({"HUB_PRICE_NOTICE_DAYS": "0"})
