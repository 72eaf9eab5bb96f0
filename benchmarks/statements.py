"""Count the statements a piece of code sends to Snowflake, at the connector.

Every statement the product sends (through Snowpark's `session.sql(...)`, the connector's cursors,
`write_pandas`' PUT and COPY) ends in `snowflake.connector.cursor.SnowflakeCursor.execute` or
`executemany`; this module wraps both for the duration of a `with` block and records each call once:
an `executemany` is one statement (the connector's own per-row `execute` calls inside it are not
counted again). Counting is per process and thread-safe; nested `counted_statements()` blocks are
refused, since two patches of one method would count each statement twice.

    from benchmarks.statements import counted_statements
    with counted_statements() as statements:
        run_cycle(session, config, exporter)
    assert len(statements) <= 6, "\\n".join(statements)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()
_active = threading.Lock()


def normalized(command: object) -> str:
    """The statement's text on one line (whitespace runs collapsed), as recorded."""
    return " ".join(str(command).split())


@contextmanager
def counted_statements(timings: list[float] | None = None) -> Iterator[list[str]]:
    """Yield a list that receives, in order, the normalized text of every statement sent through the
    Snowflake connector (any thread of this process) until the block ends; the connector is restored
    afterwards. When `timings` is given, it receives each statement's wall time in seconds at the same
    index (appended when the statement returns or fails). Raises RuntimeError when a counting block is
    already open."""
    from snowflake.connector.cursor import SnowflakeCursor

    if not _active.acquire(blocking=False):
        raise RuntimeError("counted_statements() is already active in this process")
    statements: list[str] = []
    record = threading.Lock()
    execute, executemany = SnowflakeCursor.execute, SnowflakeCursor.executemany

    def counted(method: Any) -> Any:
        def wrapper(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
            depth = getattr(_local, "depth", 0)
            if depth:  # executemany's own execute calls: counted once, as the executemany
                return method(self, command, *args, **kwargs)
            with record:  # one index for the statement and its timing, whatever the threads
                index = len(statements)
                statements.append(normalized(command))
                if timings is not None:
                    timings.append(0.0)
            _local.depth = depth + 1
            started = time.perf_counter()
            try:
                return method(self, command, *args, **kwargs)
            finally:
                _local.depth = depth
                if timings is not None:
                    timings[index] = time.perf_counter() - started

        return wrapper

    SnowflakeCursor.execute = counted(execute)  # type: ignore[method-assign]
    SnowflakeCursor.executemany = counted(executemany)  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        SnowflakeCursor.execute = execute  # type: ignore[method-assign]
        SnowflakeCursor.executemany = executemany  # type: ignore[method-assign]
        _active.release()
