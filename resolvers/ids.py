"""Global ids (Relay): ``base64("Type:42")``, decoded in one place.

A database id is a 64-bit signed integer, so a node id is 1 to 19 ASCII digits no larger
than 2^63 - 1; anything else (``10**30``, ``+1``, ``1_0``, other scripts' digits) reads as
not found rather than reaching a driver that cannot bind it.
"""

from __future__ import annotations

import re

from strawberry.relay import GlobalID

MAX_DATABASE_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def database_id(node_id: str) -> int | None:
    """The database id a node id names, or None when it names none."""
    if not _DIGITS.fullmatch(node_id):
        return None
    value = int(node_id)
    return value if value <= MAX_DATABASE_ID else None


def decode_id(global_id: str, type_name: str) -> int | None:
    """The database id inside a global id of ``type_name``; None for anything else."""
    try:
        decoded = GlobalID.from_id(global_id)
    except ValueError:
        return None
    if decoded.type_name != type_name:
        return None
    return database_id(decoded.node_id)
