from __future__ import annotations

from starlette.testclient import TestClient

from hub.app import create_app


def test_healthz_reports_the_database_reachable(database_url: str) -> None:
    with TestClient(create_app(database_url)) as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    store = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert response.json() == {"status": "ok", "database": {"store": store, "reachable": True}}


def test_healthz_reports_an_unreachable_database_as_degraded() -> None:
    with TestClient(create_app("postgresql://nobody@127.0.0.1:1/none")) as client:
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": {"store": "postgresql", "reachable": False},
    }


def test_graphql_answers_a_query(database_url: str) -> None:
    with TestClient(create_app(database_url)) as client:
        response = client.post("/graphql", json={"query": "{ apiVersion }"})

    assert response.status_code == 200
    assert response.json() == {"data": {"apiVersion": "0.1.0"}}
