"""GraphQL throughput on one uvicorn worker, driven by a load generator in its own process.

(a) ``catalog(first: 100)`` with cursors, points, basePoints and each item's partner, with
    arguments that change from request to request (a different ``maxPoints`` every time,
    partner and category filters, ``after`` cursors), so no response cache can serve it;
    against a bare strawberry app that returns the same shape from memory for the same
    arguments (bench/bare_graphql.py, same parser and validation caches). Goal: 0.8.
(b) the same page without arguments, anonymous, as every visitor asks for it: the public
    response cache; against plain Starlette answering the very same bytes from memory.
    Goal: 0.5.
(c) ``awardPoints`` end to end (token check, consent, rule, budget, ledger), against the
    ledger's own earn rate measured in-process in the same run. Goal: 0.3.

    python bench/graphql.py [--requests 400] [--rounds 3]

Ends with ``RESULT graphql_catalog_vs_bare``, ``RESULT graphql_catalog_cached_vs_starlette``
and ``RESULT graphql_award_vs_ledger``. SQLite store; rounds alternate, best of each.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/graphql.py and bench/ledger.py share names with the graphql library and the
# ledger package: never let this folder shadow them.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
ROOT = HERE.parent

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import ledger
from core.config import Settings
from core.db import Database, utcnow
from hub import demo
from hub.migrate import upgrade
from hub.oauth2.keys import ensure_signing_key

SECRET = "bench-secret-key"
PAGE = "edges { cursor node { sku title points basePoints partner { code name } } }"
CATALOG = "{ catalog(first: 100) { " + PAGE + " } }"
CATALOG_VARIED = (
    "query($first: Int, $after: String, $filter: CatalogFilter) "
    "{ catalog(first: $first, after: $after, filter: $filter) { " + PAGE + " } }"
)
AWARD = """mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) { points userErrors { code } }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(
                url,
                data=b'{"query": "{ __typename }"}',
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def load(url: str, query: str, requests: int, concurrency: int, **extra: str) -> float:
    command = [
        sys.executable,
        str(ROOT / "bench" / "loadgen.py"),
        url,
        query,
        "--requests",
        str(requests),
        "--concurrency",
        str(concurrency),
    ]
    for name, value in extra.items():
        command += [f"--{name}", value]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    if result["failures"]:
        raise SystemExit(
            f"{result['failures']} failed requests against {url}: {result['first_failure']}"
        )
    return float(result["rps"])


def token(base: str, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        f"{base}/oauth/token",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request) as reply:
        return str(json.loads(reply.read())["access_token"])


async def prepare(url: str, credentials: Path) -> None:
    upgrade(url)
    database = Database(url)
    await database.write(ensure_signing_key, SECRET, utcnow())
    await demo.run(database, Settings(database_url=url, secret_key=SECRET), utcnow(), credentials)
    await database.dispose()


async def ledger_earn_rate(url: str, count: int) -> float:
    database = Database(url)
    now = utcnow()
    run = os.urandom(4).hex()
    started = time.perf_counter()
    for n in range(count):
        await database.write(
            ledger.earn,
            ledger.IdempotencyKey("bench", f"{run}-{n}"),
            member_id=1,
            partner_id=1,
            points=10,
            order_ref=f"ledger-{run}-{n}",
            expires_at=now + timedelta(days=365),
            now=now,
        )
    rate = count / (time.perf_counter() - started)
    await database.dispose()
    return rate


def post(url: str, query: str, variables: dict | None = None) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as reply:
        return bytes(reply.read())


def variants(hub_url: str) -> str:
    """Variable sets for (a): every request gets its own ``maxPoints`` (above every price, so
    each page still has 100 items), with partner and category filters and ``after``."""
    first = json.loads(post(hub_url, CATALOG))["data"]["catalog"]["edges"]
    after = first[2]["cursor"]  # 200 items follow it
    codes = [partner.code for partner in demo.PARTNERS]
    categories = sorted({partner.category for partner in demo.PARTNERS})
    big = '"maxPoints": {n}'
    return json.dumps(
        [
            '{"first": 100, "filter": {' + big + "}}",
            '{"first": 100, "filter": {' + big + ', "partnerCodes": ' + json.dumps(codes) + "}}",
            '{"first": 100, "filter": {' + big + ', "categories": ' + json.dumps(categories) + "}}",
            '{"first": 100, "after": "' + after + '", "filter": {' + big + "}}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-graphql-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    credentials = workdir / "credentials.json"
    asyncio.run(prepare(url, credentials))
    hub_port, bare_port = free_port(), free_port()
    hub_base = f"http://127.0.0.1:{hub_port}"
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": SECRET, "HUB_ISSUER": hub_base}
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(hub_port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        hub_url, bare_url = f"{hub_base}/graphql", f"http://127.0.0.1:{bare_port}/graphql"
        raw_url = f"http://127.0.0.1:{bare_port}/raw"
        wait_ready(hub_url)
        answer = workdir / "answer.json"
        answer.write_bytes(post(hub_url, CATALOG))  # the cached page's bytes
        servers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "bare_graphql.py"),
                    "--port",
                    str(bare_port),
                    "--raw-file",
                    str(answer),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_ready(bare_url)
        varied = variants(hub_url)
        big = 1_000_000
        for target in (hub_url, bare_url):
            load(target, CATALOG_VARIED, 100, 4, variants=varied, offset=str(big))
        load(hub_url, CATALOG, 100, 4)
        load(raw_url, CATALOG, 100, 4)
        hub_rps = bare_rps = cached_rps = raw_rps = 0.0
        for round_ in range(args.rounds):
            offset = str(big * (round_ + 2))  # never a maxPoints seen before
            bare_rps = max(
                bare_rps,
                load(bare_url, CATALOG_VARIED, args.requests, 8, variants=varied, offset=offset),
            )
            hub_rps = max(
                hub_rps,
                load(hub_url, CATALOG_VARIED, args.requests, 8, variants=varied, offset=offset),
            )
            raw_rps = max(raw_rps, load(raw_url, CATALOG, args.requests * 4, 8))
            cached_rps = max(cached_rps, load(hub_url, CATALOG, args.requests * 4, 8))
        store = json.loads(credentials.read_text())["redrice"]
        bearer = token(hub_base, store["client_id"], store["client_secret"])
        member = base64.b64encode(b"Member:1").decode()
        award_rps = 0.0
        for round_ in range(args.rounds):
            variables = json.dumps(
                {
                    "input": {
                        "idempotencyKey": f"bench-{round_}-{{n}}",
                        "memberId": member,
                        "orderRef": f"bench-{round_}-{{n}}",
                        "paidAmountFen": 1000,
                        "lines": [{"sku": "s", "category": "c", "amountFen": 1000}],
                    }
                }
            )
            award_rps = max(
                award_rps,
                load(hub_url, AWARD, args.requests // 2, 4, variables=variables, token=bearer),
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    earn_rps = max(
        asyncio.run(ledger_earn_rate(url, args.requests // 2)) for _ in range(args.rounds)
    )
    print(
        f"catalogue page of 100 with partners, varied arguments: hub {hub_rps:.0f} req/s, "
        f"bare strawberry {bare_rps:.0f} req/s, ratio {hub_rps / bare_rps:.2f}"
    )
    print(
        f"the same page, public and cached: hub {cached_rps:.0f} req/s, raw Starlette with "
        f"the same bytes {raw_rps:.0f} req/s, ratio {cached_rps / raw_rps:.2f}"
    )
    print(
        f"awardPoints end to end: {award_rps:.0f} req/s; ledger earn in-process "
        f"{earn_rps:.0f}/s; ratio {award_rps / earn_rps:.2f}"
    )
    print(f"RESULT graphql_catalog_vs_bare {hub_rps / bare_rps:.3f}")
    print(f"RESULT graphql_catalog_cached_vs_starlette {cached_rps / raw_rps:.3f}")
    print(f"RESULT graphql_award_vs_ledger {award_rps / earn_rps:.3f}")


if __name__ == "__main__":
    main()
