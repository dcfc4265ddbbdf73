"""Settlement tests drive the hub over HTTP like the other GraphQL tests."""

from tests.hub.conftest import hub, signing_key

__all__ = ["hub", "signing_key"]
