"""What `aurora-sync run` shows while a cycle runs, from its stage events (`stored_procs.stage_events`).

In a terminal: a live display (rich's Progress), one line per table with its current stage (export,
load: copy, merge) and what the stage moved (rows, bytes), and one line for the cycle's own steps
(prepare, intake, finalize). Otherwise: one log line per finished stage, for a log file (docs/RUNBOOK.md,
"Reading the log lines"):

    2026-11-29T23:01:02Z run=<run id> table=public.orders stage=merge rows=1200 bytes=48213 seconds=0.42 status=ok

`key=value` pairs separated by one space (logfmt); a value holding a space, a quote or `=` is written as a
JSON string; `-` when unknown (rows and bytes of a stage that moves none, the table of a cycle step).
"""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from stored_procs.stage_events import FAILED, FINISHED, OK, StageEvent

CYCLE = "(cycle)"  # the display's line for the steps of the whole cycle


def _value(value: object) -> str:
    text = "-" if value is None else str(value)
    # quoted (JSON escapes) when empty or holding a space, quote, '=' or any character that is not printable
    # (a line break, carriage return or terminal escape in a table name must not forge or split a line)
    return json.dumps(text) if (not text or any(c in ' "=' or not c.isprintable() for c in text)) else text


def log_line(event: StageEvent, at: float | None = None) -> str:
    """One finished stage as a log line (module docstring); `at`: seconds since the epoch (now)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))
    fields: list[tuple[str, object]] = [
        ("run", event.run_id),
        ("table", event.table),
        ("stage", event.stage),
        ("rows", event.rows),
        ("bytes", event.bytes),
        ("seconds", None if event.seconds is None else f"{event.seconds:.3f}"),
        ("status", event.status),
    ]
    if event.detail:
        fields.append(("detail", " ".join(event.detail.split())))
    return stamp + " " + " ".join(f"{key}={_value(value)}" for key, value in fields)


class LogLines:
    """A stage-event sink writing `log_line` for every finished stage to `stream` (stderr), flushed at
    once so that a log shows where a cycle is and where its time went."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: StageEvent) -> None:
        if event.state == FINISHED:
            self.stream.write(log_line(event) + "\n")
            self.stream.flush()

    def cycle(self, run_id: str, seconds: float, failed: int) -> None:
        """The last line: the whole cycle (`stage=cycle`), failed when a table failed."""
        why = f"{failed} table(s) failed: see the summary on stdout" if failed else None
        status = FAILED if failed else OK
        self(StageEvent("cycle", FINISHED, None, None, None, round(seconds, 3), status, why, run_id))


def _moved(stage: str, rows: int | None, size: int | None) -> str:
    unit = "manifest" if stage == "intake" else "row"
    parts = [] if rows is None else [f"{rows:,} {unit}{'' if rows == 1 else 's'}"]
    if size:
        parts.append(decimal(size))
    return ", ".join(parts)


class LiveProgress:
    """A stage-event sink drawing rich's Progress on `console` (stderr, a terminal): a line per table
    (`tables`, `schema.table`) and one for the cycle's steps. Use as a context manager around the cycle."""

    def __init__(self, console: Console, tables: list[str]) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.fields[table]}", style="bold", markup=False),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[moved]}", style="dim"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        for name in [CYCLE, *tables]:
            self.tasks[name] = self.progress.add_task("waiting", total=None, table=name, moved="", start=False)

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.progress.stop()

    def __call__(self, event: StageEvent) -> None:
        name = event.table or CYCLE
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task("", total=None, table=name, moved="")
        task = self.tasks[name]
        if event.state != FINISHED:
            self.progress.start_task(task)
            self.progress.update(task, description=f"{event.stage} …")
            return
        ended = event.stage in {"load", "finalize"}  # a table's last stage; the cycle's last step
        said = event.stage if event.status == OK else f"{event.stage}: {event.status}"
        colour = {"failed": "red", "busy": "yellow"}.get(event.status)
        description = f"[{colour}]{said}[/]" if colour else said
        self.progress.update(task, description=description, moved=_moved(event.stage, event.rows, event.bytes))
        if ended:  # the spinner becomes a tick
            self.progress.update(task, total=1, completed=1)
