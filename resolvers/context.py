"""Who is calling, and the per-request GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.db import Database, utcnow
from core.notify import Notifier


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a verified access token, or the anonymous caller."""

    kind: str  # "partner", "operator", "member" or "anonymous"
    client_id: str | None = None
    partner_id: int | None = None
    partner_code: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    # A member signed in to the alliance's app (scope member:self): only their own data.
    member_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"


ANONYMOUS = Principal(kind="anonymous")


@dataclass(slots=True)
class HubContext:
    database: Database
    principal: Principal
    request: Any = None
    response: Any = None
    loaders: Any = None  # resolvers.loaders.Loaders, fresh for every request
    notifier: Notifier | None = None  # messages to members' phones
    # Whether this caller may read the schema (__schema, __type, _service): closed to
    # anonymous callers in production (schema.introspection).
    introspection: bool = True
    # One instant per request: every price in one response is computed at the same time,
    # and loaders can batch keys that carry it.
    started_at: datetime = field(default_factory=utcnow)
    # The worker's in-memory catalogue (resolvers.catalog.CatalogueMemory), if it keeps one,
    # and the catalogue version this request read at its start, if it read it.
    catalogue: Any = None
    catalogue_version: tuple[int, str] | None = None  # number and stamp (partners.freshness)
