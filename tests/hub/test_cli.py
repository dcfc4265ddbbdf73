from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta

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
        "0 owed as clawback debt; 9 invariants hold",
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
    assert lines[2].startswith("ledger clean:")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "mysql://root@127.0.0.1/x",
            "alliance-hub: unsupported database 'mysql': use sqlite or postgresql",
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
