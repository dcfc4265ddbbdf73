"""Posting one delivery: signed per Standard Webhooks by the ``standardwebhooks`` library,
to the address the SSRF check approved, with short timeouts, no redirects followed and at
most RESPONSE_CAP bytes of the response read (and none of it kept)."""

from __future__ import annotations

import ipaddress
import time
from datetime import datetime

import httpx2
from standardwebhooks.webhooks import Webhook

from core.clock import utcnow
from webhooks.delivery import Job, Outcome
from webhooks.destinations import parse_destination, resolve_destination
from webhooks.errors import UnsafeDestination

TIMEOUT = httpx2.Timeout(5.0, connect=3.0)
RESPONSE_CAP = 64 * 1024
USER_AGENT = "alliance-hub-webhooks/1"


def signature_headers(job: Job, at: datetime) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``: one ``v1,`` signature
    per secret in force (two during a rotation's grace period), space-separated."""
    signatures = [Webhook(secret).sign(job.event_id, at, job.body) for secret in job.secrets]
    return {
        "webhook-id": job.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def new_client() -> httpx2.AsyncClient:
    """One client per worker: no redirects, no proxies from the environment, short timeouts."""
    return httpx2.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)


async def send(client: httpx2.AsyncClient, job: Job, *, production: bool) -> Outcome:
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        destination = parse_destination(job.url, production=production)
        address = await resolve_destination(destination, production=production)
    except UnsafeDestination:
        return Outcome("refused_destination", None, elapsed())
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    pinned = f"{destination.scheme}://{host}:{destination.port}{destination.path}"
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": destination.host
        if destination.port in (80, 443)
        else f"{destination.host}:{destination.port}",
        **signature_headers(job, utcnow()),
    }
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    try:
        async with client.stream(
            "POST", pinned, content=job.body.encode(), headers=headers, extensions=extensions
        ) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= RESPONSE_CAP:
                    break
            code = response.status_code
    except httpx2.TimeoutException:
        return Outcome("timeout", None, elapsed())
    except httpx2.HTTPError:
        return Outcome("connect_error", None, elapsed())
    return Outcome("delivered" if 200 <= code < 300 else "http_error", code, elapsed())
