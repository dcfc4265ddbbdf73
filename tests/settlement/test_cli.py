"""The operator's settlement cycle with the CLI alone: open, reconcile, export, resolve,
close, export again."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import main
from tests.hub.conftest import Hub
from tests.settlement.test_cycle import Cycle

pytestmark = pytest.mark.anyio


async def test_a_cycle_from_open_to_closed_with_the_cli_only(
    hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cycle = Cycle(hub)
    await cycle.trade()

    async def cli(*words: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, [*words, "--database-url", database_url])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = await cli(
        "settlement",
        "open",
        "--cycle",
        "MONTHLY",
        "--start",
        cycle.started.isoformat(),
        "--end",
        cycle.ended.isoformat(),
    )
    assert code == 0
    period = out.split()[1].rstrip(":")
    assert out.strip().endswith("OPEN")

    code, out, _ = await cli("reconcile", "--period", period)
    assert code == 0
    assert "0 matched" in out
    assert "6 missing in partner" in out  # nobody posted: every hub line waits for a decision

    code, out, err = await cli("settlement", "export", "--period", period, "--format", "json")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert err == ""  # piped: no progress bar
    assert [r["partner_code"] for r in records if r["record"] == "statement"] == [
        "store",
        "cinema",
        "optician",
    ]
    assert len([r for r in records if r["record"] == "line"]) == 6

    code, out, _ = await cli("settlement", "close", "--period", period)
    assert code == 1  # unresolved lines

    code, out, _ = await cli(
        "settlement",
        "resolve",
        "--period",
        period,
        "--status",
        "MISSING_IN_PARTNER",
        "--resolution",
        "ACCEPT_HUB",
        "--note",
        "no partner reports this cycle",
    )
    assert (code, out.strip()) == (0, f"period {period}: 6 lines resolved as ACCEPT_HUB")

    code, out, _ = await cli("settlement", "close", "--period", period)
    assert (code, out.strip()) == (0, f"period {period} CLOSED; operator revenue 168 fen")

    target = tmp_path / "period.csv"
    code, out, _ = await cli(
        "settlement", "export", "--period", period, "--format", "csv", "--output", str(target)
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    nets = {r["partner_code"]: int(r["net_fen"]) for r in rows if r["record"] == "statement"}
    assert nets == {"store": -197, "cinema": -8, "optician": 37}
    assert {r["resolution"] for r in rows if r["record"] == "line"} == {"ACCEPT_HUB"}

    code, _, err = await cli("settlement", "close", "--period", period)
    assert code == 1
    assert "closed" in err


async def test_cli_settlement_bad_input(
    hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*words: str) -> int:
        return main([*words, "--database-url", database_url])

    assert (
        await asyncio.to_thread(cli, "settlement", "open", "--cycle", "DAILY", "--start", "x") == 1
    )
    assert "ISO 8601" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, "reconcile", "--period", "999") == 1
    assert "no such settlement period" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, "settlement", "resolve", "--resolution", "ADJUST") == 1
    assert "either --line" in capsys.readouterr().err


async def test_progress_shows_on_a_terminal_and_not_when_piped(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    cycle = Cycle(hub)
    await cycle.trade()
    cycle.period = await cycle.open(cycle.started, cycle.ended)
    await asyncio.to_thread(main, ["reconcile", "--period", "1", "--database-url", database_url])

    def export(stderr: int) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))",
                *("settlement", "export", "--period", "1", "--output", str(tmp_path / "x.csv")),
                *("--database-url", database_url),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=True,
            timeout=60,
        )

    primary, secondary = pty.openpty()
    try:
        export(secondary)
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    piped = export(subprocess.PIPE)

    assert b"exporting: 6/6 lines (100%)" in shown
    assert piped.stderr == b""
