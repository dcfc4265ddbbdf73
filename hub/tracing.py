"""Optional OpenTelemetry tracing: Starlette (ASGI), SQLAlchemy and GraphQL execution spans.

On only when the standard variables ask for it (``OTEL_TRACES_EXPORTER`` other than
``none``, or ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and
``OTEL_SDK_DISABLED`` is not true. Otherwise nothing of OpenTelemetry is even imported.
The packages are the ``otel`` extra: ``pip install 'alliance-hub[otel]'``.
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Mapping
from typing import Any

from core.config import ConfigError


def wanted(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def provider_from_env(env: Mapping[str, str]) -> Any:
    """A TracerProvider exporting as the OTEL_* variables say (otlp, the default, or
    console); its service name from OTEL_SERVICE_NAME, else alliance-hub."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise ConfigError(
            "OTEL_* variables ask for tracing, but OpenTelemetry is not installed: "
            "pip install 'alliance-hub[otel]'"
        ) from None
    exporter_name = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    exporter: Any
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER must be otlp, console or none, not {exporter_name!r}"
        )
    service = env.get("OTEL_SERVICE_NAME") or "alliance-hub"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def traced_schema(schema: Any, provider: Any) -> Any:
    """The schema with strawberry's OpenTelemetry extension (on a copy: the shared schema
    stays untraced). Spans carry operation names, field paths and parent types, never the
    document or arguments, which may hold a member's phone or a secret."""
    from opentelemetry.trace import SpanKind
    from strawberry.extensions.base_extension import LifecycleStep
    from strawberry.extensions.tracing import OpenTelemetryExtension

    class Traced(OpenTelemetryExtension):
        def __init__(self, *, execution_context: Any = None) -> None:
            super().__init__(
                execution_context=execution_context,
                tracer_provider=provider,
                arg_filter=lambda args, info: {},
            )

        def on_operation(self) -> Generator[None, None, None]:
            name = self.execution_context.operation_name
            span = self._tracer.start_span(
                f"GraphQL Query: {name}" if name else "GraphQL Query", kind=SpanKind.SERVER
            )
            span.set_attribute("component", "graphql")
            self._span_holder[LifecycleStep.OPERATION] = span
            yield
            if not name and self.execution_context.operation_name:
                span.update_name(f"GraphQL Query: {self.execution_context.operation_name}")
            span.end()

    traced = copy.copy(schema)
    traced.extensions = [*schema.extensions, Traced]
    return traced


def trace_engines(engines: list[Any], provider: Any) -> None:
    """Spans for every statement of these engines only (the instrumentor's global
    ``create_engine`` patch is not applied)."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter
    from opentelemetry.trace import get_tracer

    tracer = get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, provider)
    usage = get_meter(
        "opentelemetry.instrumentation.sqlalchemy", __version__
    ).create_up_down_counter(name="db.client.connections.usage", unit="connections")
    for engine in engines:
        EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def middleware(provider: Any) -> list[Any]:
    """The outermost middleware: one server span per request (none without a provider)."""
    if provider is None:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware import Middleware

    return [Middleware(OpenTelemetryMiddleware, tracer_provider=provider)]
