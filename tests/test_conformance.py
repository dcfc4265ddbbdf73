"""External conformance checks (tools/): the GraphQL-over-HTTP audit and federation
composition, against a real `alliance-hub serve`. Store-independent, so they run in the
SQLite half; without Node they skip, except under CI=true where that is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.serving import serving
from tests.stores import STORE

TOOLS = Path(__file__).resolve().parents[1] / "tools"
NODE = shutil.which("node")
ON_CI = os.environ.get("CI", "").lower() == "true"


def _require_tools() -> str:
    if STORE != "sqlite":
        pytest.skip("store-independent; runs in the SQLite half")
    missing = None
    if NODE is None:
        missing = "node is not installed"
    elif not (TOOLS / "node_modules" / "graphql-http").exists():
        missing = "tools/node_modules is missing: run `make test` (it runs npm ci in tools/)"
    if missing:
        if ON_CI:
            pytest.fail(f"{missing}; CI=true requires the conformance checks")
        pytest.skip(missing)
    assert NODE is not None
    return NODE


def _run(script: str, database_url: str) -> subprocess.CompletedProcess[str]:
    node = _require_tools()
    with serving(database_url) as base:
        return subprocess.run(
            [node, str(TOOLS / script), f"{base}/graphql"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def test_graphql_over_http_audit_has_no_must_errors_or_should_warnings(database_url: str) -> None:
    result = _run("audit.mjs", database_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(0 failing)" in result.stdout
    assert "(0 warning)" in result.stdout


def test_the_subgraph_composes_and_a_conflicting_one_is_rejected(database_url: str) -> None:
    result = _run("compose.mjs", database_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: the hub composes with a partner subgraph extending CatalogItem" in result.stdout
    assert "ok: the conflicting subgraph is rejected" in result.stdout
