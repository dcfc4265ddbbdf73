"""The load generator of bench/contention.py, in its own process.

Reads a plan as JSON on stdin and prints the outcome of every request as JSON:

- ``{"mode": "burst", "url", "token", "requests": [{"key", "query", "variables"}]}``: every
  request opened at once (one connection each);
- ``{"mode": "duration", "url", "token", "requests": [...], "seconds", "concurrency"}``:
  ``concurrency`` clients, each on one kept-alive connection, cycle through the requests
  for ``seconds``.

Each outcome is ``{"key", "status", "retry_after", "class", "result"}``, where ``class``
is ``success``, a userError code, a GraphQL error code, ``http_<status>`` or
``transport``, and ``result`` the mutation's payload (for comparing replays); beside them,
``seconds`` (wall time) and ``cpu_seconds`` (the CPU this process spent).

The client is a lean HTTP/1.1 one on asyncio streams, with every request encoded before
the clock starts (as wrk or k6 would): the load generator shares the machine's two cores
with the hub and PostgreSQL, and a general-purpose client (httpx spends 1.5-2 ms of CPU
per request) would take a fifth of what it measures away from the hub.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import sys
import time
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 120.0


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


class Target:
    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.token = token

    def encode(self, request: dict[str, Any], keep_alive: bool) -> bytes:
        body = json.dumps(
            {"query": request["query"], "variables": request.get("variables", {})}
        ).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
            f"Authorization: Bearer {self.token}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read its response (Content-Length or chunked)."""
    writer.write(raw)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        body = await reader.read()
    return status, headers, body


def outcome(key: Any, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    kind, result = classify(status, parsed)
    return {
        "key": key,
        "status": status,
        "retry_after": headers.get("retry-after"),
        "class": kind,
        "result": result,
    }


def failed(key: Any, error: BaseException) -> dict[str, Any]:
    return {"key": key, "status": 0, "class": "transport", "error": type(error).__name__}


async def burst(plan: dict[str, Any]) -> dict[str, Any]:
    target = Target(plan["url"], plan["token"])
    encoded = [(r.get("key"), target.encode(r, keep_alive=False)) for r in plan["requests"]]

    async def one(key: Any, raw: bytes) -> dict[str, Any]:
        writer = None
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                reader, writer = await asyncio.open_connection(
                    target.host, target.port, limit=2**20
                )
                return outcome(key, *await exchange(reader, writer, raw))
        except (OSError, TimeoutError, ValueError, IndexError, EOFError) as error:
            return failed(key, error)
        finally:
            if writer is not None:
                writer.close()

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(key, raw) for key, raw in encoded))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "outcomes": outcomes}


async def duration(plan: dict[str, Any]) -> dict[str, Any]:
    target = Target(plan["url"], plan["token"])
    encoded = itertools.cycle(
        [(r.get("key"), target.encode(r, keep_alive=True)) for r in plan["requests"]]
    )
    concurrency = int(plan["concurrency"])
    outcomes: list[dict[str, Any]] = []
    started = time.perf_counter()
    deadline = started + float(plan["seconds"])

    async def client() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline:
            key, raw = next(encoded)
            try:
                async with asyncio.timeout(TIMEOUT_SECONDS):
                    if connection is None:
                        connection = await asyncio.open_connection(
                            target.host, target.port, limit=2**20
                        )
                    found = outcome(key, *await exchange(*connection, raw))
            except (OSError, TimeoutError, ValueError, IndexError, EOFError) as error:
                found = failed(key, error)
                if connection is not None:
                    connection[1].close()
                connection = None
            found.pop("result", None)  # the throughput run keeps only the classes
            outcomes.append(found)
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "outcomes": outcomes}


def main() -> None:
    plan = json.load(sys.stdin)
    run = burst if plan["mode"] == "burst" else duration
    started = resource.getrusage(resource.RUSAGE_SELF)
    found = asyncio.run(run(plan))
    ended = resource.getrusage(resource.RUSAGE_SELF)
    found["cpu_seconds"] = (ended.ru_utime - started.ru_utime) + (ended.ru_stime - started.ru_stime)
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
