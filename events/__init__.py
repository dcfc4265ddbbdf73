"""The transactional outbox: events written in the same transaction as the change they
describe, for the worker to deliver (docs/events.md). It imports only ``core``."""

from events.outbox import emit, erase_member_references, global_id
from events.types import EventType

__all__ = ["EventType", "emit", "erase_member_references", "global_id"]
