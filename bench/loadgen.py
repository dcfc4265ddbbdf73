"""A load generator in its own process: POSTs one GraphQL document with fixed
concurrency; prints rps. ``{n}`` in the variables JSON is replaced by a request counter
plus ``--offset``; with ``--variants`` (a JSON list of such templates) request n uses
template n modulo their number."""

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
import json
import time

import httpx2


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("query")
    parser.add_argument("--variables", default="{}")
    parser.add_argument("--token", default="")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--variants", default="")
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args()
    templates = json.loads(args.variants) if args.variants else [args.variables]
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    counter = iter(range(args.requests))
    failures = 0
    first_failure = ""

    async def worker(client: httpx2.AsyncClient) -> None:
        nonlocal failures, first_failure
        for n in counter:
            template = templates[n % len(templates)]
            variables = json.loads(template.replace("{n}", str(n + args.offset)))
            reply = await client.post(
                args.url, json={"query": args.query, "variables": variables}, headers=headers
            )
            body = reply.json()
            if reply.status_code != 200 or body.get("errors"):
                failures += 1
                first_failure = first_failure or f"{reply.status_code} {reply.text[:300]}"

    limits = httpx2.Limits(max_connections=args.concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {"rps": args.requests / elapsed, "failures": failures, "first_failure": first_failure}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
