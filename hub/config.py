"""Settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./alliance.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    hold_ttl: timedelta = timedelta(minutes=15)
    sqlite_busy_timeout_ms: int = 10_000
    database_pool_size: int = 10

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("HUB_DATABASE_URL", DEFAULT_DATABASE_URL),
            hold_ttl=timedelta(seconds=int(env.get("HUB_HOLD_TTL_SECONDS", "900"))),
            sqlite_busy_timeout_ms=int(env.get("HUB_SQLITE_BUSY_TIMEOUT_MS", "10000")),
            database_pool_size=int(env.get("HUB_DATABASE_POOL_SIZE", "10")),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
