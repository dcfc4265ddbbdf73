"""Input bounds, in one place: every string a caller sends, as an argument or inside an
input object, at any depth, is checked before any resolver sees it.

- At most ``MAX_LENGTH[name]`` characters (by argument or input field name), else
  ``DEFAULT_MAX_LENGTH``; the limits match the columns that store the values, so a value
  is refused alike on SQLite (which would store any length) and PostgreSQL.
- No NUL (PostgreSQL text cannot hold it) and no unpaired surrogate (it is not Unicode
  text, and no driver can encode it).

A refusal is ``BAD_USER_INPUT`` with the ``field`` path: in a mutation's payload
``userErrors`` (the path inside ``input``, as every payload error), on any other field a
GraphQL error. Bounds are checked before scopes: a malformed request is malformed whoever
sends it, and the answer tells nothing about the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    default_field_resolver,
)
from strawberry.types.base import StrawberryList, StrawberryOptional

from schema.errors import ErrorCode, UserError

DEFAULT_MAX_LENGTH = 256
MAX_LENGTH: dict[str, int] = {
    "idempotencyKey": 255,
    "orderRef": 128,
    "externalRef": 128,
    "evidenceRef": 128,
    "reference": 128,
    "phone": 32,
    "displayName": 100,
    "sku": 64,
    "title": 200,
    "category": 64,
    "categories": 64,
    "code": 32,
    "partnerCode": 32,
    "partnerCodes": 32,
    "name": 200,
    "legalEntity": 200,
    "note": 2_000,
    "search": 100,
    "rule": 16,
    "after": 512,
    "url": 2_048,
    "eventTypes": 64,
}
_UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class OutOfBounds:
    field: list[str]
    message: str


def string_problem(name: str, value: str) -> str | None:
    """Why ``value`` may not be the string input ``name``, or None."""
    limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
    if len(value) > limit:
        return f"{name} must be at most {limit} characters"
    if "\x00" in value:
        return f"{name} must not contain a NUL character"
    if _UNPAIRED_SURROGATE.search(value):
        return f"{name} must not contain an unpaired surrogate"
    return None


def _unwrap(kind: GraphQLInputType) -> GraphQLInputType:
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return kind


def _walk(name: str, kind: GraphQLInputType, value: Any, path: list[str]) -> Iterator[OutOfBounds]:
    kind = _unwrap(kind)
    if value is None:
        return
    if isinstance(kind, GraphQLList):
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _walk(name, kind.of_type, item, [*path, str(index)])
        else:  # a single value given for a list (input coercion)
            yield from _walk(name, kind.of_type, value, path)
    elif isinstance(kind, GraphQLInputObjectType):
        if isinstance(value, dict):
            for field_name, field in kind.fields.items():
                key = field.out_name or field_name
                if key in value:
                    yield from _walk(field_name, field.type, value[key], [*path, field_name])
    elif isinstance(kind, GraphQLScalarType) and isinstance(value, str):
        problem = string_problem(name, value)
        if problem is not None:
            yield OutOfBounds(path, problem)


def out_of_bounds(info: GraphQLResolveInfo[Any], arguments: dict[str, Any]) -> OutOfBounds | None:
    """The first string input of this field that breaks a bound."""
    field = info.parent_type.fields.get(info.field_name)
    if field is None:  # __type(name:): introspection, which stores nothing
        return None
    for name, argument in field.args.items():
        key = argument.out_name or name
        if key in arguments:
            for found in _walk(name, argument.type, arguments[key], [name]):
                return found
    return None


def _refused_payload(info: GraphQLResolveInfo[Any], refusal: OutOfBounds) -> Any:
    """The mutation's own payload, empty but for the refusal: the path inside ``input``."""
    payload_type = _unwrap(info.return_type)  # type: ignore[arg-type]
    assert isinstance(payload_type, GraphQLObjectType)
    definition = info.schema._strawberry_schema.get_type_by_name(payload_type.name)  # type: ignore[attr-defined]
    path = refusal.field[1:] if refusal.field[0] == "input" else refusal.field
    values: dict[str, Any] = {}
    for field in definition.fields:
        if field.base_resolver is not None:
            continue
        if field.python_name == "user_errors":
            values[field.python_name] = [
                UserError(
                    code=ErrorCode.BAD_USER_INPUT, message=refusal.message, field=path, rule=None
                )
            ]
        else:
            required_list = isinstance(field.type, StrawberryList) and not isinstance(
                field.type, StrawberryOptional
            )
            values[field.python_name] = [] if required_list else None
    return definition.origin(**values)


def _bounded(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """``resolve`` behind the bounds of its field's arguments."""

    def bounded(root: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        if kwargs:
            refusal = out_of_bounds(info, kwargs)
            if refusal is not None:
                if info.parent_type is info.schema.mutation_type:
                    return _refused_payload(info, refusal)
                raise GraphQLError(
                    refusal.message,
                    extensions={"code": "BAD_USER_INPUT", "field": refusal.field},
                )
        return resolve(root, info, **kwargs)

    return bounded


def bound_inputs(schema: GraphQLSchema) -> None:
    """Put every field that takes arguments behind the bounds, once, when the schema is
    built. Only those fields: a schema extension's ``resolve`` hook would wrap each of the
    ~800 fields of a catalogue page, none of which takes an argument, for ~10% of the
    request (docs/performance.md)."""
    for kind in schema.type_map.values():
        if isinstance(kind, GraphQLObjectType) and not kind.name.startswith("__"):
            for field in kind.fields.values():
                if field.args:
                    field.resolve = _bounded(field.resolve or default_field_resolver)
