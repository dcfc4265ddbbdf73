"""Run ``alliance-hub serve`` as a real process on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stores import STORE, TEST_SECRET_KEY

TOOLS = Path(__file__).resolve().parents[1] / "tools"
ON_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(
    database_url: str,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    *,
    args: tuple[str, ...] = (),
    issuer: bool = True,
    ready: str = "/healthz",
) -> Iterator[str]:
    """Yield the base URL of a hub serving ``database_url`` once ``ready`` answers; stop it
    afterwards. Its output goes to ``log`` when given; ``env`` adds settings and ``args``
    options of ``serve``. Without ``issuer`` the hub names its issuer itself (development:
    the address it serves). A metrics directory of the caller's is never inherited."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if not issuer:
        inherited.pop("HUB_ISSUER", None)
    env = {
        **inherited,
        "HUB_DATABASE_URL": database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
        **({"HUB_ISSUER": base} if issuer else {}),
        **(env or {}),
    }
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), *args],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}{ready}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        if log is not None:
            output.close()  # type: ignore[union-attr]


def require_node_tools(*packages: str) -> str:
    """Node, with tools/node_modules holding ``packages``. Store-independent checks run in
    the SQLite half; without Node they skip, except under CI=true where that is a failure."""
    if STORE != "sqlite":
        pytest.skip("store-independent; runs in the SQLite half")
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    else:
        absent = [p for p in packages if not (TOOLS / "node_modules" / p).exists()]
        if absent:
            missing = (
                f"tools/node_modules lacks {', '.join(absent)}: run `make tools` (npm ci in tools/)"
            )
    if missing:
        if ON_CI:
            pytest.fail(f"{missing}; CI=true requires the conformance checks")
        pytest.skip(missing)
    assert node is not None
    return node


@contextlib.contextmanager
def running(command: list[str], ready: str, *, cwd: Path | None = None) -> Iterator[None]:
    """Run ``command`` until the context exits; ready once GET ``ready`` answers 200."""
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(ready, timeout=2):
                        break
                except OSError as error:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"{command[1]} did not start: {log.read()}") from error
                    time.sleep(0.2)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
