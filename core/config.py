"""Settings, read once from the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from core.notify import Notifier, notifier_from

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./alliance.db"
DEFAULT_ISSUER = "http://127.0.0.1:8000"
LOCAL_SECRET_FILE = ".alliance-hub-secret"
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 5
DEFAULT_POOL_TIMEOUT_SECONDS = 10.0
DEFAULT_QUEUE_LIMIT = 2000
DEFAULT_STATEMENT_CACHE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    hold_ttl: timedelta = timedelta(minutes=15)
    # The operator's notice period before a catalogue price increase takes effect (CR-07).
    price_notice: timedelta = timedelta(days=7)
    sqlite_busy_timeout_ms: int = 10_000
    # Per worker process (docs/operations.md sizes them with PostgreSQL's max_connections).
    database_pool_size: int = DEFAULT_POOL_SIZE
    database_max_overflow: int = DEFAULT_MAX_OVERFLOW
    database_pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS
    database_queue_limit: int = DEFAULT_QUEUE_LIMIT
    # 0 behind PgBouncer in transaction-pooling mode, which cannot keep prepared statements.
    database_statement_cache_size: int = DEFAULT_STATEMENT_CACHE_SIZE
    # OAuth 2.0: the hub is its own authorization server (RFC 8414 issuer) and the
    # resource its access tokens are for (RFC 9068 ``aud``).
    issuer: str = DEFAULT_ISSUER
    access_token_lifetime: timedelta = timedelta(minutes=15)
    secret_rotation_grace: timedelta = timedelta(hours=24)
    # Keys the hub's keyed hashes and encrypts its signing keys at rest. Never logged.
    secret_key: str = ""
    # "production" hardens what development allows (webhooks only to public https URLs;
    # no introspection for anonymous callers).
    environment: str = "development"
    # Members hear this many days before their points expire (CR-11, points.expiring).
    expiry_notice_days: int = 30
    # How long a worker holds a claimed webhook delivery; a killed worker's claims are
    # posted again by another once this runs out.
    webhook_lease: timedelta = timedelta(seconds=60)
    # Federation: at most this many entity representations in one request (_entities).
    max_entity_representations: int = 100
    # The public response cache per worker (hub.public_cache): its size (0 turns it off),
    # and the HTTP freshness of public GET answers for browsers and CDNs.
    public_cache_mb: int = 64
    public_cache_max_age: int = 5
    public_cache_stale_while_revalidate: int = 10
    # Each worker keeps the catalogue in memory for pages without SQL while it has at most
    # this many available items (partners.catalog_memory); 0 turns it off.
    catalog_memory_items: int = 20_000

    @property
    def production(self) -> bool:
        return self.environment == "production"

    # Where messages to members' phones go: a JSON-lines file in development, or a signed
    # HTTP SMS gateway when its URL is set (core/notify.py).
    notify_outbox: str = "./notifications.jsonl"
    sms_webhook_url: str = ""
    sms_webhook_secret: str = ""
    # Send budgets for one-time codes against SMS pumping (members/codes.py): per partner
    # and per app client in any hour, per caller address on the sign-in page in any 15
    # minutes.
    codes_per_partner_hour: int = 500
    codes_per_app_hour: int = 2000
    codes_per_address: int = 20
    # The proxies whose X-Forwarded-For / X-Forwarded-Proto the server believes (uvicorn's
    # forwarded_allow_ips: addresses or networks, comma-separated). Empty: none, so the
    # client address is the TCP peer's and per-address limits cannot be dodged by a header.
    trusted_proxies: str = ""

    @property
    def resource(self) -> str:
        return f"{self.issuer}/graphql"

    def notifier(self) -> Notifier:
        return notifier_from(self.notify_outbox, self.sms_webhook_url, self.sms_webhook_secret)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("HUB_DATABASE_URL", DEFAULT_DATABASE_URL),
            hold_ttl=timedelta(seconds=int(env.get("HUB_HOLD_TTL_SECONDS", "900"))),
            price_notice=_notice_days(env.get("HUB_PRICE_NOTICE_DAYS", "7")),
            sqlite_busy_timeout_ms=int(env.get("HUB_SQLITE_BUSY_TIMEOUT_MS", "10000")),
            database_pool_size=int(
                env.get("HUB_DB_POOL_SIZE")
                or env.get("HUB_DATABASE_POOL_SIZE")  # the earlier name, still honoured
                or DEFAULT_POOL_SIZE
            ),
            database_max_overflow=int(env.get("HUB_DB_MAX_OVERFLOW", DEFAULT_MAX_OVERFLOW)),
            database_pool_timeout=float(
                env.get("HUB_DB_POOL_TIMEOUT_SECONDS", DEFAULT_POOL_TIMEOUT_SECONDS)
            ),
            database_queue_limit=int(env.get("HUB_DB_QUEUE_LIMIT", DEFAULT_QUEUE_LIMIT)),
            database_statement_cache_size=int(
                env.get("HUB_DB_STATEMENT_CACHE_SIZE", DEFAULT_STATEMENT_CACHE_SIZE)
            ),
            issuer=env.get("HUB_ISSUER", DEFAULT_ISSUER).rstrip("/"),
            access_token_lifetime=timedelta(
                seconds=int(env.get("HUB_ACCESS_TOKEN_SECONDS", "900"))
            ),
            secret_rotation_grace=timedelta(
                seconds=int(env.get("HUB_SECRET_ROTATION_GRACE_SECONDS", "86400"))
            ),
            secret_key=env.get("HUB_SECRET_KEY") or local_secret_key(),
            environment=environment(env.get("HUB_ENV", "development")),
            expiry_notice_days=int(env.get("HUB_EXPIRY_NOTICE_DAYS", "30")),
            webhook_lease=timedelta(seconds=int(env.get("HUB_WEBHOOK_LEASE_SECONDS", "60"))),
            max_entity_representations=int(env.get("HUB_MAX_ENTITY_REPRESENTATIONS", "100")),
            public_cache_mb=int(env.get("HUB_PUBLIC_CACHE_MB", "64")),
            public_cache_max_age=int(env.get("HUB_PUBLIC_CACHE_MAX_AGE_SECONDS", "5")),
            public_cache_stale_while_revalidate=int(
                env.get("HUB_PUBLIC_CACHE_STALE_SECONDS", "10")
            ),
            catalog_memory_items=int(env.get("HUB_CATALOG_MEMORY_ITEMS", "20000")),
            notify_outbox=env.get("HUB_NOTIFY_OUTBOX", "./notifications.jsonl"),
            sms_webhook_url=env.get("HUB_SMS_WEBHOOK_URL", ""),
            sms_webhook_secret=env.get("HUB_SMS_WEBHOOK_SECRET", ""),
            codes_per_partner_hour=_count(env, "HUB_CODES_PER_PARTNER_HOUR", 500),
            codes_per_app_hour=_count(env, "HUB_CODES_PER_APP_HOUR", 2000),
            codes_per_address=_count(env, "HUB_CODES_PER_ADDRESS", 20),
            trusted_proxies=env.get("HUB_TRUSTED_PROXIES", "").strip(),
        )


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = int(env.get(name, default))
    if value < 0:
        raise ValueError(f"{name} must be 0 or more")
    return value


ENVIRONMENTS = ("development", "production")


def environment(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise ValueError(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")
    return value


def _notice_days(value: str) -> timedelta:
    """CR-07: a price increase is published ahead, so the notice is at least a day."""
    days = int(value)
    if days < 1:
        raise ValueError("HUB_PRICE_NOTICE_DAYS must be at least 1")
    return timedelta(days=days)


def local_secret_key(path: Path = Path(LOCAL_SECRET_FILE)) -> str:
    """For a zero-setup local hub: a random key kept in ./.alliance-hub-secret (mode 0600).
    Production sets HUB_SECRET_KEY instead."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
