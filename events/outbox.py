"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, String, Table, bindparam, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter, TextClause

from core.db import UTCDateTime, insert_if_absent
from events.models import OutboxEvent
from events.types import OPERATOR_ONLY, EventType

_outbox = cast(Table, OutboxEvent.__table__)

Scalar = int | str | bool | None
Payload = Mapping[str, Scalar | Sequence[Mapping[str, Scalar]]]

# Names that would carry personal data; a payload holds ids and amounts only.
PERSONAL_KEYS = frozenset({"phone", "name", "display_name", "email", "address", "id_number"})
# What a partner knows the person by (its own customer reference): carried by consent
# events while the account is open, and erased from all the member's events when they
# close it (PIPL Art. 47; ``erase_member_references``).
ERASED_ON_CLOSING = ("externalRef",)


class PersonalDataInEvent(ValueError):
    """A payload named a field that carries personal data (events hold ids and amounts)."""


def global_id(type_name: str, id: int) -> str:
    """The GraphQL (Relay) global id partners know the object by."""
    return base64.b64encode(f"{type_name}:{id}".encode()).decode()


def new_event_id() -> str:
    """``evt_`` and the hex of a version 7 UUID (RFC 9562): the milliseconds since the
    epoch, then 74 random bits. Time-ordered, so the ids of a batch of events land side by
    side in the outbox's unique index instead of all over it (sql_event_id alike)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10
    return f"evt_{value:032x}"


def _check(payload: Payload) -> None:
    for key, value in payload.items():
        if key in PERSONAL_KEYS:
            raise PersonalDataInEvent(key)
        if isinstance(value, list):
            for item in value:
                _check(item)


def emit(
    session: Session,
    type: EventType,
    *,
    now: datetime,
    payload: Payload,
    partner_id: int | None = None,
    member_id: int | None = None,
    audience: Iterable[int] = (),
    once_key: str | None = None,
) -> str | None:
    """Write one event in the caller's transaction; it is delivered only if that commits.

    ``partner_id`` is the partner the event concerns, ``audience`` the partners that may
    receive it (the caller decides, knowing the member's consents at this instant).
    With ``once_key``, a second event with the same key is not written (None is
    returned). Returns the event id, which receivers see as ``webhook-id``."""
    _check(payload)
    allowed = [] if type in OPERATOR_ONLY else sorted(set(audience))
    event_id = new_event_id()
    row = {
        "event_id": event_id,
        "once_key": once_key,
        "type": type.value,
        "occurred_at": now,
        "partner_id": partner_id,
        "member_id": member_id,
        "audience": json.dumps(allowed),
        "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
    }
    if once_key is None:
        session.execute(_outbox.insert(), row)
        return event_id
    return event_id if insert_if_absent(session, _outbox, row, ["once_key"]) else None


# -- events built by the database, for set-based jobs ---------------------------------------
# The fragments below are SQL text for ``INSERT ... SELECT`` statements. What they build is
# byte for byte what ``emit`` writes from Python (tests/hub/test_programme_tiers_sets.py):
# the receivers' signed body keeps the stored payload's key order (webhooks.delivery), so
# the payload is compact JSON with sorted keys, never PostgreSQL's jsonb text (which
# reorders keys and adds spaces). Values are columns of ASCII text or integers.


def bound_text(sql: str, binds: Sequence[BindParameter[Any]]) -> TextClause:
    """``text(sql)`` with the types of those of ``binds`` it names (``:name``)."""
    return text(sql).bindparams(*(b for b in binds if re.search(rf":{b.key}\b", sql)))


def sql_event_id(dialect: str) -> str:
    """A fresh event id per row, as ``new_event_id``: the milliseconds of the statement
    (the bound ``:event_clock``, 12 hex digits), version nibble 7, 74 random bits with
    the variant bits 10."""
    if dialect == "postgresql":
        # A v4 UUID's hex: 12 random digits, version 4, 3 random, the variant, 15 random.
        return (
            "'evt_' || :event_clock || '7' || "
            "substr(replace(CAST(gen_random_uuid() AS TEXT), '-', ''), 14, 19)"
        )
    return (
        "'evt_' || :event_clock || '7' || substr(lower(hex(randomblob(2))), 2, 3) || "
        "substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(8))), 2, 15)"
    )


def sql_global_id(dialect: str, type_name: str, id_sql: str) -> str:
    """``global_id(type_name, id)`` of an integer column."""
    if not type_name.isalnum():
        raise ValueError(type_name)
    value = f"'{type_name}:' || CAST({id_sql} AS TEXT)"
    if dialect == "postgresql":
        return f"replace(encode(convert_to({value}, 'UTF8'), 'base64'), E'\\n', '')"
    return f"hub_base64({value})"


def sql_json_object(dialect: str, fields: Mapping[str, str]) -> str:
    """``json.dumps(fields, sort_keys=True, separators=(",", ":"))`` of SQL expressions
    (ASCII text or integers; NULL is null)."""
    keys = sorted(fields)
    if any(not key.isascii() or not key.isalnum() for key in keys):
        raise ValueError(keys)
    if dialect == "postgresql":
        parts = [
            f"'{json.dumps(key)}:' || COALESCE(CAST(to_json({fields[key]}) AS TEXT), 'null')"
            for key in keys
        ]
        return "'{' || " + " || ',' || ".join(parts) + " || '}'"
    return "json_object(" + ", ".join(f"'{key}', {fields[key]}" for key in keys) + ")"


def sql_json_int_list(dialect: str, column: str, from_where: str) -> str:
    """``json.dumps(sorted(ids))`` (", " between items, as ``emit`` writes an audience) of
    ``SELECT column FROM ...`` given as ``from_where`` (distinct values)."""
    if dialect == "postgresql":
        items = f"(SELECT string_agg(CAST({column} AS TEXT), ', ' ORDER BY {column}) {from_where})"
    else:
        # group_concat takes its rows in the order of the ordered subquery.
        items = (
            f"(SELECT group_concat(item, ', ') FROM "  # noqa: S608
            f"(SELECT {column} AS item {from_where} ORDER BY {column}))"
        )
    return f"'[' || COALESCE({items}, '') || ']'"


def emit_from_select(
    session: Session,
    type: EventType,
    *,
    now: datetime,
    rows: str,
    params: Mapping[str, object],
    types: Sequence[BindParameter[Any]] = (),
    order_by: str = "member_id",
) -> int:
    """Write one event of ``type`` per row of ``rows``, an SQL ``SELECT`` of ``member_id,
    audience, payload`` (built with the fragments above), in the order of its column
    ``order_by``: one ``INSERT ... SELECT``, no row passes through Python. ``audience`` is
    ignored for operator-only types (as in ``emit``). Returns how many events were written.
    ``rows`` is SQL from the caller's constants; every value in it is a bound parameter."""
    dialect = session.get_bind().dialect.name
    audience = "'[]'" if type in OPERATOR_ONLY else "e.audience"
    statement = bound_text(
        "INSERT INTO outbox_events (event_id, once_key, type, occurred_at, partner_id, "  # noqa: S608
        f"member_id, audience, payload) SELECT {sql_event_id(dialect)}, NULL, :event_type, "
        f":event_at, NULL, e.member_id, {audience}, e.payload FROM ({rows}) AS e "
        f"ORDER BY e.{order_by}",
        [
            bindparam("event_type", type_=String()),
            bindparam("event_at", type_=UTCDateTime()),
            bindparam("event_clock", type_=String()),
            *types,
        ],
    )
    clock = f"{time.time_ns() // 1_000_000:012x}"
    values = {**params, "event_type": type.value, "event_at": now, "event_clock": clock}
    return int(cast(CursorResult[Any], session.execute(statement, values)).rowcount)


def erase_member_references(session: Session, member_id: int) -> int:
    """Blank (JSON null) the partners' references to the member in every event about them,
    delivered or not: a delivery still waiting, or replayed later, carries the blank. The
    ids and amounts stay. Returns how many events changed."""
    rows = session.execute(
        select(OutboxEvent.id, OutboxEvent.payload).where(
            OutboxEvent.member_id == member_id,
            or_(*(OutboxEvent.payload.contains(f'"{key}":"') for key in ERASED_ON_CLOSING)),
        )
    ).all()
    for event_id, payload in rows:
        data = json.loads(payload)
        for key in ERASED_ON_CLOSING:
            if key in data:
                data[key] = None
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(payload=json.dumps(data, sort_keys=True, separators=(",", ":")))
        )
    return len(rows)
