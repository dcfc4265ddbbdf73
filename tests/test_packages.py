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


def test_every_expected_error_code_is_in_the_schema() -> None:
    """A domain error whose code the GraphQL enum lacks would surface as an internal error."""
    from resolvers.outcome import EXPECTED
    from schema.errors import ErrorCode

    def subclasses(cls: type) -> list[type]:
        return [cls, *(d for sub in cls.__subclasses__() for d in subclasses(sub))]

    import hub.models

    hub.models.import_all_models()
    for module in ("members.consent", "settlement.reconciliation", "members.earning"):
        __import__(module)
    codes = {getattr(cls, "code", None) for base in EXPECTED for cls in subclasses(base)}
    bases = {base.code for base in EXPECTED}  # abstract bases never raised as such
    known = {code.value for code in ErrorCode}
    assert sorted(c for c in codes - bases - known if c) == []
