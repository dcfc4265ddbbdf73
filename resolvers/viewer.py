"""Who the caller is, as the hub sees them."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.context import Principal


@dataclass(frozen=True, slots=True)
class ViewerData:
    kind: str
    client_id: str | None
    partner_code: str | None
    scopes: list[str]


def viewer(principal: Principal) -> ViewerData:
    return ViewerData(
        kind=principal.kind,
        client_id=principal.client_id,
        partner_code=principal.partner_code,
        scopes=sorted(principal.scopes),
    )
