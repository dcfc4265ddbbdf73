"""The baseline for bench/graphql.py: a bare strawberry app on Starlette returning the
catalogue's shape (100 items with their partner) from memory, with the same parser and
validation caches the hub uses, so the ratio measures the hub's own work."""

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
        node=Item(sku=f"sku-{n}", title=f"Item {n}", points=100 + n, partner=PARTNERS[n % 7]),
    )
    for n in range(100)
]


@strawberry.type
class Query:
    @strawberry.field
    def catalog(self, first: int = 20) -> Connection:
        return Connection(edges=ITEMS[:first])


schema = strawberry.Schema(
    query=Query, extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)]
)
app = Starlette(routes=[Route("/graphql", GraphQL(schema, graphql_ide=None))])

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
