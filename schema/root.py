"""The assembled schema. Later issues add the catalogue, members and mutations."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Mapping
from importlib.metadata import version
from typing import Annotated, Any

import strawberry
import strawberry.federation
from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema
from strawberry import relay
from strawberry.extensions import MaxTokensLimiter, ParserCache
from strawberry.federation.schema import FederationAny
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info
from strawberry.types.cast import cast as strawberry_cast

from resolvers import viewer as viewer_resolver
from resolvers.context import HubContext
from resolvers.entities import entity_type
from resolvers.permissions import authenticated
from schema.bounds import bound_inputs
from schema.catalog import CatalogItem, upsert_catalog_items_field
from schema.catalog import catalog as catalog_resolver
from schema.compliance import (
    aml_cases_field,
    blocked_attempts_field,
    compliance_report_field,
    resolve_aml_case_field,
    set_aml_threshold_field,
)
from schema.consent import (
    close_member_field,
    confirm_member_consent_field,
    confirm_member_registration_field,
    record_member_consent_field,
    request_member_consent_field,
    revoke_member_consent_field,
    set_member_credit_level_field,
)
from schema.green import (
    decide_green_product_field,
    green_products_field,
    register_green_product_field,
)
from schema.introspection import IntrospectionPolicy
from schema.limits import MAX_TOKENS, RequestLimits
from schema.me import (
    approve_consent_request_field,
    close_my_account_field,
    deny_consent_request_field,
    export_my_data_field,
    me_field,
    set_expiry_reminders_field,
    set_privacy_preferences_field,
    withdraw_consent_field,
)
from schema.members import (
    Member,
    award_points_field,
    member_field,
    redeem_points_field,
    register_member_field,
)
from schema.operator import (
    create_partner_field,
    set_basket_bonus_field,
    set_compensation_policy_field,
    set_earning_rule_field,
    set_marketing_budget_field,
    set_promotion_field,
    set_settlement_terms_field,
    suspend_partner_field,
)
from schema.partners import Partner
from schema.partners import partner as partner_resolver
from schema.partners import partners as partners_resolver
from schema.programme import (
    claim_perk_field,
    credit_schedule_field,
    publish_perk_field,
    set_credit_schedule_field,
    set_tier_schedule_field,
    tier_schedule_field,
)
from schema.redemptions import (
    capture_redemption_field,
    donate_points_field,
    refund_redemption_field,
    reserve_redemption_field,
    reverse_award_field,
    void_redemption_field,
)
from schema.scalars import BIG_INT, BigInt
from schema.settlement import (
    close_settlement_period_field,
    open_settlement_period_field,
    post_settlement_report_field,
    reconcile_settlement_period_field,
    resolve_reconciliation_line_field,
    resolve_reconciliation_lines_field,
    settlement_period_field,
    settlement_periods_field,
)
from schema.vocabulary import (
    compliance_honest_phrases_field,
    compliance_vocabulary_field,
    set_honest_phrase_field,
    set_vocabulary_term_field,
    withdraw_catalog_item_field,
)
from schema.webhooks import (
    create_webhook_endpoint_field,
    disable_webhook_endpoint_field,
    replay_webhook_delivery_field,
    rotate_webhook_secret_field,
    webhook_deliveries_field,
    webhook_endpoints_field,
)

SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


@strawberry.type(description="The authenticated client making this request.")
class Viewer:
    kind: str = strawberry.field(description="partner, operator, or member (the alliance's app).")
    client_id: str | None = strawberry.field(description="The OAuth client id.")
    partner_code: str | None = strawberry.field(
        description="The client's partner; null for the operator."
    )
    scopes: list[str] = strawberry.field(description="Scopes granted to this request's token.")


@strawberry.type(description="The alliance hub's GraphQL API.")
class Query:
    @strawberry.field(
        description="Any object by its global id; null when it does not exist or is not yours."
    )
    async def node(
        self,
        info: Info[HubContext, Any],
        id: Annotated[relay.GlobalID, strawberry.argument(description="The ID of the object.")],
    ) -> relay.Node | None:
        """As strawberry's ``relay.node()``, except that an id naming no Node type of this
        schema (``Foo:1``, ``Transfer:1``, ``PageInfo:1``) reads as not found, like any
        other id that names nothing, instead of failing as an internal error."""
        try:
            node_type = id.resolve_type(info)
        except GlobalIDValueError:
            return None
        found = node_type.resolve_node(id.node_id, info=info, required=False)
        if inspect.isawaitable(found):
            found = await found
        return None if found is None else strawberry_cast(node_type, found)

    partners: relay.Connection[Partner] = strawberry.field(
        resolver=partners_resolver,
        description="Partners by code: the active ones, and for the operator suspended ones too.",
    )
    partner: Partner | None = strawberry.field(
        resolver=partner_resolver, description="One partner by its code."
    )
    member: Member | None = member_field
    me = me_field
    tier_schedule = tier_schedule_field
    credit_schedule = credit_schedule_field
    blocked_attempts = blocked_attempts_field
    aml_cases = aml_cases_field
    compliance_report = compliance_report_field
    compliance_vocabulary = compliance_vocabulary_field
    compliance_honest_phrases = compliance_honest_phrases_field
    green_products = green_products_field
    settlement_periods = settlement_periods_field
    settlement_period = settlement_period_field
    webhook_endpoints = webhook_endpoints_field
    webhook_deliveries = webhook_deliveries_field
    catalog: relay.Connection[CatalogItem] = strawberry.field(
        resolver=catalog_resolver,
        description="The unified catalogue: available items of every active partner.",
    )

    @strawberry.field(description="The version of alliance-hub serving this request.")
    def api_version(self) -> str:
        return version("alliance-hub")

    @strawberry.field(
        description="The calling client, from its access token.", extensions=authenticated()
    )
    def viewer(self, info: Info[HubContext, None]) -> Viewer:
        data = viewer_resolver.viewer(info.context.principal)
        return Viewer(
            kind=data.kind,
            client_id=data.client_id,
            partner_code=data.partner_code,
            scopes=data.scopes,
        )


ENTITIES: dict[str, Any] = {"Partner": Partner, "CatalogItem": CatalogItem, "Member": Member}


async def _entity(info: Info[HubContext, None], representation: object) -> object:
    type_name = entity_type(representation)
    assert isinstance(representation, Mapping)
    key = {name: value for name, value in representation.items() if name != "__typename"}
    return await ENTITIES[type_name].resolve_reference(info, key)


class HubSchema(strawberry.federation.Schema):
    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Each representation resolves through its type's loaders (batched across the
        request) to its object, or to an error that says why: an unknown ``__typename``, a
        key of another type or out of range, an object the caller may not see. The count
        and the cost were checked before execution (schema.limits)."""
        return [_entity(info, representation) for representation in representations]  # type: ignore[misc]

    @staticmethod
    def remove_field_suggestion(error: GraphQLError) -> None:
        """No suggestions for any name (fields, arguments, enum values, input fields,
        types): they would map the schema for someone who may not see it."""
        error.message = SUGGESTION.sub("", error.message)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Not here: the HTTP view logs each unexpected error once, under the error id it
        returns to the client, and expected errors are not server faults."""


@strawberry.type(description="Changes; each returns a payload with userErrors.")
class Mutation:
    upsert_catalog_items = upsert_catalog_items_field
    create_webhook_endpoint = create_webhook_endpoint_field
    rotate_webhook_secret = rotate_webhook_secret_field
    disable_webhook_endpoint = disable_webhook_endpoint_field
    replay_webhook_delivery = replay_webhook_delivery_field
    register_member = register_member_field
    confirm_member_registration = confirm_member_registration_field
    request_member_consent = request_member_consent_field
    record_member_consent = record_member_consent_field
    confirm_member_consent = confirm_member_consent_field
    revoke_member_consent = revoke_member_consent_field
    approve_consent_request = approve_consent_request_field
    deny_consent_request = deny_consent_request_field
    withdraw_consent = withdraw_consent_field
    set_privacy_preferences = set_privacy_preferences_field
    set_expiry_reminders = set_expiry_reminders_field
    export_my_data = export_my_data_field
    close_my_account = close_my_account_field
    award_points = award_points_field
    redeem_points = redeem_points_field
    reserve_redemption = reserve_redemption_field
    capture_redemption = capture_redemption_field
    void_redemption = void_redemption_field
    refund_redemption = refund_redemption_field
    reverse_award = reverse_award_field
    donate_points = donate_points_field
    set_earning_rule = set_earning_rule_field
    set_tier_schedule = set_tier_schedule_field
    set_basket_bonus = set_basket_bonus_field
    publish_perk = publish_perk_field
    claim_perk = claim_perk_field
    set_credit_schedule = set_credit_schedule_field
    set_promotion = set_promotion_field
    create_partner = create_partner_field
    set_compensation_policy = set_compensation_policy_field
    suspend_partner = suspend_partner_field
    set_settlement_terms = set_settlement_terms_field
    set_marketing_budget = set_marketing_budget_field
    set_aml_threshold = set_aml_threshold_field
    set_vocabulary_term = set_vocabulary_term_field
    set_honest_phrase = set_honest_phrase_field
    register_green_product = register_green_product_field
    decide_green_product = decide_green_product_field
    withdraw_catalog_item = withdraw_catalog_item_field
    resolve_aml_case = resolve_aml_case_field
    close_member = close_member_field
    open_settlement_period = open_settlement_period_field
    reconcile_settlement_period = reconcile_settlement_period_field
    post_settlement_report = post_settlement_report_field
    resolve_reconciliation_line = resolve_reconciliation_line_field
    resolve_reconciliation_lines = resolve_reconciliation_lines_field
    close_settlement_period = close_settlement_period_field
    set_member_credit_level = set_member_credit_level_field


def request_limits() -> list[Any]:
    """Caches and limits as extension factories (a fresh instance per request): the token
    limit bounds parsing, then schema.limits measures the operation (depth, aliases, cost,
    size, entity representations) and validates it."""
    return [
        lambda: ParserCache(maxsize=512),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        RequestLimits,
        # After the limits and the cached validation, whose result it extends per caller.
        IntrospectionPolicy,
    ]


@functools.cache
def build_schema() -> HubSchema:
    """The hub's Apollo Federation v2 subgraph, with every request limit switched on.

    Built once per process: it is immutable, and strawberry's relay ``node`` field binds
    its resolver when the first schema is built."""
    schema = HubSchema(
        query=Query,
        mutation=Mutation,
        types=[Partner, CatalogItem, Member],
        federation_version="2.9",
        config=StrawberryConfig(disable_field_suggestions=True, scalar_map={BigInt: BIG_INT}),
        extensions=request_limits(),
    )
    bound_inputs(schema._schema)
    unchecked_types(schema._schema, ("CatalogItem", "Partner"))
    return schema


def unchecked_types(schema: GraphQLSchema, names: tuple[str, ...]) -> None:
    """No ``is_type_of`` on these object types. strawberry gives one to every type with an
    interface (here Node), and graphql-core then calls it on each object it completes, with
    an awaitable check of the answer: 200 calls for a page of 100 items with partners, which
    a type without interfaces never pays. It only checks (these types' objects are always
    built as instances of their classes; an abstract field resolves them by their class or
    their strawberry cast, never through it)."""
    for name in names:
        found = schema.type_map[name]
        assert isinstance(found, GraphQLObjectType)
        found.is_type_of = None
