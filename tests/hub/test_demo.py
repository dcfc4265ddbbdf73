"""The demo alliance that `make run` loads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hub.cli import main
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio

LENSES = """{
  catalog(filter: {search: "Blue-light lenses (200 yuan)"}, first: 1) {
    edges { node { points basePoints promotion { points } } }
  }
}"""
GREEN_OF_TWO = """query($after: String) {
  catalog(filter: {partnerCodes: ["redrice", "clearsight"], green: true}, sort: POINTS_ASC,
          first: 7, after: $after) {
    edges { node { points green partner { code } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _cli(*argv: str) -> int:
    """The CLI runs its own event loop, so from a test's loop it runs in a worker thread."""
    return await asyncio.to_thread(main, list(argv))


async def _load(
    database_url: str, credentials: Path, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    assert (
        await _cli("demo", "--database-url", database_url, "--credentials", str(credentials)) == 0
    )
    return capsys.readouterr().out.splitlines()


async def test_the_demo_loads_once_and_pages_by_effective_points(
    hub: Hub, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = tmp_path / "demo.json"
    first = await _load(database_url, credentials, capsys)
    again = await _load(database_url, credentials, capsys)

    walked: list[dict] = []
    after = None
    while True:
        response = await hub.http.post(
            "/graphql", json={"query": GREEN_OF_TWO, "variables": {"after": after}}
        )
        page = response.json()["data"]["catalog"]
        walked += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    everything = await hub.http.post(
        "/graphql",
        json={"query": "{ catalog(first: 100) { edges { cursor } pageInfo { hasNextPage } } }"},
    )
    lenses = await hub.http.post("/graphql", json={"query": LENSES})
    client = json.loads(credentials.read_text())["clearsight"]
    token = await hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )

    assert first[0] == "demo alliance loaded: 7 partners, 203 catalogue items, 5 members"
    assert again[:2] == [
        "demo alliance already loaded",
        f"its clients' credentials are kept in {credentials.resolve()} "
        "(jq . on it; the hub stores secrets hashed)",
    ]
    assert not any("client_secret=" in line for line in again)
    assert sum("client_secret=" in line for line in first) == 8
    assert again[2:] == [line for line in first if "client_secret=" not in line][2:]
    assert [line.split(":")[0] for line in first if "demo member" in line] == [
        "sign in as a demo member"
    ]
    assert "app" in json.loads(credentials.read_text())
    assert len(walked) == 30  # 6 green products at the two partners, 5 editions each
    assert {node["partner"]["code"] for node in walked} == {"redrice", "clearsight"}
    assert all(node["green"] for node in walked)
    assert [node["points"] for node in walked] == sorted(node["points"] for node in walked)
    assert everything.json()["data"]["catalog"]["pageInfo"]["hasNextPage"] is True
    assert lenses.json()["data"]["catalog"]["edges"][0]["node"] == {
        "points": 1500,
        "basePoints": 2000,
        "promotion": {"points": 1500},
    }
    assert token.status_code == 200
    assert await _cli("ledger", "verify", "--database-url", database_url) == 0
