"""Settings, read once from the environment.

Every value is parsed here, and a bad one raises :class:`ConfigError` whose message is one
line naming the variable, what it holds and what it should hold; the CLI prints it as is.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from core.notify import Notifier, notifier_from

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./alliance.db"
DEFAULT_ISSUER = "http://127.0.0.1:8000"
LOCAL_SECRET_FILE = ".alliance-hub-secret"
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 5
DEFAULT_POOL_TIMEOUT_SECONDS = 10.0
DEFAULT_QUEUE_LIMIT = 2000
DEFAULT_STATEMENT_CACHE_SIZE = 100
# HUB_SECRET_KEY: at least this many characters in production (32 random bytes, base64url,
# are 43); development refuses keys shorter than the development minimum.
PRODUCTION_SECRET_MIN = 32
DEVELOPMENT_SECRET_MIN = 16
LOG_FORMATS = ("text", "json")
DEFAULT_METRICS_NETWORKS = ("127.0.0.0/8", "::1/128")


class ConfigError(ValueError):
    """A setting that cannot be used: one line naming the variable and the fix."""


# Requests worked on at once per worker, how many more may wait, and for how long
# (hub/backpressure.py, docs/operations.md).
DEFAULT_REQUESTS_IN_FLIGHT = 32
DEFAULT_REQUEST_QUEUE_LIMIT = 2000
DEFAULT_REQUEST_QUEUE_TIMEOUT_SECONDS = 30.0


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
    # Per worker: requests worked on at once, and the line of those waiting their turn.
    requests_in_flight: int = DEFAULT_REQUESTS_IN_FLIGHT
    request_queue_limit: int = DEFAULT_REQUEST_QUEUE_LIMIT
    request_queue_timeout: float = DEFAULT_REQUEST_QUEUE_TIMEOUT_SECONDS
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
    # Where the secret key came from: "env" (HUB_SECRET_KEY), "file" (an existing
    # ./.alliance-hub-secret) or "" (neither yet: made by migrate on a database without keys).
    secret_source: str = ""
    issuer_configured: bool = False
    log_format: str = "text"
    # Browser origins allowed to call the hub (exact scheme://host[:port]); none by default.
    cors_origins: tuple[str, ...] = ()
    # GraphiQL on GET /graphql: on in development, off in production unless HUB_GRAPHIQL=on.
    graphiql: bool = True
    # /metrics: callers from these networks, or with this bearer token, may read it.
    metrics_networks: tuple[str, ...] = DEFAULT_METRICS_NETWORKS
    metrics_token: str = ""

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
    # The country calling codes one-time codes are sent to (comma-separated; "*": any).
    sms_country_codes: str = "86"
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
        env_name = environment(env.get("HUB_ENV") or "development")
        production = env_name == "production"
        secret_key, secret_source = env.get("HUB_SECRET_KEY", ""), "env"
        if not secret_key:
            secret_key, secret_source = existing_local_secret(), "file"
            if not secret_key:
                secret_source = ""
        issuer = env.get("HUB_ISSUER", "").strip().rstrip("/")
        return cls(
            database_url=env.get("HUB_DATABASE_URL") or DEFAULT_DATABASE_URL,
            hold_ttl=timedelta(seconds=integer(env, "HUB_HOLD_TTL_SECONDS", 900, minimum=1)),
            price_notice=timedelta(days=integer(env, "HUB_PRICE_NOTICE_DAYS", 7, minimum=1)),
            sqlite_busy_timeout_ms=integer(env, "HUB_SQLITE_BUSY_TIMEOUT_MS", 10_000, minimum=0),
            database_pool_size=integer(
                env,
                # the earlier name, still honoured
                "HUB_DB_POOL_SIZE" if env.get("HUB_DB_POOL_SIZE") else "HUB_DATABASE_POOL_SIZE",
                DEFAULT_POOL_SIZE,
                minimum=1,
            ),
            database_max_overflow=integer(
                env, "HUB_DB_MAX_OVERFLOW", DEFAULT_MAX_OVERFLOW, minimum=0
            ),
            database_pool_timeout=number(
                env, "HUB_DB_POOL_TIMEOUT_SECONDS", DEFAULT_POOL_TIMEOUT_SECONDS
            ),
            database_queue_limit=integer(env, "HUB_DB_QUEUE_LIMIT", DEFAULT_QUEUE_LIMIT, minimum=0),
            database_statement_cache_size=integer(
                env, "HUB_DB_STATEMENT_CACHE_SIZE", DEFAULT_STATEMENT_CACHE_SIZE, minimum=0
            ),
            requests_in_flight=integer(
                env, "HUB_MAX_REQUESTS_IN_FLIGHT", DEFAULT_REQUESTS_IN_FLIGHT, minimum=1
            ),
            request_queue_limit=integer(
                env, "HUB_REQUEST_QUEUE_LIMIT", DEFAULT_REQUEST_QUEUE_LIMIT, minimum=0
            ),
            request_queue_timeout=number(
                env, "HUB_REQUEST_QUEUE_TIMEOUT_SECONDS", DEFAULT_REQUEST_QUEUE_TIMEOUT_SECONDS
            ),
            issuer=issuer or DEFAULT_ISSUER,
            issuer_configured=bool(issuer),
            access_token_lifetime=timedelta(
                seconds=integer(env, "HUB_ACCESS_TOKEN_SECONDS", 900, minimum=1)
            ),
            secret_rotation_grace=timedelta(
                seconds=integer(env, "HUB_SECRET_ROTATION_GRACE_SECONDS", 86400, minimum=0)
            ),
            secret_key=secret_key,
            secret_source=secret_source,
            environment=env_name,
            expiry_notice_days=integer(env, "HUB_EXPIRY_NOTICE_DAYS", 30, minimum=1),
            webhook_lease=timedelta(
                seconds=integer(env, "HUB_WEBHOOK_LEASE_SECONDS", 60, minimum=1)
            ),
            max_entity_representations=integer(
                env, "HUB_MAX_ENTITY_REPRESENTATIONS", 100, minimum=1
            ),
            public_cache_mb=integer(env, "HUB_PUBLIC_CACHE_MB", 64, minimum=0),
            public_cache_max_age=integer(env, "HUB_PUBLIC_CACHE_MAX_AGE_SECONDS", 5, minimum=0),
            public_cache_stale_while_revalidate=integer(
                env, "HUB_PUBLIC_CACHE_STALE_SECONDS", 10, minimum=0
            ),
            catalog_memory_items=integer(env, "HUB_CATALOG_MEMORY_ITEMS", 20_000, minimum=0),
            notify_outbox=env.get("HUB_NOTIFY_OUTBOX", "./notifications.jsonl"),
            sms_webhook_url=env.get("HUB_SMS_WEBHOOK_URL", ""),
            sms_webhook_secret=env.get("HUB_SMS_WEBHOOK_SECRET", ""),
            codes_per_partner_hour=integer(env, "HUB_CODES_PER_PARTNER_HOUR", 500, minimum=0),
            codes_per_app_hour=integer(env, "HUB_CODES_PER_APP_HOUR", 2000, minimum=0),
            codes_per_address=integer(env, "HUB_CODES_PER_ADDRESS", 20, minimum=0),
            sms_country_codes=country_codes(env.get("HUB_SMS_COUNTRY_CODES", "86")),
            trusted_proxies=env.get("HUB_TRUSTED_PROXIES", "").strip(),
            log_format=choice(env, "HUB_LOG_FORMAT", LOG_FORMATS),
            cors_origins=cors_origins(env.get("HUB_CORS_ORIGINS", "")),
            graphiql=switch(env, "HUB_GRAPHIQL", default=not production),
            metrics_networks=networks(env.get("HUB_METRICS_NETWORKS"), production=production),
            metrics_token=env.get("HUB_METRICS_TOKEN", ""),
        )

    def refusals(self) -> list[str]:
        """What stops this configuration from serving, one line each (empty: fine).
        Checked by the CLI before it serves or touches keys; not by the settings
        themselves, so a test may build any combination."""
        found: list[str] = []
        if self.secret_key:
            minimum = PRODUCTION_SECRET_MIN if self.production else DEVELOPMENT_SECRET_MIN
            if len(self.secret_key) < minimum:
                found.append(
                    f"HUB_SECRET_KEY is too weak ({len(self.secret_key)} characters; at least "
                    f"{minimum}{' in production' if self.production else ''}): make one with "
                    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )
        elif self.production:
            found.append(
                "HUB_SECRET_KEY is required in production (HUB_ENV=production): make one with "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if self.production and not self.issuer_configured:
            found.append(
                "HUB_ISSUER is required in production: the public https URL of the hub, "
                "e.g. https://hub.example.com"
            )
        elif self.production and not self.issuer.startswith("https://"):
            found.append(f"HUB_ISSUER must be an https URL in production, not {self.issuer!r}")
        return found


ENVIRONMENTS = ("development", "production")


def environment(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise ConfigError(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")
    return value


def country_codes(value: str) -> str:
    """``HUB_SMS_COUNTRY_CODES``: calling codes (1-3 digits, a leading + allowed), or *."""
    codes = [code.strip().lstrip("+") for code in value.split(",") if code.strip()]
    if not codes or not all(code == "*" or (code.isdigit() and len(code) <= 3) for code in codes):
        raise ConfigError("HUB_SMS_COUNTRY_CODES must list calling codes (1-3 digits) or *")
    return ",".join(codes)


def integer(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw[:40]!r}") from None
    if not 0 < value < 3600:
        raise ConfigError(f"{name} must be more than 0 and less than 3600, not {raw[:40]}")
    return value


def choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or allowed[0]
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw[:40]!r}")
    return raw


def switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, not {raw[:40]!r}")


def cors_origins(raw: str) -> tuple[str, ...]:
    """Exact origins, comma- or space-separated: scheme://host[:port], no path, no '*'."""
    found: list[str] = []
    for origin in raw.replace(",", " ").split():
        parsed = urlsplit(origin)
        if (
            parsed.scheme not in ("http", "https")
            or not parsed.hostname
            or parsed.path
            or parsed.query
            or parsed.fragment
            or "*" in origin
        ):
            raise ConfigError(
                f"HUB_CORS_ORIGINS holds {origin[:80]!r}: give exact origins such as "
                "https://app.example.com (scheme, host and port only)"
            )
        found.append(origin.rstrip("/").lower())
    return tuple(found)


