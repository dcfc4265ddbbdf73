"""The credit level enum, shared by consent (the member's level) and the programme (the
published credit schedule), without an import cycle between them."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="A member's credit level: sensitive, shown only under consent.")
class CreditLevel(Enum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
