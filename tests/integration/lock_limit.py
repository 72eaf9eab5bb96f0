"""Snowflake's lock-waiter limit, simulated at the driver boundary for the tests.

Snowflake runs UPDATE, DELETE and MERGE statements on one table one at a time (the "Transactions" page,
resource locking) and aborts a statement that would be one more than 20 waiting for the lock: error
000625, which the connector raises as `ProgrammingError` with errno 625. The emulator has no locks
(DuckDB's concurrent writers conflict instead), so `LockLimit` patches the connector's
`SnowflakeCursor.execute`, shared by every session and thread of the test process: a write to a watched
table takes that table's lock, waiting behind the statements already waiting; when `limit` statements
wait already, it raises the connector's own error 625 instead. Snowpark wraps it as on an account.
`hold_s` keeps each write holding its lock a little longer, so that statements sent at once do queue;
`abort_next` makes the next N writes to a table fail with 625 whatever the queue.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from snowflake.connector.cursor import SnowflakeCursor
from snowflake.connector.errors import ProgrammingError

WRITE = re.compile(r'^\s*(?:UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+((?:"[^"]+"\.)*"[^"]+")', re.IGNORECASE)


@dataclass
class LockLimit:
    watched: set[str]  # fully qualified, quoted table names: '"ANALYTICS"."CTL_3"."LEASES"'
    limit: int = 20
    hold_s: float = 0.0
    guard: threading.Lock = field(default_factory=threading.Lock)
    locks: dict[str, threading.Lock] = field(default_factory=dict)
    waiting: Counter[str] = field(default_factory=Counter)
    most_waiting: Counter[str] = field(default_factory=Counter)  # the longest queue seen, per table
    aborted: Counter[str] = field(default_factory=Counter)  # statements aborted with 625, per table
    writes: Counter[str] = field(default_factory=Counter)  # statements that ran, per table
    to_abort: Counter[str] = field(default_factory=Counter)

    def abort_next(self, table: str, count: int) -> None:
        with self.guard:
            self.to_abort[table] += count

    def _abort(self, table: str, command: str) -> ProgrammingError:
        self.aborted[table] += 1
        return ProgrammingError(
            msg=f"Statement '{command[:40]}...' was aborted because the number of waiters for the lock on "
            f"table {table} exceeds the {self.limit} statements limit.",
            errno=625,
        )

    @contextmanager
    def turn(self, command: str) -> Iterator[None]:
        """Wait for the lock of the table `command` writes, if it is watched; raise 625 past the limit."""
        m = WRITE.match(command)
        table = m[1] if m and m[1] in self.watched else None
        if table is None:
            yield
            return
        with self.guard:
            if self.to_abort[table]:
                self.to_abort[table] -= 1
                raise self._abort(table, command)
            lock = self.locks.setdefault(table, threading.Lock())
            if lock.locked():
                if self.waiting[table] >= self.limit:
                    raise self._abort(table, command)
                self.waiting[table] += 1
                self.most_waiting[table] = max(self.most_waiting[table], self.waiting[table])
                queued = True
            else:
                queued = False
        lock.acquire()
        if queued:
            with self.guard:
                self.waiting[table] -= 1
        try:
            yield
            time.sleep(self.hold_s)
            self.writes[table] += 1
        finally:
            lock.release()


def install(limit: LockLimit, monkeypatch: Any) -> LockLimit:
    """Patch `limit` into the connector for the test (monkeypatch undoes it)."""
    original = SnowflakeCursor.execute

    def execute(self: SnowflakeCursor, command: str, *args: Any, **kwargs: Any) -> Any:
        with limit.turn(command):
            return original(self, command, *args, **kwargs)

    monkeypatch.setattr(SnowflakeCursor, "execute", execute)
    return limit
