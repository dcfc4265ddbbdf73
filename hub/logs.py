"""Logging without secrets: an access log that never prints query strings or headers,
no debug output from authlib (its debug lines include issued tokens), a request id on
every line of a request, and text or JSON lines (``HUB_LOG_FORMAT``)."""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import logging.config
import re
import time
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics

access_log = logging.getLogger("alliance_hub.access")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_ID_HEADER = "x-request-id"
# A caller's id is kept only when it is short and plain (a UUID, a trace id); anything else,
# a newline or a megabyte among them, is replaced by a fresh id rather than logged.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Record attributes the JSON formatter copies when a logger passed them in ``extra``.
JSON_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "client_id",
    "operation_name",
    "error_id",
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def chosen_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if ACCEPTED_REQUEST_ID.fullmatch(text):
                return text
            break
    return new_request_id()


class RequestId:
    """Take ``X-Request-Id`` from the caller (when plain) or make one; return it on the
    response and put it on every log line written while the request runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = chosen_request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id.set(rid)

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = rid
            await send(message)

        try:
            await self.app(scope, receive, echo)
        finally:
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_id`` ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and the access
    log's fields. Newlines in a message stay escaped inside the string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for field in JSON_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__qualname__
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The text line, with any newline in the message escaped so one record is one line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


def log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's logging, in ``log_format``, plus a handler for the hub's own loggers (the
    access log among them), applied in every worker process. Every handler adds the
    request id."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    formatter = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"()": TextFormatter, "format": TEXT_FORMAT}
    )
    config["formatters"] = {"default": formatter, "access": formatter}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["loggers"]["alliance_hub"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def configure_logging(log_format: str) -> None:
    """The same configuration outside a server (the worker)."""
    logging.config.dictConfig(log_config(log_format))
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.getLogger("uvicorn").handlers[0])
        root.setLevel(logging.INFO)


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def quiet_authlib() -> None:
    logger = logging.getLogger("authlib")
    if not any(isinstance(f, _DropDebug) for f in logger.filters):
        logger.addFilter(_DropDebug())
    logger.setLevel(logging.INFO)


class AccessLog:
    """One line per request: method, path, status, duration, client id, operation name and
    error id, e.g. ``POST /graphql 200 12.3ms client=c_1 operation=Award error=-`` (the
    request id is added by the formatter).

    Never the query string (a client might put a secret there), never a header or a body.
    A path the hub does not serve is logged as ``(unknown)``, since anything can be written
    there. The fields are also on the record (``extra``) for structured formatters.
    """

    def __init__(self, app: ASGIApp, paths: Collection[str] = ()) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            seconds = time.perf_counter() - started
            fields = access_fields(scope, self.paths, status, seconds)
            observe(scope, fields, seconds)
            access_log.info(
                "%s %s %d %.1fms client=%s operation=%s error=%s",
                fields["method"],
                fields["path"],
                fields["status"],
                fields["duration_ms"],
                fields["client_id"] or "-",
                fields["operation_name"] or "-",
                fields["error_id"] or "-",
                extra=fields,
            )


def observe(scope: Scope, fields: dict[str, Any], seconds: float) -> None:
    """alliance_hub_requests_total and its latency histogram (core/metrics.py)."""
    state = scope.get("state") or {}
    status = fields["status"]
    kind = state.get("operation_type")
    if kind is None:
        operation, kind = fields["path"], "http"
    else:
        operation = fields["operation_name"] or "(anonymous)"
    if status == 503:
        outcome = "busy"
    elif status >= 500 or fields["error_id"]:
        outcome = "internal"
    elif status >= 400 or state.get("graphql_outcome") == "error":
        outcome = "error"
    else:
        outcome = "ok"
    metrics.observe_request(operation, kind, outcome, seconds)


def access_fields(
    scope: Scope, paths: frozenset[str], status: int, seconds: float
) -> dict[str, Any]:
    state = scope.get("state") or {}
    user = scope.get("user")
    principal = getattr(user, "principal", None)
    path = scope["path"]
    return {
        "method": scope["method"] if scope["method"] in METHODS else "(other)",
        "path": path if path in paths else "(unknown)",
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "client_id": getattr(principal, "client_id", None),
        "operation_name": state.get("operation_name"),
        "error_id": state.get("error_id"),
        "request_id": state.get("request_id") or request_id.get(),
    }
