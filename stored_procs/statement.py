"""A SQL statement as text with `?` placeholders plus its bind values, and the one place that runs it."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_QUERY_TAG: ContextVar[str | None] = ContextVar("query_tag", default=None)

# Snowflake aborts a statement that would be one more than 20 statements waiting for one table's lock
# (error 000625: "... was aborted because the number of waiters for this lock exceeds the 20 statements
# limit"; "Transactions", resource locking, names the locks UPDATE / DELETE / MERGE take). The connector
# raises it as ProgrammingError with errno 625; Snowpark wraps that in SnowparkSQLException, whose
# `sql_error_code` is the same number.
LOCK_WAITERS_EXCEEDED = 625


@dataclass(frozen=True)
class Stmt:
    text: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class LockRetry:
    """How a statement aborted by the lock-waiter limit is run again: up to `attempts` runs in all,
    waiting a random time in [0, min(cap_s, base_s * 2**n)] before run n+1 ("full jitter": the waiters
    that were aborted together do not come back together)."""

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 20.0

    def delay(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        return draw() * min(self.cap_s, self.base_s * 2.0**retry)


LOCK_RETRY = LockRetry()


def error_number(err: BaseException) -> int | None:
    """Snowflake's error number of a failed statement (the connector's `errno`, or Snowpark's
    `sql_error_code` / the connector error it wraps); None for other exceptions."""
    for candidate in (err, getattr(err, "conn_error", None)):
        for attribute in ("sql_error_code", "errno"):
            number = getattr(candidate, attribute, None)
            if isinstance(number, int) and number > 0:
                return number
    return None


def is_lock_abort(err: BaseException) -> bool:
    """Snowflake aborted the statement because too many statements waited for one table's lock. Read
    from the error number only, never from the message text."""
    return error_number(err) == LOCK_WAITERS_EXCEEDED


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


def run(
    session: Any, stmt: Stmt, retry: LockRetry = LOCK_RETRY, sleep: Callable[[float], None] = time.sleep
) -> list[Any]:
    """Execute through Snowpark with qmark binds; returns the result rows.

    A statement Snowflake aborted for the lock-waiter limit (`is_lock_abort`) is run again after a
    backoff, at most `retry.attempts` times in all; the last abort is raised. Running it again is safe
    for every statement: an aborted statement never ran (it was waiting for the lock), and the product
    opens no explicit transaction (each statement commits on its own, AUTOCOMMIT), so nothing done
    before it is rolled back with it. Any other error is raised at once."""
    tag = _QUERY_TAG.get()
    for attempt in range(retry.attempts):
        frame = session.sql(stmt.text, params=list(stmt.params) if stmt.params else None)
        try:
            return list(frame.collect(statement_params={"QUERY_TAG": tag}) if tag else frame.collect())
        except Exception as err:
            if not is_lock_abort(err) or attempt + 1 >= retry.attempts:
                raise
            sleep(retry.delay(attempt))
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
