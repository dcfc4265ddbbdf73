"""``alliance-hub serve --workers N``: one listening socket per worker (SO_REUSEPORT,
hub/serving.py), so kept-alive connections opened in one burst spread over the workers
instead of landing on whichever woke first; an address already in use is refused; a
worker that dies is replaced; SIGTERM stops every worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.serving import serving


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def workers_of(pid: int) -> list[int]:
    """The worker processes: children that listen (multiprocessing adds a resource tracker)."""
    return [child for child in children(pid) if listening_inodes(child)]


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process has just exited
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_table() -> list[tuple[int, int, int]]:
    """(local port, state, inode) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        rows.append((int(fields[1].split(":")[1], 16), int(fields[3], 16), int(fields[9])))
    return rows


LISTEN, ESTABLISHED = 0x0A, 0x01


def listening_inodes(pid: int) -> set[int]:
    mine = socket_inodes(pid)
    return {inode for _, state, inode in tcp_table() if state == LISTEN and inode in mine}


def established(pid: int, port: int) -> int:
    mine = socket_inodes(pid)
    return sum(
        1
        for local, state, inode in tcp_table()
        if local == port and state == ESTABLISHED and inode in mine
    )


def server_pid(port: int) -> int:
    """The supervisor: the process whose command line serves this port."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and str(port).encode() in command:
            return int(entry.name)
    raise LookupError(port)


def test_a_burst_of_kept_alive_connections_spreads_over_both_workers(
    database_url: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "serve.log", args=("--workers", "2")) as base:
        port = int(base.rsplit(":", 1)[1])
        parent = server_pid(port)
        deadline = time.monotonic() + 30
        while len(workers_of(parent)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = workers_of(parent)
        assert len(workers) == 2
        # Each worker listens on a socket of its own; the parent listens on none.
        assert all(len(listening_inodes(worker)) == 1 for worker in workers)
        assert listening_inodes(parent) == set()
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        try:
            for client in clients:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
            for client in clients:
                assert client.recv(4096).startswith(b"HTTP/1.1 200")
            held = [established(worker, port) for worker in workers]
        finally:
            for client in clients:
                client.close()
    # All 32 on one worker has a chance of 2 in 2**32 when the kernel hashes them.
    assert sum(held) == 32
    assert min(held) > 0


def test_an_address_in_use_is_refused_and_a_dead_worker_is_replaced(
    database_url: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "serve.log", args=("--workers", "2")) as base:
        port = int(base.rsplit(":", 1)[1])
        second = subprocess.run(
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HUB_DATABASE_URL": database_url},
        )
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in second.stderr

        parent = server_pid(port)
        deadline = time.monotonic() + 30
        while len(workers_of(parent)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        victim, survivor = workers_of(parent)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = workers_of(parent)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.2)
        assert len(now) == 2
        assert survivor in now
        assert victim not in now
        for _ in range(8):  # new connections: whichever worker takes them answers
            with urllib.request.urlopen(f"{base}/healthz", timeout=10) as reply:
                assert reply.status == 200
        replacement = next(worker for worker in now if worker != survivor)
    # serving() sent SIGTERM to the supervisor and waited: every worker is gone too.
    for pid in (survivor, replacement):
        assert (
            not Path(f"/proc/{pid}").exists()
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        )


def test_pinned_workers_each_keep_to_a_cpu_of_their_own(database_url: str, tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    args = ("--workers", "2", "--pin-workers")
    with serving(database_url, tmp_path / "serve.log", args=args) as base:
        parent = server_pid(int(base.rsplit(":", 1)[1]))
        deadline = time.monotonic() + 30
        while len(workers_of(parent)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        pinned = sorted(os.sched_getaffinity(worker) for worker in workers_of(parent))
        supervisor = os.sched_getaffinity(parent)
    # Round robin over the CPUs the server may use: two CPUs or more give two distinct ones.
    expected = [{cpus[0]}, {cpus[1 % len(cpus)]}]
    assert sorted(pinned, key=min) == sorted(expected, key=min)
    assert supervisor == set(cpus)  # the supervisor itself is not pinned


def test_sighup_replaces_every_worker_one_at_a_time(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "serve.log", args=("--workers", "2")) as base:
        parent = server_pid(int(base.rsplit(":", 1)[1]))
        deadline = time.monotonic() + 30
        while len(workers_of(parent)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        before = set(workers_of(parent))
        os.kill(parent, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = set(workers_of(parent))
            if len(now) == 2 and not now & before:
                break
            time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as reply:
            assert reply.status == 200
        assert Path(f"/proc/{parent}").exists()  # the supervisor lives on
    assert len(now) == 2
    assert not now & before
