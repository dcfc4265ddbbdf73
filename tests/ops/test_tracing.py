"""Optional tracing: spans for the HTTP request, the SQL statements and the GraphQL execution
with an in-memory exporter; without OTEL_* variables nothing of OpenTelemetry is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from core.notify import OutboxNotifier
from hub import tracing
from hub.app import create_app
from tests.serving import ON_CI

pytestmark = pytest.mark.anyio


def _sdk() -> tuple[object, object]:
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError:
        if ON_CI:
            raise
        pytest.skip("the otel extra is not installed (make install installs it)")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def test_a_graphql_request_is_traced_through_http_sql_and_execution(
    database_url: str, tmp_path: Path
) -> None:
    provider, exporter = _sdk()
    app = create_app(
        database_url, notifier=OutboxNotifier(tmp_path / "o.jsonl"), tracer_provider=provider
    )
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(
                "/graphql",
                json={"query": "query Browse { catalog(first: 1) { edges { node { title } } } }"},
            )

    assert response.status_code == 200
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    names = [span.name for span in spans]
    assert any(name.startswith("POST /graphql") for name in names), names
    assert any(span.attributes.get("db.system") for span in spans), names
    assert any("GraphQL" in name or "Browse" in name for name in names), names
    # Neither the document nor an argument reaches a span.
    for span in spans:
        assert "query" not in (span.attributes or {})
        assert not any(key.startswith("graphql.param") for key in span.attributes or {})
    traces = {span.context.trace_id for span in spans}
    assert len(traces) == 1  # one request, one trace


def test_tracing_is_wanted_only_by_the_otel_variables() -> None:
    assert tracing.wanted({}) is False
    assert tracing.wanted({"OTEL_SERVICE_NAME": "hub"}) is False
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "none"}) is False
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "console"}) is True
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}) is True
    assert (
        tracing.wanted(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}
        )
        is False
    )


def test_without_otel_variables_opentelemetry_is_never_imported(database_url: str) -> None:
    probe = (
        "import sys\n"
        "from hub.app import create_app\n"
        f"create_app({database_url!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
