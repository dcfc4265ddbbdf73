"""The public response cache, automatic persisted queries and HTTP caching.

**Persisted queries (Apollo APQ).** A request may name its document by
``extensions.persistedQuery.sha256Hash`` (``version: 1``) instead of sending it. A hash the
worker does not know is answered ``PERSISTED_QUERY_NOT_FOUND``; the client then sends the
document with its hash once, the hub checks the hash and keeps the document (per worker, in
a bounded LRU; another worker answers NOT_FOUND once and learns it the same way). Over GET
this makes a public query a short, CDN-cacheable URL.

**The public response cache.** An anonymous request (no ``Authorization`` at all) whose
operation is a query touching only public catalogue fields (``PUBLIC_FIELDS``) is answered
from a per-worker cache, keyed by the normalised document, the operation name, the
variables, the response media type and the catalogue's version. The version
(``partners.freshness``) is read from the database on every such request, one index lookup,
so a change committed by any worker or job is seen by the next request on every worker; an
entry also never outlives the catalogue's next time boundary (a scheduled price or a
promotion starting or ending), so a promotion that starts at 10:00 is served from 10:00.
An entry is stored only when the version read after executing is still the one read
before. Authenticated requests never read or fill it. Only answers without errors are kept.

**HTTP caching.** A public answer to GET carries a strong ``ETag``,
``Cache-Control: public, max-age=…, stale-while-revalidate=…`` (settings; neither reaches
past the next boundary) and ``Vary: Accept, Authorization``; ``If-None-Match`` with
that tag is answered 304. Every other answer of /graphql is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import datetime
from typing import Any, Generic, TypeVar

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_operation_ast,
    parse,
    print_ast,
    visit,
)

from core.db import Database
from partners.freshness import (
    STATE_SQL,
    VERSION_SQL,
    CatalogueState,
    CatalogueVersion,
    bind_time,
    state_from_row,
    version_of,
)
from schema.limits import MAX_TOKENS

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"

# The fields a cacheable document may select: every answer they give is a function of the
# rows the catalogue version covers (partners, items, promotions, scheduled prices) and of
# the time between two boundaries. Anything else (members, earning rules, introspection,
# federation entities) is executed every time.
# New fields are not public until named here (and covered by the version).
_WHOLE_TYPES = (
    "CatalogItemConnection",
    "CatalogItemEdge",
    "PartnerConnection",
    "PartnerEdge",
    "PageInfo",
    "Node",
    "ServiceTerms",
    "Promotion",
    "ScheduledPrice",
)
PUBLIC_FIELDS: dict[str, frozenset[str] | None] = {
    "Query": frozenset({"catalog", "partners", "partner", "node", "apiVersion"}),
    "Partner": frozenset(
        {"id", "code", "name", "status", "kind", "compensationCapPercent", "catalog"}
    ),
    "CatalogItem": frozenset(
        {
            "id",
            "sku",
            "partnerCode",
            "title",
            "category",
            "kind",
            "green",
            "basePoints",
            "points",
            "priceSource",
            "available",
            "serviceTerms",
            "partner",
            "scheduledPrices",
            "promotion",
        }
    ),
    **dict.fromkeys(_WHOLE_TYPES),
}

K = TypeVar("K")
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """At most ``max_entries`` values and ``max_bytes`` of their sizes, least recently used
    evicted first."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, size: int) -> None:
        if size > self.max_bytes or self.max_entries <= 0:
            return
        self.pop(key)
        self._items[key] = (value, size)
        self.bytes += size
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def pop(self, key: K) -> None:
        found = self._items.pop(key, None)
        if found is not None:
            self.bytes -= found[1]


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PersistedQueries:
    """Apollo's automatic persisted queries, per worker."""

    def __init__(self, max_entries: int = 2000, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.documents: BoundedLRU[str, str] = BoundedLRU(max_entries, max_bytes)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document to run: ``query``, or the one its persisted hash names. Raises
        :class:`PersistedQueryError` for an unknown hash or one that does not match."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query
        if (
            not isinstance(persisted, dict)
            or persisted.get("version") != 1
            or not isinstance(persisted.get("sha256Hash"), str)
        ):
            raise PersistedQueryError(
                "BAD_REQUEST", "persistedQuery needs version 1 and a sha256Hash string"
            )
        wanted = persisted["sha256Hash"].lower()
        if query is None:
            found = self.documents.get(wanted)
            if found is None:
                raise PersistedQueryError(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
            return found
        if hashlib.sha256(query.encode()).hexdigest() != wanted:
            raise PersistedQueryError(
                PERSISTED_QUERY_HASH_MISMATCH, "provided sha does not match query"
            )
        self.documents.put(wanted, query, len(query))
        return query


class _PublicOnly(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.public = True

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value == "__typename":
            return None
        parent = self.type_info.get_parent_type()
        allowed = PUBLIC_FIELDS.get(parent.name, frozenset()) if parent is not None else None
        if parent is None or (allowed is not None and node.name.value not in allowed):
            self.public = False
            return self.BREAK
        return None


def public_document(schema: GraphQLSchema, query: str, operation_name: str | None) -> str | None:
    """The normalised text of ``query`` when its operation is a query that selects only
    public catalogue fields, else None (including any document that does not parse)."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except (GraphQLError, RecursionError):
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    type_info = TypeInfo(schema)
    checker = _PublicOnly(type_info)
    visit(document, TypeInfoVisitor(type_info, checker))
    return print_ast(document) if checker.public else None


class CachedAnswer:
    """A public answer as kept. Its ``ETag`` is computed when a GET first needs it: most
    answers stored (a page with arguments of its own) are never asked for one."""

    __slots__ = ("_etag", "body", "media_type", "valid_until")

    def __init__(self, body: bytes, media_type: str, valid_until: datetime) -> None:
        self.body = body
        self.media_type = media_type
        self.valid_until = valid_until
        self._etag: str | None = None

    @property
    def etag(self) -> str:
        if self._etag is None:
            self._etag = etag_of(self.body)
        return self._etag


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or ``*``."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


class CatalogueFreshness:
    """Reads the catalogue's state (version and next boundary) for each public request:
    the version by its primary key every time; the boundary again only when the version
    moved or the last boundary read has passed (until then, no boundary lies between the
    instant it was read at and now, so it is still the next one)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.last: CatalogueState | None = None

    async def state(self, now: datetime) -> CatalogueState:
        version = version_of(await self.database.peek(VERSION_SQL))
        last = self.last
        if last is not None and last.version == version and now < last.boundary:
            return last
        row = await self.database.peek(STATE_SQL, {"now": bind_time(self.database.dialect, now)})
        self.last = found = state_from_row(row)
        return found


CacheKey = tuple[str, str | None, str, str, CatalogueVersion]


class PublicCache:
    """The per-worker cache of public answers (see the module)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        database: Database,
        *,
        max_bytes: int,
        max_age: int,
        stale_while_revalidate: int,
        max_entries: int = 4096,
    ) -> None:
        self.schema = schema
        self.freshness = CatalogueFreshness(database)
        self.max_age = max_age
        self.stale_while_revalidate = stale_while_revalidate
        self.enabled = max_bytes > 0
        self.answers: BoundedLRU[CacheKey, CachedAnswer] = BoundedLRU(max_entries, max_bytes)
        # Query text -> normalised public document ("" when not public): parsed once.
        self.documents: BoundedLRU[tuple[str, str | None], str] = BoundedLRU(2000, 8 * 1024 * 1024)
        self.persisted = PersistedQueries()

    def normalised(self, query: str, operation_name: str | None) -> str | None:
        key = (query, operation_name)
        found = self.documents.get(key)
        if found is None:
            found = public_document(self.schema, query, operation_name) or ""
            self.documents.put(key, found, len(query) + len(found))
        return found or None

    @staticmethod
    def key(
        document: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        media_type: str,
        version: CatalogueVersion,
    ) -> CacheKey:
        canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
        return (document, operation_name, canonical, media_type, version)

    def lookup(self, key: CacheKey, now: datetime) -> CachedAnswer | None:
        found = self.answers.get(key)
        if found is not None and now >= found.valid_until:
            self.answers.pop(key)
            return None
        return found

    def store(self, key: CacheKey, answer: CachedAnswer) -> None:
        document, operation_name, variables = key[0], key[1] or "", key[2]
        size = len(answer.body) + len(document) + len(operation_name) + len(variables)
        self.answers.put(key, answer, size)

    def cache_control(self, valid_until: datetime, now: datetime) -> str:
        """For a public GET answer: never fresh past the catalogue's next boundary."""
        remaining = int((valid_until - now).total_seconds())
        max_age = max(0, min(self.max_age, remaining))
        stale = max(0, min(self.stale_while_revalidate, remaining - max_age))
        return f"public, max-age={max_age}, stale-while-revalidate={stale}"
