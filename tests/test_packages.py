import ast
import importlib
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
FIRST_PARTY = [
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


# Layers point one way (architecture.md): hub -> schema -> resolvers -> domain services
# -> compliance, ledger -> core. Each package may import only the layers below it.
FORBIDDEN_IMPORTS = {
    "core": {
        "hub",
        "schema",
        "resolvers",
        "members",
        "partners",
        "settlement",
        "compliance",
        "ledger",
        "events",
        "webhooks",
    },
    # The outbox sits just above the ground floor: every domain package may write events.
    "events": {
        "hub",
        "schema",
        "resolvers",
        "members",
        "partners",
        "settlement",
        "compliance",
        "ledger",
        "webhooks",
    },
    "ledger": {"hub", "schema", "resolvers", "members", "partners", "settlement", "webhooks"},
    "compliance": {"hub", "schema", "resolvers", "members", "partners", "settlement", "webhooks"},
    "members": {"hub", "schema", "resolvers", "webhooks"},
    "partners": {"hub", "schema", "resolvers", "webhooks"},
    "settlement": {"hub", "schema", "resolvers", "webhooks"},
    # Webhooks deliver what the domain services wrote; nothing below depends on them.
    "webhooks": {"hub", "schema", "resolvers"},
    "resolvers": {"hub", "schema"},
    "schema": {"hub"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_imports_point_downward(package: str) -> None:
    upward = {
        f"{path.relative_to(REPOSITORY)} imports {name}"
        for path in (REPOSITORY / package).rglob("*.py")
        for name in _imported_packages(path) & FORBIDDEN_IMPORTS[package]
    }

    assert sorted(upward) == []
