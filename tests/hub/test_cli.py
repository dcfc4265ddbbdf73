from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import Database
from hub.cli import main
from tests.ledger.world import World
from tests.serving import serving
from tests.stores import Templates


def _populate(url: str, *, lapsed: bool = False) -> None:
    async def run() -> None:
        database = Database(url)
        now = datetime.now(UTC) - (timedelta(days=3) if lapsed else timedelta(0))
        world = await World(database, now).open()
        await world.earn(1, 10, 100, lifetime=timedelta(days=1))
        await world.redeem(1, 20, 30)
        await database.dispose()

    asyncio.run(run())


def test_migrate_creates_the_schema(
    templates: Templates, capsys: pytest.CaptureFixture[str]
) -> None:
    url = templates.empty_database()

    assert main(["migrate", "--database-url", url]) == 0
    assert main(["ledger", "verify", "--database-url", url]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "database migrated to the latest revision",
        "ledger clean: 1 accounts, 0 transfers, 0 lots; members hold 0 points, 0 held, "
        "0 owed as clawback debt; 11 invariants hold",
    ]


def test_verify_exits_one_and_lists_each_breach(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(database_url)

    def corrupt(session: Session) -> None:
        session.execute(text("UPDATE ledger_accounts SET debits_posted = 0 WHERE id = 'member:1'"))

    async def run() -> None:
        database = Database(database_url)
        await database.write(corrupt)
        await database.dispose()

    asyncio.run(run())

    assert main(["ledger", "verify", "--database-url", database_url]) == 1
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  account_equals_transfers: member:1: posted 0/100, transfers give 30/100"
    ]


def test_expire_sweeps_lapsed_lots(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _populate(database_url, lapsed=True)

    assert main(["expire", "--database-url", database_url]) == 0
    assert main(["ledger", "verify", "--database-url", database_url]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "voided 0 lapsed holds; expired 70 points of 1 members"
    assert lines[1] == "forgot 0 expired assertion and revoked-token ids"
    assert lines[2].startswith("purged ")
    assert lines[2].endswith(" rows of lapsed registrations, consent requests, codes, sign-ins")
    assert lines[3].startswith("ledger clean:")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "mysql://root@127.0.0.1/x",
            "alliance-hub: HUB_DATABASE_URL: unsupported database 'mysql': "
            "use sqlite or postgresql",
        ),
        (
            "postgresql://nobody@127.0.0.1:1/none",
            "alliance-hub: database error: [Errno 111] Connect call failed ('127.0.0.1', 1)",
        ),
    ],
)
def test_failures_exit_one_with_a_one_line_reason(
    url: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "verify", "--database-url", url]) == 1

    assert capsys.readouterr().err.splitlines() == [reason]


def test_serve_answers_healthz_over_real_http(database_url: str) -> None:
    with serving(database_url) as base, urllib.request.urlopen(f"{base}/healthz") as reply:
        body = json.loads(reply.read())

    assert body["database"]["reachable"] is True


def test_serve_writes_one_access_line_a_request_and_never_the_query_string(
    database_url: str, tmp_path: Path
) -> None:
    """Issue 10: uvicorn's access log is off; the hub's own line reaches the output."""
    log = tmp_path / "serve.log"
    secret = "ahs_secret_in_a_query_string"
    with serving(database_url, log=log) as base:
        with urllib.request.urlopen(f"{base}/healthz?access_token={secret}") as reply:
            assert reply.status == 200
        request = urllib.request.Request(
            f"{base}/graphql?client_secret={secret}",
            data=json.dumps({"query": "query Hello { apiVersion }"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as reply:
            assert reply.status == 200
    output = log.read_text()
    access = [line for line in output.splitlines() if " /healthz " in line or " /graphql " in line]

    assert secret not in output
    assert any("GET /healthz 200" in line for line in access), output
    assert any("POST /graphql 200" in line and "operation=Hello" in line for line in access), output