def networks(raw: str | None, *, production: bool = False) -> tuple[str, ...]:
    """HUB_METRICS_NETWORKS: CIDR networks allowed to read /metrics; empty means none. Unset,
    loopback in development and none in production (where a local reverse proxy would make
    every caller look local): there, name the scraper's network or use HUB_METRICS_TOKEN."""
    if raw is None:
        return () if production else DEFAULT_METRICS_NETWORKS
    found: list[str] = []
    for item in raw.replace(",", " ").split():
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"HUB_METRICS_NETWORKS holds {item[:80]!r}, not a network such as 10.0.0.0/8"
            ) from None
    return tuple(found)


def existing_local_secret(path: Path = Path(LOCAL_SECRET_FILE)) -> str:
    """The key in ./.alliance-hub-secret when that file exists; never creates it."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise ConfigError(f"cannot read {path.resolve()}: {error.strerror}") from None


def local_secret_key(path: Path = Path(LOCAL_SECRET_FILE)) -> str:
    """For a zero-setup local hub: a random key kept in ./.alliance-hub-secret (mode 0600),
    made by ``alliance-hub migrate`` only when the database has no keys yet. Production
    sets HUB_SECRET_KEY instead."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise ConfigError(f"cannot create {path.resolve()}: {error.strerror}") from None
    with os.fdopen(descriptor, "w") as out:
        out.write(key)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
