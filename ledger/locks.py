"""The one global order in which a transaction locks ledger accounts (docs/ledger.md).

Two transactions that lock the same rows in different orders can deadlock; two that
lock them in one agreed order cannot. Every account a posting touches is locked by
:func:`repository.apply_balances` or :func:`repository.lock_accounts`, each in one
statement that takes its rows in this order, and this module refuses a lock that would
go back down it: a transaction that holds an account never asks for one ranked below it
(asking again for one it holds is free).

The order: a member's accounts first (``member:…``), then partners' and charities'
(``charity:…``, ``partner:…``), then the alliance's own (``alliance:…``); by address
(bytewise) within each rank. Hold rows are locked before any account (capture, void and
refund transition the hold first; the hold sweep locks all its holds first).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

_HELD = "ledger.locked_accounts"
_ALL = "ledger.all_accounts_locked"


class LockOrderViolation(RuntimeError):
    """A code path asked for an account ranked below one it already holds: a bug that
    could deadlock under load. Never a user error; the API masks it as internal."""

    def __init__(self, wanted: str, held: str) -> None:
        super().__init__(f"lock order: {wanted} requested while holding {held}")


def rank(address: str) -> tuple[int, bytes]:
    """An account's place in the global lock order."""
    kind = address.partition(":")[0]
    tier = 0 if kind == "member" else 2 if kind == "alliance" else 1
    return tier, address.encode()


def in_lock_order(addresses: Iterable[str]) -> list[str]:
    """The distinct addresses, in the order they must be locked."""
    return sorted(set(addresses), key=rank)


def note_locks(session: Session, ordered: list[str]) -> None:
    """Record that this transaction is about to lock ``ordered``; refuse a step back down."""
    if session.info.get(_ALL):
        return
    held: dict[str, tuple[int, bytes]] = session.info.setdefault(_HELD, {})
    fresh = [address for address in ordered if address not in held]
    if fresh and held:
        highest = max(held, key=held.__getitem__)
        if rank(fresh[0]) < held[highest]:
            raise LockOrderViolation(fresh[0], highest)
    for address in fresh:
        held[address] = rank(address)


def note_all_locked(session: Session) -> None:
    """This transaction holds the whole accounts table: any row order is safe."""
    session.info[_ALL] = True


def held_locks(session: Session) -> list[str]:
    """The accounts this transaction has locked, in the order it took them."""
    return list(session.info.get(_HELD, {}))
