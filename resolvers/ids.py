"""Database ids inside Relay global ids: positive, within 64 bits, of the expected type."""

from __future__ import annotations

from strawberry.relay import GlobalID

MAX_DATABASE_ID = 2**63 - 1


def database_id(node_id: str) -> int | None:
    """The id a global id carries, or None unless it is a positive 64-bit integer in
    ASCII digits (anything else reads as not found, never as an overflow)."""
    if not node_id.isascii() or not node_id.isdigit() or len(node_id) > 19:
        return None
    value = int(node_id)
    return value if 0 < value <= MAX_DATABASE_ID else None


def decode_id(global_id: object, type_name: str) -> int | None:
    """The database id inside a global id of ``type_name``; None for anything else."""
    if not isinstance(global_id, str):
        return None
    try:
        decoded = GlobalID.from_id(global_id)
    except ValueError:
        return None
    if decoded.type_name != type_name:
        return None
    return database_id(decoded.node_id)
