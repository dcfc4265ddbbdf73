"""The hub fixture of tests/hub, for event tests that drive GraphQL."""

from tests.hub.conftest import hub

__all__ = ["hub"]
