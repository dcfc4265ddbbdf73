"""``GET /metrics``: the Prometheus exposition of core/metrics.py, for an allow-listed network
or a caller with the operator's metrics token (docs/operations.md)."""

from __future__ import annotations

import ipaddress
import os
import tempfile

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.config import Settings
from core.crypto import hashes_equal

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
FORWARDING = ("x-forwarded-for", "forwarded", "x-real-ip")


def prepare_multiprocess() -> str:
    """Several workers: each writes its counts to files in one directory, summed on read.
    Called before the workers start (they inherit the variable); an operator's own
    ``PROMETHEUS_MULTIPROC_DIR`` (shared with ``alliance-hub worker``) is kept."""
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if not directory:
        directory = tempfile.mkdtemp(prefix="alliance-hub-metrics-")
        os.environ[MULTIPROCESS_VARIABLE] = directory
    return directory


def process_exits() -> None:
    """In multiprocess mode, drop this process's live gauges (pool in use and waiting)."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    if os.environ.get(MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class MetricsEndpoint:
    def __init__(self, settings: Settings) -> None:
        self.networks = [ipaddress.ip_network(item) for item in settings.metrics_networks]
        self.token = settings.metrics_token
        self.proxies_trusted = bool(settings.trusted_proxies.strip())

    def allowed(self, request: Request) -> bool:
        """The bearer token, or the client's address: the TCP peer's, or the one a proxy named
        in HUB_TRUSTED_PROXIES forwarded (uvicorn rewrites it then). A request forwarded by
        an untrusted proxy is not let in by address."""
        if self.token:
            scheme, _, presented = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hashes_equal(presented.strip(), self.token):
                return True
        if not self.proxies_trusted and any(name in request.headers for name in FORWARDING):
            # Came through a proxy the hub was not told to trust: the peer's address is the
            # proxy's, not the caller's, so it proves nothing.
            return False
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, request: Request) -> Response:
        if not self.allowed(request):
            return JSONResponse(
                {"error": "forbidden", "error_description": "metrics are for the operator"},
                status_code=403,
                headers={"Cache-Control": "no-store"},
            )
        return Response(
            exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )
