"""Request limits: a cost rule that multiplies paginated fields by their page size.

Depth, alias and token limits come from strawberry's extensions (see schema.root).
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MAX_COST = 5_000


def _page_size(field: FieldNode, paginated: bool) -> int:
    if not paginated:
        return 1
    for argument in field.arguments or ():
        if argument.name.value in ("first", "last"):
            if isinstance(argument.value, IntValueNode):
                return max(1, min(int(argument.value.value), MAX_PAGE_SIZE))
            if isinstance(argument.value, VariableNode):
                return MAX_PAGE_SIZE  # unknown until execution: assume the largest page
    return DEFAULT_PAGE_SIZE


class CostLimit(ValidationRule):
    """Each field costs 1 times the product of the page sizes above it; a field taking
    ``first`` multiplies its subtree by ``first`` (a variable counts as the maximum, 100)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        document = context.document
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        schema = context.schema
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            root = schema.get_root_type(definition.operation)
            if root is None:
                continue
            cost = self._cost(definition.selection_set, root, 1, frozenset())
            if cost > MAX_COST:
                context.report_error(
                    GraphQLError(
                        f"the query costs {cost}, more than the limit of {MAX_COST}; "
                        "ask for smaller pages or fewer nested lists",
                        definition,
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": MAX_COST},
                    )
                )

    def _cost(
        self,
        selections: SelectionSetNode,
        parent: GraphQLNamedType,
        multiplier: int,
        seen: frozenset[str],
    ) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += multiplier
                field = (
                    parent.fields.get(selection.name.value)
                    if isinstance(parent, GraphQLObjectType) or hasattr(parent, "fields")
                    else None
                )
                if selection.selection_set is None or field is None:
                    continue
                paginated = "first" in field.args or "last" in field.args
                child = get_named_type(field.type)
                total += self._cost(
                    selection.selection_set,
                    child,
                    multiplier * _page_size(selection, paginated),
                    seen,
                )
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.context.schema.get_type(condition.name.value) if condition else parent
                total += self._cost(selection.selection_set, target or parent, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.context.schema.get_type(fragment.type_condition.name.value)
                total += self._cost(
                    fragment.selection_set, target or parent, multiplier, seen | {name}
                )
        return total
