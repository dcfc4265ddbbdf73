"""The load generator of bench/contention.py, in its own process.

Reads a plan as JSON on stdin and prints the outcome of every request as JSON:

- ``{"mode": "burst", "url", "token", "requests": [{"key", "query", "variables"}]}``: every
  request opened at once (one connection each);
- ``{"mode": "duration", "url", "token", "requests": [...], "seconds", "concurrency"}``:
  ``concurrency`` clients cycle through the requests for ``seconds``.

Each outcome is ``{"key", "status", "retry_after", "class", "result"}``, where ``class``
is ``success``, a userError code, a GraphQL error code, ``http_<status>`` or
``transport``, and ``result`` the mutation's payload (for comparing replays).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any

import httpx2


def classify(status: int, body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict):
        return f"http_{status}", None
    errors = body.get("errors") or []
    if errors:
        code = (errors[0].get("extensions") or {}).get("code", "UNKNOWN")
        return str(code), None
    if status >= 400:
        return f"http_{status}", None
    data = body.get("data") or {}
    payload = next(iter(data.values()), None)
    if isinstance(payload, dict) and payload.get("userErrors"):
        return str(payload["userErrors"][0]["code"]), payload
    return "success", payload


async def send(client: httpx2.AsyncClient, plan: dict[str, Any], request: dict[str, Any]) -> dict:
    try:
        reply = await client.post(
            plan["url"],
            json={"query": request["query"], "variables": request.get("variables", {})},
            headers={"Authorization": f"Bearer {plan['token']}"},
        )
    except httpx2.HTTPError as error:
        return {"key": request.get("key"), "status": 0, "class": "transport", "error": repr(error)}
    try:
        body = reply.json()
    except ValueError:
        body = None
    kind, result = classify(reply.status_code, body)
    return {
        "key": request.get("key"),
        "status": reply.status_code,
        "retry_after": reply.headers.get("retry-after"),
        "class": kind,
        "result": result,
    }


async def burst(plan: dict[str, Any]) -> dict[str, Any]:
    requests = plan["requests"]
    limits = httpx2.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx2.AsyncClient(limits=limits, timeout=120) as client:
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(send(client, plan, r) for r in requests))
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "outcomes": outcomes}


async def duration(plan: dict[str, Any]) -> dict[str, Any]:
    requests = itertools.cycle(plan["requests"])
    concurrency = int(plan["concurrency"])
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    outcomes: list[dict[str, Any]] = []
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        deadline = started + float(plan["seconds"])

        async def client_loop() -> None:
            while time.perf_counter() < deadline:
                outcomes.append(await send(client, plan, next(requests)))

        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    for outcome in outcomes:
        outcome.pop("result", None)  # the throughput run keeps only the classes
    return {"seconds": elapsed, "outcomes": outcomes}


def main() -> None:
    plan = json.load(sys.stdin)
    run = burst if plan["mode"] == "burst" else duration
    json.dump(asyncio.run(run(plan)), sys.stdout)


if __name__ == "__main__":
    main()
