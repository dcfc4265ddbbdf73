"""CPU per request of bench/graphql.py's measure (a), in-process: the uncached catalogue
page (100 items with cursors, points, basePoints and partner; a new ``maxPoints`` every
request, partner and category filters, ``after`` cursors) sent straight to the hub's ASGI
app, against bare strawberry (bench/bare_graphql.py) answering the same requests in the
same process. No HTTP server and no load generator: ``time.process_time`` over batches
of 25 requests, the two apps alternating batch by batch, so a loaded machine inflates
both alike; the medians of the batches count. For profiling and for steps too small to
see through a busy machine's HTTP throughput; the lead's figure is bench/graphql.py's.

    python bench/graphql_cpu.py [--batches 40]

Ends with ``RESULT graphql_catalog_cpu_vs_bare`` (bare CPU / hub CPU; higher is better).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/graphql.py and bench/ledger.py share names with the graphql library and the
# ledger package: never let this folder shadow them.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import tempfile
import time
from types import ModuleType
from typing import Any

from hub import demo

SECRET = "bench-secret-key"
BATCH = 25


def _module(name: str) -> ModuleType:
    """A sibling bench script as a module (its name would shadow a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def call(app: Any, body: bytes) -> list[dict[str, Any]]:
    """One POST /graphql through ``app``; the messages it sent."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"*/*"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def bodies(query: str, templates: list[str], offset: int, count: int) -> list[bytes]:
    """As bench/loadgen.py sends them: template n modulo their number, ``{n}`` counted."""
    return [
        json.dumps(
            {
                "query": query,
                "variables": json.loads(templates[n % len(templates)].replace("{n}", str(n))),
            }
        ).encode()
        for n in range(offset, offset + count)
    ]


async def cpu_ms(app: Any, batch: list[bytes], check: bool = False) -> float:
    started = time.process_time()
    for body in batch:
        sent = await call(app, body)
        if check:
            answer = json.loads(sent[-1]["body"])
            edges = answer.get("data", {}).get("catalog", {}).get("edges", [])
            if sent[0]["status"] != 200 or "errors" in answer or len(edges) != 100:
                raise SystemExit(f"unexpected answer: {str(answer)[:300]}")
    return (time.process_time() - started) * 1000 / len(batch)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    graphql_bench = _module("graphql")
    bare = _module("bare_graphql")
    workdir = Path(tempfile.mkdtemp(prefix="bench-graphql-cpu-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    await graphql_bench.prepare(url, workdir / "credentials.json")
    os.environ.update(
        HUB_DATABASE_URL=url, HUB_SECRET_KEY=SECRET, HUB_ISSUER="http://127.0.0.1:8000"
    )
    from hub.app import create_app  # after the environment it reads

    app = create_app(url)
    async with app.router.lifespan_context(app):
        first = await call(app, json.dumps({"query": graphql_bench.CATALOG}).encode())
        after = json.loads(first[-1]["body"])["data"]["catalog"]["edges"][2]["cursor"]
        codes = json.dumps([partner.code for partner in demo.PARTNERS])
        categories = json.dumps(sorted({partner.category for partner in demo.PARTNERS}))
        cap = '"maxPoints": {n}'
        templates = [
            '{"first": 100, "filter": {' + cap + "}}",
            '{"first": 100, "filter": {' + cap + ', "partnerCodes": ' + codes + "}}",
            '{"first": 100, "filter": {' + cap + ', "categories": ' + categories + "}}",
            '{"first": 100, "after": "' + after + '", "filter": {' + cap + "}}",
        ]
        query = graphql_bench.CATALOG_VARIED
        warm = bodies(query, templates, 1_000_000, 100)
        await cpu_ms(app, warm, check=True)
        await app.state.catalogue.settled()  # the in-memory catalogue is loaded
        for target in (app, bare.app):
            await cpu_ms(target, bodies(query, templates, 1_100_000, 100), check=True)
        hub_ms, bare_ms = [], []
        for batch in range(args.batches):
            sent = bodies(query, templates, 2_000_000 + batch * BATCH, BATCH)
            bare_ms.append(await cpu_ms(bare.app, sent))
            hub_ms.append(await cpu_ms(app, sent))
    hub_median, bare_median = statistics.median(hub_ms), statistics.median(bare_ms)
    print(
        f"CPU per request, median of {args.batches} batches of {BATCH}: "
        f"hub {hub_median:.2f} ms, bare strawberry {bare_median:.2f} ms"
    )
    print(f"RESULT graphql_catalog_cpu_vs_bare {bare_median / hub_median:.2f} (goal 0.8)")


if __name__ == "__main__":
    asyncio.run(main())
