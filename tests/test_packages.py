import importlib
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
FIRST_PARTY = [
    "hub",
    "schema",
    "resolvers",
    "partners",
    "members",
    "ledger",
    "compliance",
    "settlement",
    "migrations",
]


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_top_level_package_is_the_repositorys_own(name: str) -> None:
    """PyPI has packages named ``schema`` and ``ledger``; ours must win."""
    module = importlib.import_module(name)

    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPOSITORY / name


def test_no_float_appears_in_the_ledger_package() -> None:
    sources = {path.name: path.read_text() for path in (REPOSITORY / "ledger").glob("*.py")}

    assert [name for name, text in sources.items() if "float" in text] == []


def test_only_the_ledger_writes_ledger_rows() -> None:
    writers = []
    for path in REPOSITORY.rglob("*.py"):
        parts = path.relative_to(REPOSITORY).parts
        if parts[0] in {"ledger", "tests", "migrations", "bench", ".venv"}:
            continue
        if "ledger.repository" in path.read_text() or "ledger_transfers" in path.read_text():
            writers.append(str(path.relative_to(REPOSITORY)))

    assert writers == []
