"""Custom scalars. ``BigInt``: a whole number beyond 32 bits (totals across members, money
totals in fen), served as a string, as the api-contract says for larger output totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, NewType

import strawberry

if TYPE_CHECKING:
    BigInt = int
else:
    BigInt = NewType("BigInt", int)
BIG_INT = strawberry.scalar(
    name="BigInt",
    serialize=str,
    parse_value=int,
    description="A whole number beyond 32 bits (money totals in fen), as a string.",
)
