"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.orm import Session

from core.db import insert_if_absent
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
    return f"evt_{uuid.uuid4().hex}"


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


def emit_many(
    session: Session,
    type: EventType,
    *,
    now: datetime,
    events: Sequence[tuple[int | None, Payload, Iterable[int]]],
) -> list[str]:
    """Write many events of one type at once (one statement): each is ``(member id,
    payload, audience)``, as ``emit`` without a once key. For set-based jobs."""
    rows: list[dict[str, object]] = []
    ids: list[str] = []
    operator_only = type in OPERATOR_ONLY
    name = type.value
    for member_id, payload, audience in events:
        _check(payload)
        allowed = [] if operator_only else sorted(set(audience))
        ids.append(new_event_id())
        rows.append(
            {
                "event_id": ids[-1],
                "once_key": None,
                "type": name,
                "occurred_at": now,
                "partner_id": None,
                "member_id": member_id,
                "audience": json.dumps(allowed),
                "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
            }
        )
    if rows:
        session.execute(_outbox.insert(), rows)
    return ids


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
