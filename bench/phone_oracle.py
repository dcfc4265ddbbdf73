"""Does the sign-in page answer a member's phone any slower than a stranger's? (issue 15:
phones must not be testable, by the answer or by its timing.)

Registers ``--members`` members on a fresh SQLite hub, then asks the sign-in page for a
code for each member's phone and for as many phones that belong to no one, interleaved,
each phone once (so no per-phone limit is reached), through the ASGI app in process. The
baseline is the strangers' phones of the same run: the ratio is the median time for
members' phones over the median for strangers' (1.0 means no difference), and the answers'
bodies are compared with the per-request values (handles, tokens) blanked.

Ends with ``RESULT phone_oracle_member_vs_stranger_median <ratio>`` and
``RESULT phone_oracle_distinct_bodies <count>`` (goal: 1, one body for both)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import html
import re
import secrets
import statistics
import tempfile
import time
from urllib.parse import urlencode

import httpx2

from core.config import Settings
from core.db import utcnow
from core.notify import OutboxNotifier
from hub.app import create_app
from hub.migrate import upgrade
from members.registration import confirm_registration, start_registration
from members.signin import create_app_client
from partners.registry import add_partner

REDIRECT = "com.alliance.app:/signed-in"


def _hidden(page: str) -> dict[str, str]:
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', page)
    }


async def run(members: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/oracle.db"
        upgrade(url)
        settings = dataclasses.replace(
            Settings(secret_key=secrets.token_urlsafe(32), notify_outbox=f"{folder}/n.jsonl"),
            codes_per_address=10**6,
            codes_per_app_hour=10**6,
            codes_per_partner_hour=10**6,
        )
        app = create_app(url, settings=settings, notifier=OutboxNotifier(Path(folder) / "n.jsonl"))
        async with app.router.lifespan_context(app):
            database = app.state.database
            partner = await database.write(
                add_partner, code="store", name="Store", legal_entity="Store Ltd", now=utcnow()
            )
            partner_id = partner.id
            known = [f"138{n:08d}" for n in range(members)]
            unknown = [f"131{n:08d}" for n in range(members)]
            for n, phone in enumerate(known):
                started = await database.write(
                    start_registration,
                    settings.secret_key,
                    partner_id=partner_id,
                    external_ref=f"m-{n}",
                    phone=phone,
                    display_name=None,
                    consent=True,
                    now=utcnow(),
                )
                await database.write(
                    confirm_registration,
                    settings.secret_key,
                    partner_id=partner_id,
                    request_id=started.request_id,
                    code=started.notification.code,
                    client_id=None,
                    now=utcnow(),
                )
            client_id = await database.write(
                create_app_client, name="App", redirect_uris=[REDIRECT], now=utcnow()
            )
            verifier = secrets.token_urlsafe(48)
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            query = urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": REDIRECT,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "scope": "member:self",
                    "state": "s",
                }
            )
            transport = httpx2.ASGITransport(app=app)
            times: dict[bool, list[float]] = {True: [], False: []}
            bodies: set[str] = set()
            async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
                form = _hidden((await http.get(f"/oauth/authorize?{query}")).text)
                for member_phone, stranger_phone in zip(known, unknown, strict=True):
                    for is_member, phone in ((True, member_phone), (False, stranger_phone)):
                        started_at = time.perf_counter()
                        answer = await http.post("/oauth/authorize", data={**form, "phone": phone})
                        times[is_member].append(time.perf_counter() - started_at)
                        assert answer.status_code == 200, answer.text
                        bodies.add(re.sub(r'name="sign_in" value="[^"]*"', "", answer.text))
                    await asyncio.sleep(0)  # let the members' codes go out between pairs
        member = statistics.median(times[True])
        stranger = statistics.median(times[False])
        return member, stranger, len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=150)
    args = parser.parse_args()
    member, stranger, bodies = asyncio.run(run(args.members))
    print(f"median member phone {member * 1000:.2f} ms, stranger phone {stranger * 1000:.2f} ms")
    print(f"RESULT phone_oracle_member_vs_stranger_median {member / stranger:.3f}")
    print(f"RESULT phone_oracle_distinct_bodies {bodies}")


if __name__ == "__main__":
    main()
