"""The hub's one clock (core/clock.py): tests travel it forward through the ``clock``
fixture, whose handle ``tests/conftest.py`` arms at startup; nothing else can move it."""

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
    assert core.clock.utcnow() >= moved
    assert clock.travelled() == timedelta(days=8)


def test_the_next_test_starts_on_the_machines_clock(clock: Clock) -> None:
    """Runs after the test above (file order): its travel did not leak."""
    assert clock.travelled() == timedelta(0)


def test_time_never_runs_backwards(clock: Clock) -> None:
    clock.travel(timedelta(hours=1))

    with pytest.raises(ValueError, match="backwards"):
        clock.travel(timedelta(seconds=-1))
    assert clock.travelled() == timedelta(hours=1)


def test_a_process_that_never_armed_the_clock_cannot_move_it() -> None:
    """A server, the worker or the CLI never arms it: arming refuses without pytest, and
    with pytest imported (by some dependency) there is still no module function that
    travels and no module attribute holding the offset: writing one changes nothing (the
    outside attack's F3)."""
    script = (
        "from datetime import UTC, datetime, timedelta\n"
        "import core\n"
        "import core.clock\n"
        "try:\n"
        "    core.clock.arm_for_tests()\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
        "import pytest\n"
        "names = ('travel', 'reset', 'travelled', '_offset')\n"
        "print([name for name in names if hasattr(core.clock, name)])\n"
        "class Offset:\n"
        "    value = timedelta(days=30)\n"
        "core.clock._offset = Offset()\n"
        "from core.db import utcnow\n"
        "print(abs(utcnow() - datetime.now(UTC)) < timedelta(days=1))\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert done.stdout.splitlines() == ["the hub's clock travels only under tests", "[]", "True"]


def test_arming_again_gives_the_one_handle() -> None:
    """The conftest armed at startup; arming again (still only from tests) gives the same
    handle, so no second path moves the clock."""
    from tests import conftest

    assert core.clock.arm_for_tests() is getattr(conftest, "CLOCK")  # noqa: B009


# Names that reach the clock's insides from anywhere: the arming call, the handle's type,
# the factory and the closure cells holding the offset.
INSIDES = {"arm_for_tests", "TestClock", "_the_clock", "__closure__", "cell_contents"}


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def _resolved(node: ast.ImportFrom, package: str) -> str:
    """The absolute module an ``ImportFrom`` in ``package`` names (relative ones too)."""
    if not node.level:
        return node.module or ""
    base = package.split(".") if package else []
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _reaches_into_the_clock(source: str, package: str) -> list[str]:
    """What ``source`` (a module of ``package``) takes from the clock beyond ``utcnow``:
    any import from core.clock but ``utcnow`` (absolute or relative), core.clock as a
    module (``import core.clock``, ``from core import clock``, ``from . import clock`` in
    core), ``core.clock.<anything but utcnow>`` through any name bound to the ``core``
    package, any name or attribute in INSIDES, and any string (not a docstring) naming the
    clock's module or one of INSIDES, as importlib, ``__import__``, ``getattr`` or
    ``sys.modules`` take them."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    core_names = {"core"} | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "core" and alias.asname
    }
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _resolved(node, package)
            names = [alias.name for alias in node.names]
            if module == "core.clock":
                found += [f"from core.clock import {name}" for name in names if name != "utcnow"]
            elif module == "core" and "clock" in names:
                found.append("from core import clock")
            found += [name for name in names if name in INSIDES]
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("core.clock")]
        elif isinstance(node, ast.Attribute):
            after = parents.get(node)
            if node.attr in INSIDES:
                found.append(f".{node.attr}")
            elif (
                node.attr == "clock"
                and isinstance(node.value, ast.Name)
                and node.value.id in core_names
                and not (isinstance(after, ast.Attribute) and after.attr == "utcnow")
            ):
                found.append(f"{node.value.id}.clock")
        elif isinstance(node, ast.Name) and node.id in INSIDES:
            found.append(node.id)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (
                "core.clock" in node.value
                or node.value == "clock"
                or any(inside in node.value for inside in INSIDES)
            )
        ):
            found.append(repr(node.value))
    return found


def test_no_production_code_can_reach_the_clocks_insides() -> None:
    """Outside tests/, core.clock gives only ``utcnow``: no setting, environment variable,
    request or job can arm travel or touch the offset."""
    offenders = {
        str(path.relative_to(ROOT)): uses
        for package in PRODUCTION
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "core" / "clock.py"
        and (uses := _reaches_into_the_clock(path.read_text(encoding="utf-8"), _package_of(path)))
    }

    assert offenders == {}


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("import core\ncore.clock._offset.value = 1\n", "hub"),
        ("import core as c\nc.clock.arm = 1\n", "hub"),
        ("import core.db\nx = core.clock\n", "hub"),
        ("import core.clock\n", "hub"),
        ("import core.clock as when\n", "hub"),
        ("from core import clock\n", "hub"),
        ("from . import clock\n", "core"),
        ("from .clock import arm_for_tests\n", "core"),
        ("from ..clock import TestClock\n", "core.sub"),
        ("from core.clock import _the_clock\n", "hub"),
        ("import importlib\nimportlib.import_module('core.clock')\n", "hub"),
        ("import sys\nsys.modules['core.clock']\n", "hub"),
        ("import core\ngetattr(core, 'clock')\n", "hub"),
        ("__import__('core.clock')\n", "hub"),
        ("from core.db import utcnow\nutcnow.__closure__[0].cell_contents = 1\n", "hub"),
        ("import m\nm.arm_for_tests()\n", "hub"),
    ],
)
def test_the_scan_sees_every_way_in(source: str, package: str) -> None:
    """Each way in the outside attack found (or a neighbour of it) is seen."""
    assert _reaches_into_the_clock(source, package) != []


@pytest.mark.parametrize(
    "source",
    [
        "from core.clock import utcnow\n",
        "from core.clock import utcnow as utcnow\n",
        "from core.db import utcnow\n",
        "import core.db\nnow = core.clock.utcnow()\n",
        '"""A docstring naming core.clock and arm_for_tests."""\n',
        "class W:\n    def run(self):\n        return self.clock()\n",
    ],
)
def test_the_scan_lets_utcnow_through(source: str) -> None:
    assert _reaches_into_the_clock(source, "hub") == []


def test_only_the_conftest_arms_or_holds_the_handle() -> None:
    """Tests travel through the ``clock`` fixture, which always brings the clock back: only
    tests/conftest.py arms the clock or names its handle."""
    holders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if path != Path(__file__) and _holds(path.read_text(encoding="utf-8"))
    )

    assert holders == ["tests/conftest.py"]


def _holds(source: str) -> bool:
    handle = ("arm_for_tests", "CLOCK", "TestClock")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in handle:
            return True
        if isinstance(node, ast.Name) and node.id in handle:
            return True
        if isinstance(node, ast.ImportFrom) and any(a.name in handle for a in node.names):
            return True
    return False
