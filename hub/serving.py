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
fail the same way again), and passes SIGINT and SIGTERM on for a graceful stop.

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
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # uvicorn.config.STARTUP_FAILURE: the worker never started serving


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


def _worker(options: dict[str, Any], pin: int | None) -> None:
    """One worker process: its own socket, one uvicorn server (uvicorn's own signal
    handling gives the graceful stop); kept on one CPU when ``pin`` gives its index."""
    import uvicorn

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
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts ``workers`` processes running ``_worker(options)`` and keeps them running."""

    def __init__(self, options: dict[str, Any], workers: int, *, pin: bool = False) -> None:
        self.options = {**options, "workers": 1}
        self.workers = workers
        self.pin = pin
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.failed = False

    def _start(self, index: int) -> BaseProcess:
        """Start worker number ``index`` (a replacement keeps the number, and its CPU)."""
        pin = index if self.pin else None
        process = self.context.Process(target=_worker, args=(self.options, pin), daemon=False)
        process.start()
        log.info("Started worker process [%d]", process.pid)
        return process

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping.set()

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
            self.processes[index] = self._start(index)

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit status (3 when a worker failed to start)."""
        if isinstance(self.options.get("log_config"), dict):
            logging.config.dictConfig(self.options["log_config"])
        log.info("Started parent process [%d]", os.getpid())
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.processes = [self._start(index) for index in range(self.workers)]
            while not self.stopping.wait(0.5):
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
