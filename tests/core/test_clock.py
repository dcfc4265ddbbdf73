"""The hub's one clock (core/clock.py): tests travel it forward through the ``clock``
fixture; nothing else can move it."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest

import core.clock
from core.db import utcnow
from tests.conftest import Clock

ROOT = Path(__file__).resolve().parents[2]
# Every package and script of the project that is not a test.
PRODUCTION = [
    "core",
    "hub",
    "schema",
    "resolvers",
    "partners",
    "members",
    "ledger",
    "compliance",
    "settlement",
    "events",
    "webhooks",
    "migrations",
    "bench",
    "tools",
]


def test_travel_moves_now_forward_and_the_fixture_brings_it_back(clock: Clock) -> None:
    before = utcnow()

    moved = clock.travel(timedelta(days=8))

    assert before.tzinfo is UTC
    assert moved - before >= timedelta(days=8)
    assert moved - before < timedelta(days=8, minutes=1)
    assert utcnow() >= moved
    assert core.clock.travelled() == timedelta(days=8)


def test_the_next_test_starts_on_the_machines_clock() -> None:
    """Runs after the test above (file order): its travel did not leak."""
    assert core.clock.travelled() == timedelta(0)


def test_time_never_runs_backwards(clock: Clock) -> None:
    clock.travel(timedelta(hours=1))

    with pytest.raises(ValueError, match="backwards"):
        clock.travel(timedelta(seconds=-1))
    assert core.clock.travelled() == timedelta(hours=1)


def test_outside_tests_the_clock_cannot_travel() -> None:
    """A process without pytest (a server, the worker, the CLI) refuses to move it."""
    script = (
        "from datetime import timedelta\n"
        "import core.clock\n"
        "for move in (lambda: core.clock.travel(timedelta(days=8)), core.clock.reset):\n"
        "    try:\n"
        "        move()\n"
        "    except RuntimeError as error:\n"
        "        print(error)\n"
        "print(core.clock.travelled())\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert done.stdout.splitlines() == [
        "the hub's clock travels only under tests",
        "the hub's clock travels only under tests",
        "0:00:00",
    ]


def _uses_of_the_clock_module(path: Path) -> list[str]:
    """What ``path`` takes from core.clock other than ``utcnow``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "core.clock":
            found += [alias.name for alias in node.names if alias.name != "utcnow"]
        elif isinstance(node, ast.ImportFrom) and node.module == "core":
            found += [alias.name for alias in node.names if alias.name == "clock"]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name == "core.clock"]
    return found


def test_no_production_code_can_move_the_clock() -> None:
    """Outside tests/, core.clock gives only ``utcnow``: no setting, environment variable,
    request or job can reach ``travel`` or ``reset``."""
    offenders = {
        str(path.relative_to(ROOT)): uses
        for package in PRODUCTION
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "core" / "clock.py" and (uses := _uses_of_the_clock_module(path))
    }

    assert offenders == {}
    # ... and the check sees an offender when there is one.
    assert _uses_of_the_clock_module(Path(__file__)) == ["core.clock"]


def test_only_the_fixture_moves_the_clock_in_tests() -> None:
    """Tests travel through the ``clock`` fixture, which always brings the clock back."""
    movers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if any(_moves(node) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
    )

    assert movers == ["tests/conftest.py"]


def _moves(node: ast.AST) -> bool:
    """``core.clock.travel``/``reset``, or either imported from core.clock."""
    if isinstance(node, ast.ImportFrom) and node.module == "core.clock":
        return any(alias.name in ("travel", "reset") for alias in node.names)
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("travel", "reset")
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "clock"
    )
