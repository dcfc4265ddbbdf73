"""Imports every package's models so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "ledger.models",
    "partners.models",
    "members.models",
    "compliance.models",
    "settlement.models",
    "hub.oauth2.models",
    "events.models",
    "members.expiry_notices",
    "members.reminders",
    "webhooks.models",
    "hub.secret_check",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
