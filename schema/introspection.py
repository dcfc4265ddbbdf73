"""Introspection policy: in production an anonymous caller gets no ``__schema``, ``__type``
or ``_service`` (the federation SDL); a token, or development mode, keeps them. The
published contract is the checked-in ``schema/schema.graphql``.

Checked after validation, per request, because the answer depends on the caller while
validation results are cached per document. ``__typename`` is not introspection of the
schema and stays open.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, FieldNode, GraphQLError, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

SCHEMA_FIELDS = frozenset({"__schema", "__type", "_service"})


class _Finder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: FieldNode | None = None

    def enter_field(self, node: FieldNode, *_: object) -> object:
        if node.name.value in SCHEMA_FIELDS:
            self.found = node
            return Visitor.BREAK
        return None


def schema_field(document: DocumentNode) -> FieldNode | None:
    """The first field of ``document`` that reads the schema, in any operation or fragment."""
    finder = _Finder()
    visit(document, finder)
    return finder.found


class IntrospectionPolicy(SchemaExtension):
    """Refuses schema reads when the request's context says introspection is closed
    (``HubContext.introspection`` is False: production and no token)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if not getattr(context.context, "introspection", True) and document is not None:
            found = schema_field(document)
            if found is not None:
                refusal = GraphQLError(
                    "introspection needs an access token here; the published schema is "
                    "schema/schema.graphql",
                    found,
                    extensions={"code": "UNAUTHENTICATED"},
                )
                context.pre_execution_errors = [*(context.pre_execution_errors or []), refusal]
        yield
