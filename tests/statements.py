"""Count the SQL statements a piece of work sends, on either store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event

from core.db import Database


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def counting_statements(database: Database, *, peeks: bool = False) -> Iterator[StatementLog]:
    """The statements sent through the engines; with ``peeks``, also ``Database.peek``'s
    on SQLite (its own raw connection, which the engines do not see; on PostgreSQL a peek
    goes through the engine and is counted anyway)."""
    log = StatementLog()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SELECT 1")):
            log.statements.append(statement)

    engines = database.engines()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    original = database.peek
    if peeks and database.dialect == "sqlite":

        async def peek(sql: str, params: Any = None) -> tuple[Any, ...]:
            log.statements.append(sql)
            return await original(sql, params)

        database.peek = peek  # type: ignore[method-assign]
    try:
        yield log
    finally:
        database.peek = original  # type: ignore[method-assign]
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
