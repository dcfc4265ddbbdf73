"""The hub through Hive Gateway against the hub directly, on the same machine in the same run.

The demo alliance on SQLite, one hub worker, the sample partner subgraph, the supergraph
composed by tools/compose.mjs and Hive Gateway with the recommended configuration
(tools/gateway.config.mjs) but in-flight de-duplication off (GATEWAY_DEDUPLICATE=false):
with it on, concurrent identical requests would share one hub request and the figure would
measure the cache, not the gateway.

(a) ``catalog(first: 100)`` with each item's partner name, through the gateway against the
    hub directly. Goal: at least 0.8.
(b) The same page with the partner subgraph's ``stock`` for every item (an entity fetch
    per page), through the gateway against the hub's page without it. No goal; it shows
    what a partner's field costs.

    python bench/federation.py [--requests 300] [--rounds 3]

Both are measured twice: with the hub's public response cache on (the default: the direct
hub answers the repeated page from memory, so (a) is the gateway's own cost against a cache
hit) and off (``HUB_PUBLIC_CACHE_MB=0``: every page is executed, as an uncached page is).

Needs Node and `make tools`. Ends with ``RESULT federation_catalog_vs_direct <ratio>``,
``RESULT federation_catalog_with_stock_vs_direct <ratio>`` and the same two with
``federation_uncached_`` for the hub's cache off.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
ROOT = HERE.parent

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile

from bench.graphql import CATALOG, SECRET, free_port, load, prepare, wait_ready

TOOLS = ROOT / "tools"
GATEWAY = TOOLS / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"
WITH_STOCK = (
    "{ catalog(first: 100) { edges { cursor node "
    "{ sku title points stock partner { code name } } } } }"
)


def measure(
    node: str, workdir: Path, url: str, requests: int, rounds: int, **hub_env: str
) -> tuple[float, float, float]:
    """Start the hub (with ``hub_env``), the partner subgraph and the gateway; return the
    best rates (direct, through the gateway, through the gateway with stock)."""
    hub_port, partner_port, gateway_port = free_port(), free_port(), free_port()
    hub_base = f"http://127.0.0.1:{hub_port}"
    hub_url = f"{hub_base}/graphql"
    partner_url = f"http://127.0.0.1:{partner_port}/graphql"
    gateway_url = f"http://127.0.0.1:{gateway_port}/graphql"
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": SECRET, "HUB_ISSUER": hub_base}
    servers = []

    def start(command: list[str], **extra: str) -> None:
        servers.append(
            subprocess.Popen(
                command,
                env={**env, **extra},
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    try:
        start([sys.executable, "-m", "hub.cli", "serve", "--port", str(hub_port)], **hub_env)
        start([node, str(TOOLS / "partner-subgraph" / "server.mjs"), str(partner_port)])
        wait_ready(hub_url)
        wait_ready(partner_url)
        supergraph = workdir / "supergraph.graphql"
        subprocess.run(
            [
                *(node, str(TOOLS / "compose.mjs"), hub_url),
                *("--partner-url", partner_url, "--out", str(supergraph)),
            ],
            check=True,
            capture_output=True,
        )
        start(
            [
                *(node, str(GATEWAY), "supergraph", str(supergraph)),
                *("--config-path", str(TOOLS / "gateway.config.mjs")),
                *("--host", "127.0.0.1", "--port", str(gateway_port)),
            ],
            GATEWAY_DEDUPLICATE="false",
        )
        wait_ready(gateway_url)
        for target, query in (
            (hub_url, CATALOG),
            (gateway_url, CATALOG),
            (gateway_url, WITH_STOCK),
        ):
            load(target, query, 50, 4)  # warm up: caches, JIT, connections
        direct = through = with_stock = 0.0
        for _ in range(rounds):
            direct = max(direct, load(hub_url, CATALOG, requests, 8))
            through = max(through, load(gateway_url, CATALOG, requests, 8))
            with_stock = max(with_stock, load(gateway_url, WITH_STOCK, requests, 8))
        return direct, through, with_stock
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not GATEWAY.exists():
        raise SystemExit("needs node and tools/node_modules: run `make tools`")
    workdir = Path(tempfile.mkdtemp(prefix="bench-federation-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    asyncio.run(prepare(url, workdir / "credentials.json"))
    figures: dict[str, float] = {}
    for name, hub_env in (("", {}), ("_uncached", {"HUB_PUBLIC_CACHE_MB": "0"})):
        direct, through, with_stock = measure(
            node, workdir, url, args.requests, args.rounds, **hub_env
        )
        cache = "hub public cache off" if name else "hub public cache on (the default)"
        print(
            f"{cache}: catalogue page of 100 with partner names: hub {direct:.0f} req/s, "
            f"through Hive Gateway (de-duplication off) {through:.0f} req/s, ratio "
            f"{through / direct:.2f}; with the partner subgraph's stock {with_stock:.0f} req/s, "
            f"ratio {with_stock / direct:.2f}"
        )
        figures[f"federation{name}_catalog_vs_direct"] = through / direct
        figures[f"federation{name}_catalog_with_stock_vs_direct"] = with_stock / direct
    for key, value in figures.items():
        print(f"RESULT {key} {value:.3f}")


if __name__ == "__main__":
    main()
