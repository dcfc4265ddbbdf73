"""The OAuth scopes partners and the operator are granted (api-contract.md, "Scopes")."""

from __future__ import annotations

OPERATOR_ADMIN = "operator:admin"

PARTNER_SCOPES = (
    "catalog:read",
    "catalog:write",
    "members:write",
    "members:read",
    "points:issue",
    "points:reverse",
    "points:redeem",
    "settlement:read",
    "settlement:write",
    "webhooks:manage",
)
ALL_SCOPES = (*PARTNER_SCOPES, OPERATOR_ADMIN)
