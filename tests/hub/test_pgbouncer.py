"""The hub through PgBouncer in transaction-pooling mode, as operators scale it out
(docs/operations.md): with the prepared-statement caches off (statement_cache_size=0)
the hot-member race gives exactly the affordable successes and a clean ledger.

Uses Debian's ``pgbouncer`` (``make tools`` installs it); the test starts its own on a
free port with its own configuration. Missing, it skips, and fails under CI=true."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.db import Database
from ledger.errors import InsufficientPoints
from tests.ledger.world import World
from tests.serving import free_port
from tests.stores import POSTGRES_ADMIN_URL, STORE

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(STORE != "postgresql", reason="PgBouncer pools PostgreSQL"),
]


def _pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        reason = "pgbouncer is not installed (make tools installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[int]:
    """A PgBouncer in transaction-pooling mode in front of the test PostgreSQL; its port."""
    binary = _pgbouncer_binary()
    upstream = make_url(POSTGRES_ADMIN_URL)
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="alliance-hub-pgbouncer-"))
    (workdir / "userlist.txt").write_text(f'"{upstream.username}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={upstream.host} port={upstream.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/userlist.txt
pool_mode = transaction
max_client_conn = 100
default_pool_size = 8
ignore_startup_parameters = extra_float_digits
"""
    )
    workdir.chmod(0o755)
    for file in workdir.iterdir():
        file.chmod(0o644)
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []  # it refuses to run as root
    log = (workdir / "pgbouncer.log").open("wb")
    process = subprocess.Popen(
        [binary, *as_user, str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = (workdir / "pgbouncer.log").read_text()
                    pytest.fail(f"pgbouncer did not start: {error[-500:]}")
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def pooled(database_url: str, pgbouncer: int) -> AsyncIterator[Database]:
    url = make_url(database_url).set(host="127.0.0.1", port=pgbouncer)
    database = Database(
        url.render_as_string(hide_password=False),
        pool_size=20,
        max_overflow=0,
        statement_cache_size=0,
    )
    yield database
    await database.dispose()


async def test_the_hot_member_race_through_pgbouncer_in_transaction_mode(
    pooled: Database, now: object
) -> None:
    world = await World(pooled, now).open(members=(1,))  # type: ignore[arg-type]
    for _ in range(3):
        await world.earn(1, 10, 10)  # 30 points

    outcomes = await asyncio.gather(
        *(world.redeem(1, 30, 1) for _ in range(100)), return_exceptions=True
    )

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(outcomes) - len(failures) == 30
    assert all(isinstance(o, InsufficientPoints) for o in failures), failures[:3]
    assert await world.balance("member:1") == 0
    assert (await world.verify()).clean
