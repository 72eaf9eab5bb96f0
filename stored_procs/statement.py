"""A SQL statement as text with `?` placeholders plus its bind values, and the one place that runs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stmt:
    text: str
    params: tuple[Any, ...] = ()


def run(session: Any, stmt: Stmt) -> list[Any]:
    """Execute through Snowpark with qmark binds; returns the result rows."""
    return list(session.sql(stmt.text, params=list(stmt.params) if stmt.params else None).collect())
