"""Progress of a cycle as structured events: which table is in which stage, and how long each took.

A stage of a table (`export`, `copy`, `merge`, `load`) or of the whole cycle (`prepare`, `intake`,
`finalize`: `table` None) starts and finishes; the finished event carries what it moved (rows, bytes)
and its wall time in seconds. The local runner listens (`listening`) and draws a progress display in a
terminal, or writes one log line per finished stage (aurora_sync.progress). Code that runs inside
Snowflake (the Task graph's procedures) has no listener: every call here is then a no-op, sending no
statement and costing nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

STARTED, FINISHED = "started", "finished"
OK, FAILED, BUSY, NO_CHANGE = "ok", "failed", "busy", "no_change"


@dataclass(frozen=True)
class StageEvent:
    """One stage of one table (`table`: `schema.table`) or of the cycle (`table` None) started or finished.

    `rows`, `bytes`: what the stage moved, when known (export: rows and bytes written to S3; intake:
    manifests taken in; copy: rows copied into staging and the bytes of their files; merge: rows merged;
    load: rows loaded). `seconds`: wall time of a finished stage. `status`: ok / failed / busy /
    no_change; `detail`: why, for a failed or busy stage (one line). `run_id`: the cycle's."""

    stage: str
    state: str
    table: str | None = None
    rows: int | None = None
    bytes: int | None = None
    seconds: float | None = None
    status: str = OK
    detail: str | None = None
    run_id: str | None = None


Sink = Callable[[StageEvent], None]
_SINK: ContextVar[Sink | None] = ContextVar("stage_sink", default=None)


@contextmanager
def listening(sink: Sink | None) -> Iterator[None]:
    """Send the events of the code run inside the block to `sink` (None: to nobody)."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def emit(event: StageEvent) -> None:
    if (sink := _SINK.get()) is not None:
        sink(event)


@dataclass
class Stage:
    """A stage under way: set `rows`, `bytes`, `status`, `detail` before the block ends."""

    name: str
    table: str | None
    rows: int | None = None
    bytes: int | None = None
    status: str = OK
    detail: str | None = None
    started: float = field(default_factory=time.monotonic)


@contextmanager
def timed(name: str, table: str | None = None, rows: int | None = None, bytes: int | None = None) -> Iterator[Stage]:
    """The block as one stage: a started event, then a finished one with its seconds (status failed,
    with the error, when the block raises; the error is raised on)."""
    stage = Stage(name, table, rows, bytes)
    if _SINK.get() is None:
        yield stage
        return
    emit(StageEvent(name, STARTED, table))
    try:
        yield stage
    except BaseException as err:  # Ctrl-C has no text of its own: the log line says "interrupted"
        why = "interrupted" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__}: {err}"
        stage.status, stage.detail = FAILED, why
        raise
    finally:
        seconds = round(time.monotonic() - stage.started, 3)
        emit(StageEvent(name, FINISHED, table, stage.rows, stage.bytes, seconds, stage.status, stage.detail))
