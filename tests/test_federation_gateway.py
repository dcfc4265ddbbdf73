"""Hive Gateway in front of the hub and the sample partner subgraph (tools/), end to end.

Once per module: the demo alliance is loaded into a fresh database, the hub serves it, the
partner subgraph (tools/partner-subgraph/) starts, both composers compose the supergraph
(tools/compose.mjs), and Hive Gateway serves it with the recommended configuration
(tools/gateway.config.mjs), every process on a free port. Store-independent: it runs in the
SQLite half, when Node is present, and always under CI=true.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from strawberry import relay

from core.config import Settings
from core.db import Database, utcnow
from hub import demo
from members.models import Member
from tests.serving import TOOLS, free_port, require_node_tools, running, serving
from tests.stores import TEST_SECRET_KEY, Templates

GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass
class Stack:
    hub: str
    gateway: str
    credentials: dict[str, Any]
    member_ids: list[str]
    http: httpx2.Client
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, code: str) -> str:
        if code not in self.tokens:
            credential = self.credentials[code]
            reply = self.http.post(
                f"{self.hub}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(credential["client_id"], credential["client_secret"]),
            )
            assert reply.status_code == 200, reply.text
            self.tokens[code] = reply.json()["access_token"]
        return self.tokens[code]

    def post(
        self,
        url: str,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: str | None = None,
        authorization: str | None = None,
    ) -> httpx2.Response:
        headers = {"accept": GRAPHQL_RESPONSE}
        if as_ is not None:
            headers["authorization"] = f"Bearer {self.token(as_)}"
        if authorization is not None:
            headers["authorization"] = authorization
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.http.post(url, json=body, headers=headers)

    def gateway_json(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        reply = self.post(self.gateway, query, variables, **kw)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def hub_json(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        reply = self.post(f"{self.hub}/graphql", query, variables, **kw)
        assert reply.status_code == 200, reply.text
        return reply.json()


async def _load_demo(url: str) -> tuple[dict[str, Any], list[str]]:
    database = Database(url)
    try:
        settings = Settings(database_url=url, secret_key=TEST_SECRET_KEY)
        credentials = await database.write(demo.load, settings, utcnow())
        ids = await database.read(
            lambda session: list(session.scalars(select(Member.id).order_by(Member.id)))
        )
    finally:
        await database.dispose()
    assert credentials is not None
    return credentials, [relay.to_base64("Member", member_id) for member_id in ids]


@pytest.fixture(scope="module")
def stack(templates: Templates) -> Iterator[Stack]:
    node = require_node_tools(
        "@graphql-hive/gateway", "@apollo/subgraph", "graphql-yoga", "@apollo/composition"
    )
    url = templates.new_database()
    credentials, member_ids = asyncio.run(_load_demo(url))
    partner_port, gateway_port = free_port(), free_port()
    partner = f"http://127.0.0.1:{partner_port}/graphql"
    gateway = f"http://127.0.0.1:{gateway_port}"
    with (
        tempfile.TemporaryDirectory(prefix="alliance-gateway-") as workdir,
        serving(url) as hub,
        running(
            [node, str(TOOLS / "partner-subgraph" / "server.mjs"), str(partner_port)],
            f"http://127.0.0.1:{partner_port}/graphql?query=%7B__typename%7D",
        ),
    ):
        supergraph = Path(workdir) / "supergraph.graphql"
        composed = subprocess.run(
            [
                *(node, str(TOOLS / "compose.mjs"), f"{hub}/graphql"),
                *("--partner-url", partner, "--out", str(supergraph)),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert composed.returncode == 0, composed.stdout + composed.stderr
        with (
            running(
                [
                    node,
                    str(TOOLS / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"),
                    "supergraph",
                    str(supergraph),
                    "--config-path",
                    str(TOOLS / "gateway.config.mjs"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(gateway_port),
                ],
                f"{gateway}/readiness",
                cwd=Path(workdir),
            ),
            httpx2.Client(timeout=30) as http,
        ):
            yield Stack(hub, f"{gateway}/graphql", credentials, member_ids, http)
        templates.drop(url)


CATALOG = """query Catalogue($first: Int!, $codes: [String!]) {
  catalog(first: $first, filter: { partnerCodes: $codes }) {
    pageInfo { hasNextPage }
    edges { node { id sku title points partner { code name } %s } }
  }
}"""


def test_the_unified_catalogue_carries_the_partners_stock(stack: Stack) -> None:
    variables = {"first": 6, "codes": ["starcinema", "swiftride"]}

    through = stack.gateway_json(CATALOG % "stock", variables)
    direct = stack.hub_json(CATALOG % "", variables)

    nodes = [edge["node"] for edge in through["data"]["catalog"]["edges"]]
    assert [(node["sku"], node["points"], node["stock"]) for node in nodes] == [
        ("starcinema-05-0", 90, 500),
        ("starcinema-05-2", 180, None),
        ("starcinema-03-0", 250, 300),
        ("starcinema-04-0", 250, 0),
        ("starcinema-05-1", 270, None),
        ("swiftride-02-0", 300, None),
    ]
    assert [{k: v for k, v in n.items() if k != "stock"} for n in nodes] == [
        edge["node"] for edge in direct["data"]["catalog"]["edges"]
    ]
    assert through["data"]["catalog"]["pageInfo"] == {"hasNextPage": True}
    assert "errors" not in through


def test_node_resolves_an_item_its_partner_and_the_partners_stores(stack: Stack) -> None:
    item = relay.to_base64(
        "CatalogItem", stack.credentials["starcinema"]["items"]["starcinema-00-0"]
    )
    query = """query($id: ID!) { node(id: $id) { __typename ... on CatalogItem {
        sku stock partner { code stores(first: 2) {
          pageInfo { hasNextPage endCursor } edges { node { code city } } } } } } }"""

    reply = stack.gateway_json(query, {"id": item})

    assert reply == {
        "data": {
            "node": {
                "__typename": "CatalogItem",
                "sku": "starcinema-00-0",
                "stock": 120,
                "partner": {
                    "code": "starcinema",
                    "stores": {
                        "pageInfo": {"hasNextPage": True, "endCursor": "1"},
                        "edges": [
                            {"node": {"code": "sc-bj-01", "city": "Beijing"}},
                            {"node": {"code": "sc-sh-01", "city": "Shanghai"}},
                        ],
                    },
                },
            }
        }
    }


def test_the_partners_references_by_sku_resolve_at_the_hub(stack: Stack) -> None:
    query = """{ store(code: "sc-bj-01") { name featured {
        partnerCode sku title points stock partner { name } } } }"""

    reply = stack.gateway_json(query)

    assert reply == {
        "data": {
            "store": {
                "name": "Star Cinema Sanlitun",
                "featured": [
                    {
                        "partnerCode": "starcinema",
                        "sku": "starcinema-00-0",
                        "title": "2D movie ticket",
                        "points": 350,
                        "stock": 120,
                        "partner": {"name": "Star Cinema"},
                    },
                    {
                        "partnerCode": "starcinema",
                        "sku": "starcinema-03-0",
                        "title": "Popcorn combo",
                        "points": 250,
                        "stock": 300,
                        "partner": {"name": "Star Cinema"},
                    },
                ],
            }
        }
    }


MEMBER = "query($id: ID!) { member(id: $id) { id status balance storeVisits } }"
TIER = "query($id: ID!) { member(id: $id) { tier { code earnMultiplier } } }"
VISIT = """mutation($member: ID!, $store: String!) {
  recordStoreVisit(memberId: $member, storeCode: $store) {
    storeVisits userErrors { code message field rule } } }"""


def test_a_partner_reads_a_consenting_member_with_its_visits(stack: Stack) -> None:
    member = stack.member_ids[1]
    recorded = stack.gateway_json(VISIT, {"member": member, "store": "sc-sh-01"})
    direct = stack.hub_json(
        "query($id: ID!) { member(id: $id) { balance } }", {"id": member}, as_="starcinema"
    )

    reply = stack.gateway_json(MEMBER, {"id": member}, as_="starcinema")

    assert recorded == {"data": {"recordStoreVisit": {"storeVisits": 1, "userErrors": []}}}
    assert reply == {
        "data": {
            "member": {
                "id": member,
                "status": "ACTIVE",
                "balance": direct["data"]["member"]["balance"],
                "storeVisits": 1,
            }
        }
    }


AWARD = """mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) {
    points transfer { code amount } member { id storeVisits }
    userErrors { code message field rule } } }"""


def _award(stack: Stack, key: str, paid_fen: int) -> dict[str, Any]:
    member = stack.member_ids[2]
    return {
        "input": {
            "idempotencyKey": key,
            "memberId": member,
            "orderRef": f"gateway-{key}",
            "paidAmountFen": paid_fen,
            "lines": [{"sku": "starcinema-00-0", "category": "film", "amountFen": paid_fen}],
        }
    }


def test_award_points_through_the_gateway_and_a_reused_key_is_a_user_error(
    stack: Stack,
) -> None:
    member = stack.member_ids[2]
    before = stack.hub_json(MEMBER.replace(" storeVisits", ""), {"id": member}, as_="starcinema")
    # 120 yuan of film at 1 point a yuan, times the demo member's published tier multiplier
    tier = stack.hub_json(TIER, {"id": member}, as_="starcinema")["data"]["member"]["tier"]
    points = int(120 * Decimal(tier["earnMultiplier"]))

    awarded = stack.gateway_json(AWARD, _award(stack, "gw-1", 12_000), as_="starcinema")
    replayed = stack.gateway_json(AWARD, _award(stack, "gw-1", 12_000), as_="starcinema")
    reused = stack.gateway_json(AWARD, _award(stack, "gw-1", 13_000), as_="starcinema")
    after = stack.hub_json(MEMBER.replace(" storeVisits", ""), {"id": member}, as_="starcinema")

    assert awarded == {
        "data": {
            "awardPoints": {
                "points": points,
                "transfer": {"code": "earn", "amount": points},
                "member": {"id": member, "storeVisits": 0},
                "userErrors": [],
            }
        }
    }
    assert replayed == awarded
    assert reused == {
        "data": {
            "awardPoints": {
                "points": None,
                "transfer": None,
                "member": None,
                "userErrors": [
                    {
                        "code": "IDEMPOTENCY_KEY_REUSED",
                        "message": reused["data"]["awardPoints"]["userErrors"][0]["message"],
                        "field": ["idempotencyKey"],
                        "rule": None,
                    }
                ],
            }
        }
    }
    assert after["data"]["member"]["balance"] == before["data"]["member"]["balance"] + points


def test_a_partner_subgraph_user_error_comes_through(stack: Stack) -> None:
    reply = stack.gateway_json(VISIT, {"member": stack.member_ids[0], "store": "nowhere"})

    assert reply == {
        "data": {
            "recordStoreVisit": {
                "storeVisits": None,
                "userErrors": [
                    {
                        "code": "NOT_FOUND",
                        "message": "no such store",
                        "field": ["storeCode"],
                        "rule": None,
                    }
                ],
            }
        }
    }


def test_a_member_without_consent_is_refused_as_direct(stack: Stack) -> None:
    member = stack.member_ids[0]
    query = "query($id: ID!) { member(id: $id) { balance } }"

    through = stack.post(stack.gateway, query, {"id": member}, as_="swiftride")
    direct = stack.post(f"{stack.hub}/graphql", query, {"id": member}, as_="swiftride")

    assert direct.json()["data"] == {"member": None}
    assert [e["extensions"]["code"] for e in direct.json()["errors"]] == ["COMPLIANCE_VIOLATION"]
    assert through.json()["data"] == {"member": None}
    [error] = through.json()["errors"]
    [expected] = direct.json()["errors"]
    assert error["message"] == expected["message"]
    assert error["path"] == ["member"]
    assert error["extensions"]["code"] == "COMPLIANCE_VIOLATION"
    assert error["extensions"]["rule"] == expected["extensions"]["rule"] == "CR-10"


def test_an_invalid_token_is_401_with_the_hubs_challenge(stack: Stack) -> None:
    query = "{ catalog(first: 1) { edges { node { sku stock } } } }"

    through = stack.post(stack.gateway, query, authorization="Bearer not-a-jwt")
    direct = stack.post(f"{stack.hub}/graphql", query, authorization="Bearer not-a-jwt")

    assert direct.status_code == 401
    assert through.status_code == 401
    assert through.headers["www-authenticate"] == direct.headers["www-authenticate"]
    assert through.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert direct.json()["errors"][0]["extensions"]["http"] == {"status": 401}
    assert through.json() == {
        "data": None,
        "errors": [
            {
                "message": "invalid token: the token is malformed",
                "path": ["catalog"],
                "extensions": {"code": "UNAUTHENTICATED", "serviceName": "alliance-hub"},
            }
        ],
    }


PARITY = [
    ("{ apiVersion partners(first: 3) { edges { node { code name } } } }", None, None),
    (
        """query($first: Int!, $after: String) {
          cheap: catalog(first: $first, sort: POINTS_ASC) { edges { node { sku points } } }
          dear: catalog(first: $first, sort: POINTS_DESC) { edges { node { sku points } } }
          green: catalog(first: $first, filter: { green: true }) { edges { node { sku } } }
          more: catalog(first: $first, after: $after) { pageInfo { hasNextPage } }
          p1: partner(code: "redrice") { name c: catalog(first: $first) { edges { node { sku } } } }
          p2: partner(code: "inkbooks") { name }
        }""",
        {"first": 4, "after": None},
        None,
    ),
    (
        "query($id: ID!) { member(id: $id) { balance heldPoints history(first: 3) "
        "{ edges { node { amount } } } } }",
        "member",
        "redrice",
    ),
    ("{ viewer { kind partnerCode scopes } }", None, "leafteahouse"),
    (
        # Root arguments reach the hub as variables: cost counts their values.
        """query($first: Int!) { partners(first: $first) { edges { node {
          code catalog(first: 20) { edges { node { sku points } } } } } } }""",
        {"first": 3},
        None,
    ),
    (
        # 14 aliases a client wrote; the gateway adds its own when it merges fetches.
        "{ "
        + " ".join(
            f'a{n}: partner(code: "{code}") {{ name }}'
            for n, code in enumerate(
                [
                    "redrice",
                    "starcinema",
                    "leafteahouse",
                    "swiftride",
                    "inkbooks",
                    "clearsight",
                    "greenfuture",
                ]
                * 2
            )
        )
        + " }",
        None,
        None,
    ),
]


@pytest.mark.parametrize(("query", "variables", "caller"), PARITY, ids=range(len(PARITY)))
def test_a_query_that_passes_direct_passes_through_the_gateway_with_the_same_answer(
    stack: Stack, query: str, variables: Any, caller: str | None
) -> None:
    if variables == "member":
        variables = {"id": stack.member_ids[3]}

    direct = stack.hub_json(query, variables, as_=caller)
    through = stack.gateway_json(query, variables, as_=caller)

    assert "errors" not in direct
    assert through == direct


def test_a_partner_subgraph_error_keeps_its_code_but_not_its_message(stack: Stack) -> None:
    query = '{ partner(code: "starcinema") { name stores(first: 101) { edges { cursor } } } }'

    reply = stack.post(stack.gateway, query)

    assert reply.status_code == 200
    assert reply.json() == {
        "data": {"partner": None},
        "errors": [
            {
                "message": "partner: Unexpected error.",
                "path": ["partner", "stores"],
                "extensions": {"code": "BAD_USER_INPUT", "serviceName": "partner"},
            }
        ],
    }
