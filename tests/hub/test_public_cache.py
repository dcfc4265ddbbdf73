"""The public response cache, automatic persisted queries and HTTP caching, with exact
headers; freshness after every kind of catalogue change (hub.public_cache)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import utcnow
from partners.catalog import ItemInput, upsert_items
from partners.models import Promotion
from partners.registry import add_partner, find_partner, suspend_partner
from tests.hub.conftest import Hub
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

PAGE = "{ catalog(first: 10) { edges { node { sku points basePoints } } } }"
PUBLIC = "public, max-age=5, stale-while-revalidate=10"
ETAG = re.compile(r'^"[0-9a-f]{32}"$')


async def _shop(hub: Hub, code: str = "shop", *items: tuple[str, int]) -> int:
    now = utcnow()
    await hub.database.write(
        add_partner, code=code, name=code.title(), legal_entity=f"{code} Ltd", now=now
    )
    partner = await hub.database.read(find_partner, code)
    wanted = items or (("a", 100), ("b", 200))
    await hub.database.write(
        upsert_items,
        partner.id,
        [ItemInput(sku, f"Item {sku}", "gifts", "GOODS", False, points) for sku, points in wanted],
        now,
    )
    return partner.id


async def _get(hub: Hub, query: str = PAGE, **headers: str) -> httpx2.Response:
    return await hub.http.get("/graphql", params={"query": query}, headers=headers)


async def _post(hub: Hub, body: dict[str, Any], **headers: str) -> httpx2.Response:
    return await hub.http.post("/graphql", json=body, headers=headers)


def _skus(response: httpx2.Response) -> list[tuple[str, int]]:
    edges = response.json()["data"]["catalog"]["edges"]
    return [(edge["node"]["sku"], edge["node"]["points"]) for edge in edges]


async def test_a_public_get_carries_etag_cache_control_and_vary_and_answers_304(
    hub: Hub,
) -> None:
    await _shop(hub)

    first = await _get(hub)

    assert first.status_code == 200
    assert first.headers["cache-control"] == PUBLIC
    assert first.headers["vary"] == "Accept, Authorization"
    assert ETAG.match(first.headers["etag"])
    assert _skus(first) == [("a", 100), ("b", 200)]

    again = await _get(hub, **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == PUBLIC
    assert again.headers["vary"] == "Accept, Authorization"

    listed = await _get(hub, **{"If-None-Match": f'"other", W/{first.headers["etag"]}'})
    assert listed.status_code == 304
    other = await _get(hub, **{"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.content == first.content


async def test_a_repeated_public_query_runs_no_sql_and_answers_the_same_bytes(hub: Hub) -> None:
    await _shop(hub)
    first = await _post(hub, {"query": PAGE})
    await hub.app.state.catalogue.settled()

    with counting_statements(hub.database) as log:
        # The same document, spelled differently, is the same normalised document.
        second = await _post(hub, {"query": PAGE.replace(" ", "  ").replace("{", "{\n")})

    # Only the catalogue's version is read (on SQLite outside the engines, by peek).
    assert [s for s in log.statements if "catalog_version" not in s] == []
    assert second.content == first.content
    # POST answers are not for HTTP caches.
    assert second.headers["cache-control"] == "no-store"
    assert "etag" not in second.headers


async def test_variables_and_media_type_are_part_of_the_key(hub: Hub) -> None:
    await _shop(hub)
    query = "query($n: Int) { catalog(first: $n) { edges { node { sku } } } }"

    one = await _post(hub, {"query": query, "variables": {"n": 1}})
    two = await _post(hub, {"query": query, "variables": {"n": 2}})
    typed = await _post(
        hub,
        {"query": query, "variables": {"n": 1}},
        accept="application/graphql-response+json",
    )

    assert len(one.json()["data"]["catalog"]["edges"]) == 1
    assert len(two.json()["data"]["catalog"]["edges"]) == 2
    assert typed.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert one.headers["content-type"] == "application/json"


async def test_a_price_change_is_seen_by_the_next_request(hub: Hub) -> None:
    partner_id = await _shop(hub)
    before = await _get(hub)

    await hub.database.write(
        upsert_items,
        partner_id,
        [ItemInput("b", "Item b", "gifts", "GOODS", False, 50)],  # a decrease: at once
        utcnow(),
    )
    after = await _get(hub, **{"If-None-Match": before.headers["etag"]})

    assert after.status_code == 200
    assert _skus(after) == [("a", 100), ("b", 50)] or _skus(after) == [("b", 50), ("a", 100)]
    assert after.headers["etag"] != before.headers["etag"]


async def test_a_suspension_is_seen_by_the_next_request(hub: Hub) -> None:
    await _shop(hub)
    assert _skus(await _get(hub)) == [("a", 100), ("b", 200)]

    await hub.database.write(suspend_partner, "shop", utcnow())

    assert _skus(await _get(hub)) == []


async def test_a_promotion_is_served_from_the_instant_it_starts_and_until_it_ends(
    hub: Hub,
) -> None:
    await _shop(hub)
    item_id = int(
        await hub.database.read(
            lambda s: s.execute(text("SELECT id FROM catalog_items WHERE sku = 'b'")).scalar()
        )
    )
    starts = utcnow() + timedelta(seconds=2)

    def promote(session: Session) -> None:
        session.add(
            Promotion(
                item_id=item_id,
                points=10,
                starts_at=starts,
                ends_at=starts + timedelta(seconds=2),
                created_at=utcnow(),
            )
        )

    await hub.database.write(promote)
    early = await _get(hub)
    assert _skus(early) == [("a", 100), ("b", 200)]
    # No HTTP cache may keep the answer past the start either.
    max_age = int(re.findall(r"max-age=(\d+)", early.headers["cache-control"])[0])
    stale = int(re.findall(r"stale-while-revalidate=(\d+)", early.headers["cache-control"])[0])
    assert max_age + stale <= 2

    await _until(starts)
    assert _skus(await _get(hub)) == [("b", 10), ("a", 100)]

    await _until(starts + timedelta(seconds=2))
    assert _skus(await _get(hub)) == [("a", 100), ("b", 200)]


async def _until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - utcnow()).total_seconds()))


async def test_any_write_to_a_versioned_table_bumps_the_version_in_its_transaction(
    hub: Hub,
) -> None:
    """A raw UPDATE, as a job or a console might run, moves the version too."""
    await _shop(hub)

    def version(session: Session) -> int:
        return int(session.execute(text("SELECT version FROM catalog_version")).scalar_one())

    before = await hub.database.read(version)
    await hub.database.write(lambda s: s.execute(text("UPDATE partners SET name = 'Renamed'")))
    renamed = await hub.database.read(version)

    def rolled_back(session: Session) -> None:
        session.execute(text("UPDATE catalog_items SET title = 'x'"))
        raise RuntimeError("abandon")

    with pytest.raises(RuntimeError):
        await hub.database.write(rolled_back)

    assert renamed > before
    assert await hub.database.read(version) == renamed
    assert (await _get(hub, "{ partners { edges { node { name } } } }")).json()["data"]["partners"][
        "edges"
    ] == [{"node": {"name": "Renamed"}}]


async def test_an_authenticated_request_never_reads_or_fills_the_shared_cache(hub: Hub) -> None:
    await _shop(hub)
    await hub.partner("cinema")
    token = await hub.access_token(await hub.client())
    await _get(hub)  # the public answer is cached

    with counting_statements(hub.database) as log:
        mine = await _get(hub, Authorization=f"Bearer {token}")

    assert log.count > 0  # executed, not served from the cache
    assert mine.status_code == 200
    assert mine.headers["cache-control"] == "no-store"
    assert "etag" not in mine.headers


@pytest.mark.parametrize(
    "query",
    [
        "{ partners { edges { node { earningRule { pointsPerYuan } } } } }",
        "{ __schema { queryType { name } } }",
        '{ node(id: "TWVtYmVyOjE=") { ... on Member { id } } }',
        "{ catalog { edges { node { sku } } } apiVersion viewer { kind } }",
        # Member prices are rows the catalogue version does not cover.
        "{ catalog { edges { node { sku memberPrices { points } } } } }",
    ],
)
async def test_documents_beyond_the_public_catalogue_are_not_cached(hub: Hub, query: str) -> None:
    await _shop(hub)

    response = await _get(hub, query)

    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


async def test_an_answer_with_errors_is_not_cached(hub: Hub) -> None:
    response = await _get(hub, '{ catalog(after: "not-a-cursor") { edges { cursor } } }')

    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert response.headers["cache-control"] == "no-store"


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": _hash(query)}}


NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}


async def test_apq_over_post_not_found_then_registered_then_by_hash(hub: Hub) -> None:
    await _shop(hub)

    unknown = await _post(hub, {"extensions": _persisted(PAGE)})
    assert unknown.status_code == 200
    assert unknown.json() == NOT_FOUND
    assert unknown.headers["cache-control"] == "no-store"

    registered = await _post(hub, {"query": PAGE, "extensions": _persisted(PAGE)})
    assert _skus(registered) == [("a", 100), ("b", 200)]

    by_hash = await _post(hub, {"extensions": _persisted(PAGE)})
    assert by_hash.status_code == 200
    assert by_hash.content == registered.content


async def test_apq_over_get_is_a_cacheable_url(hub: Hub) -> None:
    await _shop(hub)
    params = {"extensions": json.dumps(_persisted(PAGE))}

    unknown = await hub.http.get("/graphql", params=params)
    assert unknown.json() == NOT_FOUND
    assert unknown.headers["cache-control"] == "no-store"

    registered = await hub.http.get("/graphql", params={**params, "query": PAGE})
    by_hash = await hub.http.get("/graphql", params=params)

    assert by_hash.status_code == 200
    assert _skus(by_hash) == [("a", 100), ("b", 200)]
    assert by_hash.headers["cache-control"] == PUBLIC
    assert by_hash.headers["etag"] == registered.headers["etag"]
    assert (
        await hub.http.get(
            "/graphql", params=params, headers={"If-None-Match": by_hash.headers["etag"]}
        )
    ).status_code == 304


async def test_apq_refuses_a_hash_that_does_not_match_and_a_malformed_extension(
    hub: Hub,
) -> None:
    wrong = await _post(hub, {"query": PAGE, "extensions": _persisted("{ apiVersion }")})
    assert wrong.status_code == 400
    assert wrong.json() == {
        "errors": [
            {
                "message": "provided sha does not match query",
                "extensions": {"code": "PERSISTED_QUERY_HASH_MISMATCH"},
            }
        ]
    }
    # The mismatched document was not stored under the hash.
    assert (await _post(hub, {"extensions": _persisted("{ apiVersion }")})).json() == NOT_FOUND

    for bad in ({"version": 2, "sha256Hash": _hash(PAGE)}, {"version": 1}, "x"):
        refused = await _post(hub, {"query": PAGE, "extensions": {"persistedQuery": bad}})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_persisted_mutation_is_refused_over_get(hub: Hub) -> None:
    mutation = 'mutation { suspendPartner(input: {code: "x"}) { userErrors { code } } }'
    await _post(hub, {"query": mutation, "extensions": _persisted(mutation)})

    response = await hub.http.get(
        "/graphql", params={"extensions": json.dumps(_persisted(mutation))}
    )

    assert response.status_code in (400, 405)
    assert "data" not in response.json() or response.json()["data"] is None


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_hit_answers_exactly_as_the_miss_before_it(
    hub: Hub, method: str, accept: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A repeat is answered before routing and the GraphQL view (hub.graphql_http.PublicFront):
    the same status, headers and bytes, and the same access-log line."""
    await _shop(hub)
    query = "query Shelf { catalog(first: 10) { edges { node { sku } } } }"

    async def ask() -> httpx2.Response:
        if method == "GET":
            return await hub.http.get(
                "/graphql", params={"query": query}, headers={"accept": accept}
            )
        return await hub.http.post("/graphql", json={"query": query}, headers={"accept": accept})

    miss = await ask()
    await hub.app.state.catalogue.settled()
    with counting_statements(hub.database) as log, caplog.at_level("INFO", "alliance_hub.access"):
        hit = await ask()

    assert [s for s in log.statements if "catalog_version" not in s] == []
    assert hit.status_code == miss.status_code == 200
    assert hit.content == miss.content
    per_response = ("date", "x-request-id")
    assert {k: v for k, v in hit.headers.items() if k not in per_response} == {
        k: v for k, v in miss.headers.items() if k not in per_response
    }
    assert miss.headers["content-type"] == (
        "application/json"
        if accept == "application/json"
        else "application/graphql-response+json; charset=utf-8"
    )
    assert f"{method} /graphql 200" in caplog.text
    assert "operation=Shelf" in caplog.text


async def test_a_body_the_view_would_refuse_is_refused_as_before(hub: Hub) -> None:
    await _shop(hub)
    await _post(hub, {"query": PAGE})  # cached

    for body, status in ((b"[1]", 400), (b'{"query": 5}', 400), (b"\xff", 400)):
        refused = await hub.http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert refused.status_code == status
    wrong_type = await hub.http.post(
        "/graphql", content=json.dumps({"query": PAGE}), headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    not_acceptable = await hub.http.post(
        "/graphql", json={"query": PAGE}, headers={"accept": "text/html"}
    )
    assert not_acceptable.status_code == 406
