"""The docs run as written: every shell, Python and JavaScript block of README.md and docs/
that is not marked as a fragment (``<!-- fragment … -->`` on the line before its fence) runs,
in order, against a live demo hub on a fresh database, as a reader would: shell blocks
share their variables (as one terminal would), Python and JavaScript blocks see them in the
environment, everything runs in the directory holding ``demo-credentials.json``.

Store-independent: it runs in the SQLite half. It needs ``curl`` and ``jq`` (``make test``
installs them where missing, as root); without them it skips, except under CI=true."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving import ON_CI, free_port
from tests.stores import STORE, TEST_SECRET_KEY

REPOSITORY = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RUNNABLE = {
    "sh": "shell",
    "bash": "shell",
    "shell": "shell",
    "python": "python",
    "py": "python",
    "js": "js",
    "javascript": "js",
}
FENCE = re.compile(r"^```(\S*)\s*$")
FRAGMENT = re.compile(r"^<!--\s*fragment\b.*-->\s*$")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    kind: str
    code: str


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of one Markdown file, in order."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        closing = next(
            (j for j in range(index + 1, len(lines)) if lines[j].startswith("```")), None
        )
        assert closing is not None, f"{path.name}:{index + 1}: an unclosed code block"
        previous = next((lines[j] for j in range(index - 1, -1, -1) if lines[j].strip()), "")
        kind = RUNNABLE.get(opening.group(1).lower())
        if kind is not None and not FRAGMENT.match(previous):
            code = "\n".join(lines[index + 1 : closing])
            found.append(Block(path.name, index + 1, kind, code))
        index = closing + 1
    return found


DOCS = [
    path
    for path in [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]
    if blocks(path)
]


def test_the_guides_have_runnable_blocks() -> None:
    assert {path.name for path in DOCS} >= {
        "partner-quickstart.md",
        "operator-guide.md",
        "member-app.md",
    }


def test_the_extractor_finds_blocks_and_skips_fragments(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n\n```sh\necho one\n```\n\n<!-- fragment: yours -->\n```python\nx()\n```\n"
        "```json\n{}\n```\n```js\nconsole.log(1)\n```\n"
    )

    assert [(b.kind, b.code, b.line) for b in blocks(doc)] == [
        ("shell", "echo one", 3),
        ("js", "console.log(1)", 14),
    ]


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (make test installs them as root)"
        if ON_CI:
            pytest.fail(f"{reason}; CI=true requires the docs test")
        pytest.skip(reason)


def _run(block: Block, workdir: Path, env: dict[str, str], state: Path) -> None:
    where = f"{block.doc}:{block.line}"
    if block.kind == "shell":
        script = textwrap.dedent(
            f"""\
            set -a
            [ -f {state} ] && . {state}
            set -eo pipefail
            {{
            {block.code}
            }}
            set +e
            export -p | grep -v -E '^declare -x (OLDPWD|PWD|SHLVL|_)=' > {state}
            """
        )
        command = ["bash", "-c", script]
    else:
        source = workdir / f"block-{block.line}.{'py' if block.kind == 'python' else 'mjs'}"
        source.write_text(block.code + "\n")
        runner = "python3" if block.kind == "python" else "node"
        command = ["bash", "-c", f'[ -f {state} ] && . {state}; exec {runner} "{source}"']
    result = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, (
        f"{where} ({block.kind}) exited {result.returncode}\n--- block\n{block.code}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_the_doc_runs_as_written(doc: Path, tmp_path: Path) -> None:
    found = blocks(doc)
    if STORE != "sqlite":
        pytest.skip("store-independent; runs in the SQLite half")
    _require("curl", "jq")
    if any(block.kind == "js" for block in found):
        _require("node")
    workdir = tmp_path / "reader"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(VENV_BIN.parent)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "OTEL_"))},
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "HUB": f"http://127.0.0.1:{port}",
        "HUB_DATABASE_URL": f"sqlite:///{workdir / 'alliance.db'}",
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
        "HUB_NOTIFY_OUTBOX": str(workdir / "notifications.jsonl"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cli = [str(VENV_BIN / "alliance-hub")]
    for step in (["migrate"], ["demo", "--port", str(port)]):
        subprocess.run([*cli, *step], cwd=workdir, env=env, check=True, capture_output=True)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
    )
    try:
        _wait_ready(env["HUB"], server)
        state = tmp_path / "shell-state"
        for block in found:
            _run(block, workdir, env, state)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.2)
