"""A real ``alliance-hub serve``: the issuer follows the port, JSON logs carry the request
id, /metrics sums several workers and honours only a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.serving import serving
from tests.stores import TEST_SECRET_KEY

CATALOG = json.dumps(
    {"query": "query Browse { catalog(first: 1) { edges { node { title } } } }"}
).encode()


def serve(
    database_url: str, log: Path, *args: str, **env: str
) -> contextlib.AbstractContextManager[str]:
    """A real ``serve`` that names its own issuer, ready when ``/readyz`` says so."""
    return serving(database_url, log, env, args=args, issuer=False, ready="/readyz")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_graphql(base: str, request_id: str | None = None) -> urllib.request.Request:
    headers = {"Content-Type": "application/json"}
    if request_id:
        headers["X-Request-Id"] = request_id
    return urllib.request.Request(f"{base}/graphql", data=CATALOG, headers=headers)


def test_the_issuer_follows_the_port_and_logs_are_json_with_the_request_id(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with serve(database_url, log, HUB_LOG_FORMAT="json") as base:
        port = base.rsplit(":", 1)[1]
        status, body = get(f"{base}/.well-known/oauth-authorization-server")
        with urllib.request.urlopen(post_graphql(base, "trace-me-1"), timeout=10) as response:
            echoed = response.headers["X-Request-Id"]

    assert status == 200
    assert json.loads(body)["token_endpoint"] == f"http://127.0.0.1:{port}/oauth/token"
    assert echoed == "trace-me-1"
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "alliance_hub.access"]
    mine = [e for e in access if e["request_id"] == "trace-me-1"]
    assert len(mine) == 1
    assert mine[0]["path"] == "/graphql"
    assert mine[0]["operation_name"] == "Browse"
    assert mine[0]["status"] == 200


def test_metrics_sum_two_workers_and_refuse_a_forwarded_outsider(
    database_url: str, tmp_path: Path
) -> None:
    # A local reverse proxy in front: the hub believes its X-Forwarded-For.
    with serve(
        database_url, tmp_path / "serve.log", "--workers", "2", HUB_TRUSTED_PROXIES="127.0.0.1"
    ) as base:
        for _ in range(12):  # over new connections: both workers answer some
            urllib.request.urlopen(post_graphql(base), timeout=10).read()
        status, body = get(f"{base}/metrics")
        outsider, hidden = get(f"{base}/metrics", {"X-Forwarded-For": "203.0.113.9"})

    assert status == 200
    assert (
        'alliance_hub_requests_total{operation="Browse",outcome="ok",type="query"} 12.0'
        in body.decode()
    )
    assert outsider == 403
    assert b"alliance_hub" not in hidden


def test_a_forged_forwarded_header_is_not_believed_without_a_trusted_proxy(
    database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path / "serve.log", HUB_METRICS_NETWORKS="10.0.0.0/8") as base:
        forged, body = get(f"{base}/metrics", {"X-Forwarded-For": "10.1.2.3"})

    assert forged == 403
    assert b"alliance_hub" not in body


def test_after_the_demo_scenario_metrics_count_requests_transfers_and_refusals(
    database_url: str, tmp_path: Path
) -> None:
    import base64

    credentials = tmp_path / "demo.json"
    shared = tmp_path / "metrics"  # as `make run` does: the demo and the server count together
    shared.mkdir()
    subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--credentials", str(credentials)],
        env={
            **os.environ,
            "HUB_DATABASE_URL": database_url,
            "HUB_SECRET_KEY": TEST_SECRET_KEY,
            "PROMETHEUS_MULTIPROC_DIR": str(shared),
        },
        check=True,
        capture_output=True,
    )
    rice = json.loads(credentials.read_text())["redrice"]
    member = base64.b64encode(b"Member:1").decode()
    award = (
        "mutation($i: AwardPointsInput!) { awardPoints(input: $i) { points "
        "userErrors { code rule } } }"
    )

    def order(key: str) -> dict[str, object]:
        return {
            "i": {
                "idempotencyKey": key,
                "memberId": member,
                "orderRef": "metrics-order-1",
                "paidAmountFen": 5000,
                "lines": [{"sku": "rice-1", "category": "food", "amountFen": 5000}],
            }
        }

    with serve(database_url, tmp_path / "serve.log", PROMETHEUS_MULTIPROC_DIR=str(shared)) as base:
        form = b"grant_type=client_credentials"
        basic = base64.b64encode(f"{rice['client_id']}:{rice['client_secret']}".encode())
        token_request = urllib.request.Request(
            f"{base}/oauth/token", data=form, headers={"Authorization": f"Basic {basic.decode()}"}
        )
        with urllib.request.urlopen(token_request, timeout=10) as response:
            token = json.load(response)["access_token"]
        answers = []
        for key in ("metrics-1", "metrics-2"):  # the same order twice: CR-01 the second time
            request = urllib.request.Request(
                f"{base}/graphql",
                data=json.dumps({"query": award, "variables": order(key)}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answers.append(json.load(response)["data"]["awardPoints"])
        status, body = get(f"{base}/metrics")

    assert answers[0]["userErrors"] == []
    assert answers[0]["points"] > 0
    assert answers[1]["userErrors"] == [{"code": "COMPLIANCE_VIOLATION", "rule": "CR-01"}]
    text = body.decode()
    assert status == 200
    counted = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("alliance_hub_") and not line.startswith("#")
    }
    assert (
        counted['alliance_hub_requests_total{operation="(anonymous)",outcome="ok",type="mutation"}']
        == 2
    )
    assert counted['alliance_hub_ledger_transfers_total{code="earn"}'] >= 1
    assert counted['alliance_hub_refusals_total{rule="CR-01"}'] == 1
    assert counted['alliance_hub_refusals_total{rule="CR-05"}'] == 1  # the demo's prepaid card
    assert counted['alliance_hub_ledger_transfers_total{code="donate"}'] == 5  # the demo's five
    assert counted['alliance_hub_tokens_total{grant="client_credentials",outcome="issued"}'] == 1
