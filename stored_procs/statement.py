"""A SQL statement as text with `?` placeholders plus its bind values, and the one place that runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_QUERY_TAG: ContextVar[str | None] = ContextVar("query_tag", default=None)


@dataclass(frozen=True)
class Stmt:
    text: str
    params: tuple[Any, ...] = ()


def literal(value: str) -> str:
    """A Snowflake string literal, for the few places a bind cannot go (DDL: a task's CALL arguments,
    a QUERY_TAG, a COMMENT): backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@contextmanager
def query_tag(**fields: str) -> Iterator[None]:
    """Every statement run inside carries QUERY_TAG {"app": "aurora_sync", **fields}: QUERY_HISTORY
    attributes each statement (and its cost) to a step, a table and a run."""
    token = _QUERY_TAG.set(json.dumps({"app": "aurora_sync", **fields}, sort_keys=True))
    try:
        yield
    finally:
        _QUERY_TAG.reset(token)


def run(session: Any, stmt: Stmt) -> list[Any]:
    """Execute through Snowpark with qmark binds; returns the result rows."""
    frame = session.sql(stmt.text, params=list(stmt.params) if stmt.params else None)
    tag = _QUERY_TAG.get()
    return list(frame.collect(statement_params={"QUERY_TAG": tag}) if tag else frame.collect())
