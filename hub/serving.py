"""Serving with several workers: one listening socket per worker (``SO_REUSEPORT``).

uvicorn's own ``--workers`` binds one socket in the parent and shares it: every worker's
event loop wakes on a new connection, and the first to run accepts all that are queued
(asyncio accepts up to the backlog per wake-up). Clients that keep their connections
alive (gateways, load generators, partners' pools) then stay where that first burst
landed: measured with 32 kept-alive clients against 2 workers, whole rounds ran on one
worker while the other idled (docs/performance.md, "Two workers").

Here each worker binds its own socket to the same address with ``SO_REUSEPORT``, and the
kernel spreads new connections over the workers by a hash of each connection's
addresses. The parent only supervises: it refuses an address that something already
listens on (``SO_REUSEPORT`` would otherwise quietly share it with another server of
the same user), starts the workers, replaces a worker that dies after it started,
stops when a worker fails at startup (the app or its settings are broken, and would
fail the same way again), passes SIGINT and SIGTERM on for a graceful stop, and on
SIGHUP replaces the workers one at a time, each new one serving before the old one
stops (as uvicorn's own supervisor does).

``serve --pin-workers`` keeps worker i on the i-th CPU the server may use (round robin):
on a host whose cores the hub shares with PostgreSQL, a worker that the scheduler moves
between cores finds its caches cold after every move (docs/performance.md, "Two
workers", has the measurements, which are mixed).
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

log = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # uvicorn.config.STARTUP_FAILURE: the worker never started serving
READY_TIMEOUT_SECONDS = 60.0  # a replacement started by SIGHUP must serve within this
RESTART_PAUSE_SECONDS = 1.0  # at least this long between two starts of one worker


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_free(host: str, port: int) -> None:
    """Raise ``OSError`` when something already listens on host:port."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    finally:
        probe.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def pin_to_cpu(index: int) -> int:
    """Keep this process on one CPU: the ``index``-th (round robin) of those it may use.
    Returns the CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[index % len(cpus)]
    os.sched_setaffinity(0, {cpu})
    return cpu


def _worker(options: dict[str, Any], pin: int | None, ready: Event) -> None:
    """One worker process: its own socket, one uvicorn server (uvicorn's own signal
    handling gives the graceful stop); kept on one CPU when ``pin`` gives its index;
    ``ready`` is set once it serves."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                ready.set()

    if pin is not None:
        pin_to_cpu(pin)
    config = uvicorn.Config(**options)  # configures logging for this process
    try:
        sock = _listening_socket(config.host, config.port)
    except OSError as error:
        log.error(
            "worker %d cannot listen on %s:%d: %s", os.getpid(), config.host, config.port, error
        )
        raise SystemExit(STARTUP_FAILURE) from None
    Server(config).run(sockets=[sock])


class Supervisor:
    """Starts ``workers`` processes running ``_worker(options)`` and keeps them running."""

    def __init__(self, options: dict[str, Any], workers: int, *, pin: bool = False) -> None:
        self.options = {**options, "workers": 1}
        self.workers = workers
        self.pin = pin
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.reloading = threading.Event()
        self.failed = False
        self.events: dict[BaseProcess, Event] = {}
        self.started_at: dict[int, float] = {}

    def _start(self, index: int) -> tuple[BaseProcess, Event]:
        """Start worker number ``index`` (a replacement keeps the number, and its CPU);
        the process and the event it sets once it serves."""
        pin = index if self.pin else None
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker, args=(self.options, pin, ready), daemon=False
        )
        process.start()
        # Kept until the process is replaced: a collected event unlinks its semaphore,
        # which the child may not have opened yet.
        self.events[process] = ready
        self.started_at[index] = time.monotonic()
        log.info("Started worker process [%d]", process.pid)
        return process, ready

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            self.reloading.set()
        else:
            self.stopping.set()

    def _ready(self, process: BaseProcess, ready: Event) -> bool:
        """Wait until a new worker serves; False when it exits or does not in time."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self.stopping.is_set():
            if ready.wait(0.2):
                return True
            if not process.is_alive():
                return False
        return False

    def _restart_all(self) -> None:
        """SIGHUP: replace the workers one at a time, each new one serving before its
        predecessor stops (code or settings changed on disk are picked up)."""
        log.info("Restarting the workers one at a time")
        for index, old in enumerate(self.processes):
            new, ready = self._start(index)
            if not self._ready(new, ready):
                if new.is_alive() and new.pid is not None:
                    os.kill(new.pid, signal.SIGTERM)
                new.join()
                self.events.pop(new, None)
                log.error(
                    "Worker process [%d] did not start serving; keeping [%d] and the rest",
                    new.pid,
                    old.pid,
                )
                return
            if old.is_alive() and old.pid is not None:
                os.kill(old.pid, signal.SIGTERM)
            old.join()
            self.events.pop(old, None)
            self.processes[index] = new

    def _watch(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive() or self.stopping.is_set():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Worker process [%d] failed to start; stopping", process.pid)
                self.failed = True
                self.stopping.set()
                return
            log.info("Worker process [%d] died (exit code %s)", process.pid, process.exitcode)
            self.events.pop(process, None)
            # A worker that keeps dying is restarted at most once a second, not in a loop.
            pause = self.started_at.get(index, 0.0) + RESTART_PAUSE_SECONDS - time.monotonic()
            if pause > 0 and self.stopping.wait(pause):
                return
            self.processes[index] = self._start(index)[0]

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit status (3 when a worker failed to start)."""
        if isinstance(self.options.get("log_config"), dict):
            logging.config.dictConfig(self.options["log_config"])
        log.info("Started parent process [%d]", os.getpid())
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            self.processes = [self._start(index)[0] for index in range(self.workers)]
            while not self.stopping.wait(0.5):
                if self.reloading.is_set():
                    self.reloading.clear()
                    self._restart_all()
                self._watch()
        finally:
            for process in self.processes:
                if process.is_alive() and process.pid is not None:
                    os.kill(process.pid, signal.SIGTERM)
            for process in self.processes:
                process.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("Stopping parent process [%d]", os.getpid())
        return STARTUP_FAILURE if self.failed else 0
