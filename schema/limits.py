"""Request limits, measured in one linear pass before validation.

Each operation is measured once: the field nodes it expands to, its depth, the aliases a
client wrote, its cost, and the entity representations it asks for. Every fragment is
measured once and its figures reused wherever it is spread, so a document whose fragments
each spread the next twice costs as many steps as it has characters, not 2^N. A document
over any limit is refused before graphql-core validates it; one within the limits is then
validated (cached by document) as usual.

Cost: each field costs 1 times the product of the page sizes above it; a field taking
``first``/``last`` multiplies its subtree by that page size, read from the operation's
actual variable values (so a query costs the same inline or with variables, as a router
sends it), and ``_entities`` multiplies its subtree by the number of representations.

Aliases: what a client wrote. A router merging requests (Hive Gateway, through
graphql-tools' batch execution) prefixes root fields as ``_v<N>_<key>`` (``_<N>_<key>`` in
older versions); such an alias whose rest is the field's own name is the router's, not the
client's, and is not counted (see docs/federation.md).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    validate,
)
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions import SchemaExtension

from core.config import get_settings
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MAX_COST = 5_000
MAX_DEPTH = 12
MAX_ALIASES = 15
MAX_TOKENS = 2_000
MAX_FIELD_NODES = 10_000  # after fragment expansion
MAX_REPEATS = 20  # one field (response key) or one fragment in one response level
# graphql-core's field-merging check compares fields pairwise; its work budget (500,000
# by default, about half a second) bounds the quadratic case. The standard introspection
# query spends under 5,000; a document over this budget is refused ("Validation aborted.").
FIELD_MERGING_BUDGET = 20_000
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = FIELD_MERGING_BUDGET
ENTITIES = "_entities"
ROUTER_ALIAS = re.compile(r"_v?\d+_(?P<rest>.+)")


@dataclass(frozen=True, slots=True)
class Measure:
    """The figures of a selection set at multiplier 1. ``depth`` is the longest chain of
    nested fields in it (a leaf field is 1); introspection fields do not count for depth."""

    nodes: int = 0
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    representations: int = 0
    repeats: int = 0  # the most times one response level selects one key or fragment

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            self.nodes + other.nodes,
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.cost + other.cost,
            self.representations + other.representations,
            max(self.repeats, other.repeats),
        )


NOTHING = Measure()


class _Measurer:
    """Measures one operation. Fragments are measured once each, in the order their
    spreads need them, with no recursion through spreads; a fragment in a cycle counts
    as nothing (validation refuses the cycle)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = dict(variables)
        self.defaults: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if definition.default_value is not None:
                self.defaults[name] = _literal(definition.default_value)
            if name not in self.variables and name in self.defaults:
                self.variables[name] = self.defaults[name]
        # Every variable the measure read, how it used it and its value when omitted:
        # the measure depends on the variables only through these (see ``measure``).
        self.readings: list[_Reading] = []
        self.roots = {
            root.name
            for root in (schema.query_type, schema.mutation_type, schema.subscription_type)
            if root is not None
        }
        self.measured: dict[str, Measure] = {}

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        root = self.schema.get_root_type(operation.operation)
        self._measure_fragments_used_by(operation.selection_set)
        return self._selections(operation.selection_set, root)

    def _measure_fragments_used_by(self, selections: SelectionSetNode) -> None:
        """Measure every fragment reachable from ``selections``, dependencies first
        (an explicit stack: a chain of thousands of fragments needs no recursion)."""
        state: dict[str, int] = {}  # 1 in progress, 2 done
        stack: list[tuple[str, Iterator[str]]] = []
        for name in _spreads(selections):
            if name in state or name not in self.fragments:
                continue
            state[name] = 1
            stack.append((name, iter(_spreads(self.fragments[name].selection_set))))
            while stack:
                current, pending = stack[-1]
                following = next(pending, None)
                if following is None:
                    stack.pop()
                    state[current] = 2
                    fragment = self.fragments[current]
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    self.measured[current] = self._selections(fragment.selection_set, target)
                elif following not in state and following in self.fragments:
                    state[following] = 1
                    following_set = self.fragments[following].selection_set
                    stack.append((following, iter(_spreads(following_set))))

    def _selections(
        self,
        selections: SelectionSetNode,
        parent: GraphQLNamedType | None,
        level: Counter[str] | None = None,
    ) -> Measure:
        """``level`` counts the response keys and fragment spreads of one response level,
        which inline fragments share with their parent."""
        keys: Counter[str] = Counter() if level is None else level
        total = NOTHING
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                keys[(selection.alias or selection.name).value] += 1
                total = total + self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total = total + self._selections(selection.selection_set, target, keys)
            elif isinstance(selection, FragmentSpreadNode):
                keys["..." + selection.name.value] += 1
                total = total + self.measured.get(selection.name.value, NOTHING)
        if level is None and keys:
            total = total + Measure(repeats=max(keys.values()))
        return total

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if fields is not None else None
        aliased = node.alias is not None and not self._routers(node, parent)
        child_type = get_named_type(definition.type) if definition is not None else None
        below = (
            NOTHING
            if node.selection_set is None
            else self._selections(node.selection_set, child_type)
        )
        representations = 0
        if definition is None:
            multiplier = 1  # introspection, or unknown (validation refuses it)
        elif name == ENTITIES and parent is not None and parent.name in self.roots:
            representations = self._representations(node)
            multiplier = representations
        elif "first" in definition.args or "last" in definition.args:
            multiplier = self._page_size(node)
        else:
            multiplier = 1
        return Measure(
            nodes=1 + below.nodes,
            depth=0 if name.startswith("__") else 1 + below.depth,
            aliases=int(aliased) + below.aliases,
            cost=1 + multiplier * below.cost,
            representations=representations + multiplier * below.representations,
            repeats=below.repeats,
        )

    def _routers(self, node: FieldNode, parent: GraphQLNamedType | None) -> bool:
        """A router's prefix on a root field: ``_v0_partners: partners``."""
        if node.alias is None or parent is None or parent.name not in self.roots:
            return False
        alias = node.alias.value
        while (prefixed := ROUTER_ALIAS.fullmatch(alias)) is not None:
            alias = prefixed.group("rest")  # merged more than once: _v1__v0_partners
            if alias == node.name.value:
                return True
        return False

    def _figure(self, value: ValueNode, use: str) -> int:
        if isinstance(value, VariableNode):
            name = value.name.value
            self.readings.append(_Reading(name, use, self.defaults.get(name)))
            return _FIGURES[use](self.variables.get(name))
        return _FIGURES[use](_literal(value))

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                return self._figure(argument.value, "page")
        return DEFAULT_PAGE_SIZE

    def _representations(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "representations":
                return self._figure(argument.value, "representations")
        return 0


def _page_figure(size: Any) -> int:
    """The page size a ``first``/``last`` value counts for."""
    if size is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(size, int) and not isinstance(size, bool):
        return max(1, min(size, MAX_PAGE_SIZE))
    return MAX_PAGE_SIZE  # not an Int: refused later, counted at the worst


def _representations_figure(value: Any) -> int:
    """The number of entity representations a ``representations`` value counts for."""
    if isinstance(value, list):
        return len(value)
    return 0 if value is None else 1  # a single value coerces to a list of one


_FIGURES = {"page": _page_figure, "representations": _representations_figure}


@dataclass(frozen=True, slots=True)
class _Reading:
    variable: str
    use: str  # a key of _FIGURES
    default: Any  # the value when the request does not give the variable


def _figures(readings: tuple[_Reading, ...], variables: Mapping[str, Any]) -> tuple[int, ...]:
    """The figures the readings take from this request's variables, as the measurer would
    take them."""
    return tuple(_FIGURES[r.use](variables.get(r.variable, r.default)) for r in readings)


K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


class _Same:
    """A document as a cache key by identity: graphql-core's nodes are frozen dataclasses
    whose hash walks the whole tree (about 20 microseconds for a catalogue page's
    document, on every lookup)."""

    __slots__ = ("value",)

    def __init__(self, value: DocumentNode) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


Measured = list[tuple[OperationDefinitionNode, Measure]]


# Per document object (the parser cache hands the same one back for the same text) and
# operation name: the variables its measure reads, and its measures by the figures read from
# them. At most 512 documents are held (as many as the parser cache), each with its 16 most
# recent measures; held strongly, so a document's identity is never reused while cached.
@dataclass(slots=True)
class _Known:
    readings: tuple[_Reading, ...]
    measures: _LRU[tuple[int, ...], Measured]


_DOCUMENTS: _LRU[tuple[GraphQLSchema, _Same, str | None], _Known] = _LRU(512)


def _literal(value: ValueNode) -> Any:
    """The parts of a literal the measure needs: ints, nulls and list lengths."""
    if isinstance(value, IntValueNode):
        try:
            return int(value.value)
        except ValueError:
            return None
    if isinstance(value, NullValueNode):
        return None
    if isinstance(value, ListValueNode):
        return list(value.values)
    return value


def _spreads(selections: SelectionSetNode) -> Iterator[str]:
    """The names of the fragments spread anywhere inside ``selections`` (not inside the
    fragments themselves)."""
    pending = [selections]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif (
                isinstance(selection, (FieldNode, InlineFragmentNode))
                and selection.selection_set is not None
            ):
                pending.append(selection.selection_set)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> Measured:
    """The measure of the operation that will run (of every operation when the name does
    not pick one: the request fails anyway, and no limit is skipped).

    Cached per document: the walk, and so which variables it reads and how, depends only
    on the document and the operation name; the figures it takes from the variables (page
    sizes, numbers of representations) are read from every request's own values and are
    part of the key, so a cached measure is always the one this request's values give."""
    values = variables if isinstance(variables, Mapping) else {}
    document_key = (schema, _Same(document), operation_name)
    known = _DOCUMENTS.get(document_key)
    if known is not None:
        found = known.measures.get(_figures(known.readings, values))
        if found is not None:
            return found
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        operation
        for operation in operations
        if operation_name is None or (operation.name and operation.name.value == operation_name)
    ]
    found, read = [], []
    for operation in chosen if len(chosen) == 1 else operations:
        measurer = _Measurer(schema, fragments, operation, values)
        found.append((operation, measurer.operation(operation)))
        read.extend(measurer.readings)
    if known is None:
        known = _Known(tuple(read), _LRU(16))
        _DOCUMENTS.put(document_key, known)
    known.measures.put(_figures(known.readings, values), found)
    return found


