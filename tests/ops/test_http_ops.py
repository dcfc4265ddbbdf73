"""Operability over HTTP: /readyz, request ids in responses and logs, JSON logs, CORS,
GraphiQL and /metrics (who may read it, and what it counts)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.config import Settings, get_settings
from core.db import Database
from core.notify import OutboxNotifier
from hub.app import create_app
from hub.logs import JsonFormatter, RequestIdFilter, TextFormatter
from tests.stores import Templates

pytestmark = pytest.mark.anyio

CATALOG = {"query": "query Browse { catalog(first: 2) { edges { node { title } } } }"}


@asynccontextmanager
async def serving(
    database_url: str,
    tmp_path: Path,
    client: tuple[str, int] = ("127.0.0.1", 40000),
    **changes: Any,
) -> AsyncIterator[httpx2.AsyncClient]:
    settings = dataclasses.replace(get_settings(), **changes)
    app = create_app(
        database_url, settings=settings, notifier=OutboxNotifier(tmp_path / "outbox.jsonl")
    )
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, client=client)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_readyz_is_200_on_a_migrated_database_with_its_key(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(database_url, tmp_path) as http:
        response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": True, "migrated": True, "signingKey": True},
    }


@pytest.fixture
def empty_url(templates: Templates) -> str:
    return templates.empty_database()


async def test_readyz_is_503_on_an_unmigrated_database_while_healthz_stays_live(
    empty_url: str, tmp_path: Path
) -> None:
    async with serving(empty_url, tmp_path) as http:
        ready = await http.get("/readyz")
        live = await http.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": True, "migrated": False, "signingKey": False}
    assert live.status_code == 200


async def test_readyz_is_503_with_another_secret_key(database_url: str, tmp_path: Path) -> None:
    async with serving(
        database_url, tmp_path, secret_key="another-secret-key-that-is-long-enough"
    ) as http:
        response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["signingKey"] is False


async def test_readyz_is_503_one_revision_behind(database_url: str, tmp_path: Path) -> None:
    def behind(session: Session) -> None:
        session.execute(text("UPDATE alembic_version SET version_num = '0028'"))

    database = Database(database_url)
    await database.write(behind)
    await database.dispose()
    async with serving(database_url, tmp_path) as http:
        response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["migrated"] is False


async def test_a_request_id_is_echoed_or_made_and_logged_on_every_line(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alliance_hub")
    caplog.handler.addFilter(RequestIdFilter())
    async with serving(database_url, tmp_path) as http:
        given = await http.post("/graphql", json=CATALOG, headers={"X-Request-Id": "abc-123"})
        made = await http.post("/graphql", json=CATALOG)
        injected = await http.post(
            "/graphql", json=CATALOG, headers={"X-Request-Id": "evil\tline x=1"}
        )
        huge = await http.post("/graphql", json=CATALOG, headers={"X-Request-Id": "a" * 5000})

    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert injected.headers["x-request-id"] != "evil\tline x=1"
    assert len(injected.headers["x-request-id"]) == 32
    assert len(huge.headers["x-request-id"]) == 32
    access = [r for r in caplog.records if r.name == "alliance_hub.access"]
    assert [r.request_id for r in access] == [  # type: ignore[attr-defined]
        "abc-123",
        made.headers["x-request-id"],
        injected.headers["x-request-id"],
        huge.headers["x-request-id"],
    ]
    assert all("evil" not in r.getMessage() for r in caplog.records)


async def test_an_unexpected_error_line_carries_the_request_id(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alliance_hub")
    caplog.handler.addFilter(RequestIdFilter())
    async with serving(database_url, tmp_path) as http:
        app = http._transport.app  # type: ignore[attr-defined]
        database: Database = app.state.database

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

        database.read = broken  # type: ignore[method-assign]
        database.write = broken  # type: ignore[method-assign]
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"X-Request-Id": "r-9"},
        )

    assert response.status_code == 500
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == "r-9"]
    assert {r.name for r in lines} >= {"alliance_hub.errors", "alliance_hub.access"}


def test_json_lines_hold_the_request_id_and_the_access_fields() -> None:
    record = logging.LogRecord(
        "alliance_hub.access", logging.INFO, __file__, 1, "POST %s", ("/graphql",), None
    )
    record.request_id = "r-1"
    record.status = 200
    record.path = "/graphql"

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert "\n" not in line
    assert {k: entry[k] for k in ("level", "logger", "message", "request_id", "status")} == {
        "level": "INFO",
        "logger": "alliance_hub.access",
        "message": "POST /graphql",
        "request_id": "r-1",
        "status": 200,
    }


def test_text_lines_escape_newlines() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a\nforged line", (), None)
    record.request_id = "-"

    assert TextFormatter("%(request_id)s %(message)s").format(record) == "- a\\nforged line"


async def test_cors_preflight_for_a_listed_origin_is_204(database_url: str, tmp_path: Path) -> None:
    async with serving(database_url, tmp_path, cors_origins=("https://app.example.com",)) as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        actual = await http.post(
            "/graphql", json=CATALOG, headers={"Origin": "https://app.example.com"}
        )
        foreign = await http.options(
            "/graphql",
            headers={
                "Origin": "https://evil.example.com",
                "Access-Control-Request-Method": "POST",
            },
        )
        foreign_post = await http.post(
            "/graphql", json=CATALOG, headers={"Origin": "https://evil.example.com"}
        )

    assert preflight.status_code == 204
    assert preflight.content == b""
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert actual.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in actual.headers["access-control-expose-headers"].lower()
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    assert "access-control-allow-origin" not in foreign_post.headers


async def test_without_origins_there_is_no_cors(database_url: str, tmp_path: Path) -> None:
    async with serving(database_url, tmp_path) as http:
        response = await http.post(
            "/graphql", json=CATALOG, headers={"Origin": "https://app.example.com"}
        )

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("changes", "served"),
    [
        ({}, True),
        ({"environment": "production", "graphiql": False}, False),
        ({"environment": "production", "graphiql": True}, True),
    ],
)
async def test_graphiql_for_a_browser(
    database_url: str, tmp_path: Path, changes: dict[str, Any], served: bool
) -> None:
    async with serving(database_url, tmp_path, **changes) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html,*/*;q=0.8"})
        query = await http.get(
            "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "application/json"}
        )

    assert query.status_code == 200
    if served:
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "graphiql" in page.text.lower()
    else:
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()


def test_metrics_networks_default_to_loopback_in_development_only() -> None:
    assert Settings.from_env({}).metrics_networks == ("127.0.0.0/8", "::1/128")
    assert Settings.from_env({"HUB_ENV": "production"}).metrics_networks == ()
    assert Settings.from_env(
        {"HUB_ENV": "production", "HUB_METRICS_NETWORKS": "10.0.0.0/8"}
    ).metrics_networks == ("10.0.0.0/8",)


def test_graphiql_defaults_follow_the_environment() -> None:
    assert Settings.from_env({}).graphiql is True
    assert Settings.from_env({"HUB_ENV": "production"}).graphiql is False
    assert Settings.from_env({"HUB_ENV": "production", "HUB_GRAPHIQL": "on"}).graphiql is True


@pytest.mark.parametrize(
    ("client", "headers", "changes", "status"),
    [
        (("127.0.0.1", 1), {}, {}, 200),
        (("203.0.113.9", 1), {}, {}, 403),
        (("203.0.113.9", 1), {"X-Forwarded-For": "127.0.0.1"}, {}, 403),
        (("203.0.113.9", 1), {"X-Real-IP": "127.0.0.1"}, {}, 403),
        (("203.0.113.9", 1), {"Authorization": "Bearer op-token-0123456789"}, {}, 403),
        (
            ("203.0.113.9", 1),
            {"Authorization": "Bearer op-token-0123456789"},
            {"metrics_token": "op-token-0123456789"},
            200,
        ),
        (
            ("203.0.113.9", 1),
            {"Authorization": "Bearer wrong"},
            {"metrics_token": "op-token-0123456789"},
            403,
        ),
        (("10.1.2.3", 1), {}, {"metrics_networks": ("10.0.0.0/8",)}, 200),
        (("127.0.0.1", 1), {}, {"metrics_networks": ()}, 403),
        # A local reverse proxy the hub was not told to trust: the peer is loopback, the
        # caller is not.
        (("127.0.0.1", 1), {"X-Forwarded-For": "203.0.113.9"}, {}, 403),
        (("127.0.0.1", 1), {"Forwarded": "for=203.0.113.9"}, {}, 403),
        (("127.0.0.1", 1), {"X-Real-IP": "203.0.113.9"}, {}, 403),
        (
            ("127.0.0.1", 1),
            {"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer op-token-0123456789"},
            {"metrics_token": "op-token-0123456789"},
            200,
        ),
        (
            ("10.0.0.7", 1),
            {"X-Forwarded-For": "10.0.0.7"},
            {"trusted_proxies": "10.0.0.1", "metrics_networks": ("10.0.0.0/8",)},
            200,
        ),
    ],
)
async def test_metrics_only_for_allowed_networks_or_the_token(
    database_url: str,
    tmp_path: Path,
    client: tuple[str, int],
    headers: dict[str, str],
    changes: dict[str, Any],
    status: int,
) -> None:
    async with serving(database_url, tmp_path, client=client, **changes) as http:
        response = await http.get("/metrics", headers=headers)

    assert response.status_code == status
    if status == 200:
        assert "alliance_hub_requests_total" in response.text
    else:
        assert "alliance_hub" not in response.text


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        metric, _, rest = key.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and found == wanted:
            return float(value)
    return 0.0


async def test_requests_are_counted_by_operation_type_and_outcome(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(database_url, tmp_path) as http:
        before = (await http.get("/metrics")).text
        await http.post("/graphql", json=CATALOG)
        await http.post("/graphql", json={"query": "query Broken { nope }"})
        await http.post("/oauth/token", data={"grant_type": "client_credentials"})
        after = (await http.get("/metrics")).text

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("alliance_hub_requests_total", operation="Browse", type="query", outcome="ok") == 1
    assert (
        delta("alliance_hub_requests_total", operation="Broken", type="query", outcome="error") == 1
    )
    assert (
        delta("alliance_hub_requests_total", operation="/oauth/token", type="http", outcome="error")
        == 1
    )
    assert (
        delta("alliance_hub_request_duration_seconds_count", operation="Browse", type="query") == 1
    )
    assert (
        delta("alliance_hub_tokens_total", grant="client_credentials", outcome="invalid_client")
        == 1
    )


def test_operation_names_cannot_grow_the_metrics_without_end() -> None:
    from core.metrics import BoundedLabels

    labels = BoundedLabels(3)

    assert [labels(f"Op{i}") for i in range(5)] == ["Op0", "Op1", "Op2", "(other)", "(other)"]
    assert labels("Op1") == "Op1"
