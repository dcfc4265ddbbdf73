"""Entity representations from a router (``_entities``): every one resolves to its object
or to an error that says why, never to a silent null."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import GraphQLError

ENTITY_TYPES = ("Partner", "CatalogItem", "Member")


def not_found(type_name: str) -> GraphQLError:
    """Unknown, of another type, or not visible to the caller: the same answer, so ids
    cannot be probed."""
    return GraphQLError(
        f"no {type_name} with this key that you may see", extensions={"code": "NOT_FOUND"}
    )


def bad_representation(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


def key_text(key: Mapping[str, object], name: str) -> str | None:
    value = key.get(name)
    return value if isinstance(value, str) else None


def entity_type(representation: object) -> str:
    """The representation's ``__typename`` if it names an entity of this subgraph."""
    if not isinstance(representation, Mapping):
        raise bad_representation("a representation is an object with __typename and a key")
    type_name = representation.get("__typename")
    if type_name not in ENTITY_TYPES:
        raise bad_representation(
            "__typename is not an entity of this subgraph (" + ", ".join(ENTITY_TYPES) + ")"
        )
    return str(type_name)
