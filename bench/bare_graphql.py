"""The baselines for bench/graphql.py: a bare strawberry app on Starlette returning the
catalogue's shape (100 items with their partner) from memory, taking the same arguments,
with the same parser and validation caches the hub uses, so the ratio measures the hub's
own work; and at ``/raw`` plain Starlette answering every POST with the bytes of
``--raw-file`` (the hub's own answer to a catalogue page), the ceiling of any cache."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/graphql.py and bench/ledger.py share names with the graphql library and the
# ledger package: never let this folder shadow them.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


@strawberry.type
class Partner:
    code: str
    name: str


@strawberry.type
class Item:
    sku: str
    title: str
    points: int
    base_points: int
    partner: Partner


@strawberry.type
class Edge:
    cursor: str
    node: Item


@strawberry.type
class Connection:
    edges: list[Edge]


PARTNERS = [Partner(code=f"brand-{n}", name=f"Brand {n}") for n in range(7)]
ITEMS = [
    Edge(
        cursor=f"c{n}",
        node=Item(
            sku=f"sku-{n}",
            title=f"Item {n}",
            points=100 + n,
            base_points=120 + n,
            partner=PARTNERS[n % 7],
        ),
    )
    for n in range(100)
]


@strawberry.input
class CatalogFilter:
    partner_codes: list[str] | None = None
    categories: list[str] | None = None
    green: bool | None = None
    max_points: int | None = None
    search: str | None = None


@strawberry.type
class Query:
    @strawberry.field
    def catalog(
        self, first: int = 20, after: str | None = None, filter: CatalogFilter | None = None
    ) -> Connection:
        return Connection(edges=ITEMS[:first])


schema = strawberry.Schema(
    query=Query, extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)]
)
RAW: list[bytes] = [b"{}"]


async def raw(request: Request) -> Response:
    await request.body()
    return Response(RAW[0], media_type="application/json")


app = Starlette(
    routes=[
        Route("/graphql", GraphQL(schema, graphql_ide=None)),
        Route("/raw", raw, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--raw-file", type=Path)
    args = parser.parse_args()
    if args.raw_file is not None:
        RAW[0] = args.raw_file.read_bytes()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
