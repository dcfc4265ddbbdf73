"""External conformance checks (tools/): the GraphQL-over-HTTP audit and federation
composition, against a real `alliance-hub serve`. Store-independent, so they run in the
SQLite half; without Node they skip, except under CI=true where that is a failure."""

from __future__ import annotations

import subprocess

from tests.serving import TOOLS, require_node_tools, serving


def _run(script: str, database_url: str) -> subprocess.CompletedProcess[str]:
    node = require_node_tools(
        "graphql-http", "@theguild/federation-composition", "@apollo/composition"
    )
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


def test_both_composers_compose_partner_subgraphs_and_reject_a_conflicting_one(
    database_url: str,
) -> None:
    result = _run("compose.mjs", database_url)

    assert result.returncode == 0, result.stdout + result.stderr
    for composer in ("guild", "apollo"):
        assert f"ok {composer}: the hub composes with the sample partner subgraph" in result.stdout
        assert (
            f"ok {composer}: the hub composes with a subgraph reusing PageInfo and UserError"
            in result.stdout
        )
        assert f"ok {composer}: the conflicting subgraph is rejected" in result.stdout