def limit_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> list[GraphQLError]:
    """The first limit each operation breaks, if any."""
    max_representations = get_settings().max_entity_representations
    errors = []
    for operation, found in measure(schema, document, operation_name, variables):
        error = _first_breach(operation, found, max_representations)
        if error is not None:
            errors.append(error)
    return errors


def _first_breach(
    operation: OperationDefinitionNode, found: Measure, max_representations: int
) -> GraphQLError | None:
    depth = found.depth - 1  # the root fields are at depth 0
    if (
        found.nodes <= MAX_FIELD_NODES
        and found.repeats <= MAX_REPEATS
        and depth <= MAX_DEPTH
        and found.aliases <= MAX_ALIASES
        and found.representations <= max_representations
        and found.cost <= MAX_COST
    ):
        return None  # within every limit below: no messages to build
    name = operation.name.value if operation.name else "anonymous"
    checks = [
        # (code, the figure's key, its value, the limit, the message)
        (
            "QUERY_TOO_LARGE",
            "fields",
            found.nodes,
            MAX_FIELD_NODES,
            f"the operation '{name}' expands to {found.nodes} fields, more than the limit of "
            f"{MAX_FIELD_NODES}; spread fewer fragments",
        ),
        (
            "QUERY_TOO_REPETITIVE",
            "repeats",
            found.repeats,
            MAX_REPEATS,
            f"the operation '{name}' selects one field or fragment {found.repeats} times at "
            f"one level, more than the limit of {MAX_REPEATS}",
        ),
        (
            "QUERY_TOO_DEEP",
            "depth",
            depth,
            MAX_DEPTH,
            f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}",
        ),
        (
            "TOO_MANY_ALIASES",
            "aliases",
            found.aliases,
            MAX_ALIASES,
            f"{found.aliases} aliases found, more than the limit of {MAX_ALIASES}",
        ),
        (
            "TOO_MANY_REPRESENTATIONS",
            "representations",
            found.representations,
            max_representations,
            f"{found.representations} entity representations, more than the limit of "
            f"{max_representations} a request",
        ),
        (
            "QUERY_TOO_COSTLY",
            "cost",
            found.cost,
            MAX_COST,
            f"the query costs {found.cost}, more than the limit of {MAX_COST}; "
            "ask for smaller pages or fewer nested lists",
        ),
    ]
    for code, figure, value, limit, message in checks:
        if value > limit:
            return GraphQLError(
                message, operation, extensions={"code": code, figure: value, "limit": limit}
            )
    return None


_VALIDATED: _LRU[tuple[GraphQLSchema, _Same, tuple[Any, ...]], list[GraphQLError]] = _LRU(512)


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[Any, ...]
) -> list[GraphQLError]:
    key = (schema, _Same(document), rules)
    found = _VALIDATED.get(key)
    if found is None:
        found = validate(schema, document, rules)
        _VALIDATED.put(key, found)
    return found


class RequestLimits(SchemaExtension):
    """The limits, then graphql-core's validation (cached by document: the parser cache
    hands the same document object back for the same text). The limits depend on the
    variables, so they are checked on every request, against the measure its own values
    give (the measure is cached per document and per the figures read from the values)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        schema = context.schema._schema
        errors = limit_errors(schema, document, context.operation_name, context.variables)
        if not errors:
            errors = list(_validate(schema, document, tuple(context.validation_rules)))
        context.pre_execution_errors = errors
        yield
