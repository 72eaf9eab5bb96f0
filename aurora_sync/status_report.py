"""What `aurora-sync status` prints: one line per table, why for the tables that need a word, and with
`--history N` the last runs. It fits the console's width (80 columns when stdout is not a terminal): the
reason (the last error, shortened) is a column only when it has room, else wrapped lines under the
table; a long table name folds; when even that does not fit, the least useful columns go. Every value
(a table name, an error) is printed as text, never read as rich markup (`[red]`, `[/x]`)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aurora_sync.status import TableStatus

NARROW = 80  # the width when stdout is not a terminal
GAP = 2  # spaces between columns
MIN_NAME = 12  # the table name column is at least this wide (a longer name folds onto more lines)
MIN_WHY = 30  # the reason is a column only when at least this much room is left for it
ERROR_CHARS = 240  # a reason is cut to this many characters (its first line), "…" marking the cut
_STYLE = {
    "FAILED": "bold red",
    "QUARANTINED": "bold yellow",
    "BUSY": "cyan",
    "WAITING": "cyan",
    "NEVER_RUN": "dim",
    "SUCCEEDED": "green",
    "NO_CHANGE": "green",
}


def shorten(text: str | None, limit: int = ERROR_CHARS) -> str:
    """The first line of `text`, at most `limit` characters."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def fit_words(text: str, width: int) -> str:
    """`text` with every word (a run without spaces, e.g. an S3 key) longer than `width` shortened in its
    middle to `width` characters, "…" marking the cut, so that a wrapped line breaks between words and
    never inside a key; the head (bucket, prefix) and the tail (export id, file) stay whole. The full
    text is in `status --json`."""
    if width < 9:
        return text
    head = (width - 1) // 2
    tail = width - 1 - head
    return " ".join(w if cell_len(w) <= width else f"{w[:head]}…{w[len(w) - tail :]}" for w in text.split(" "))


def reason(t: TableStatus) -> str | None:
    """Why a table is in its state, when it is not plainly fine: the last run's error when FAILED; what is
    quarantined; who holds a BUSY table; what a WAITING one waits for."""
    if t.state == "FAILED":
        return t.last_run_error or "failed (no error recorded)"
    parts = []
    if t.state == "QUARANTINED":
        if t.quarantined_manifests:
            parts.append(f"{t.quarantined_manifests} manifest(s) quarantined: retry or discard (RUNBOOK)")
        if t.rows_set_aside_last_run:
            parts.append(f"{t.rows_set_aside_last_run} row(s) set aside by the last run (QUARANTINED_ROWS)")
    if t.state == "BUSY" and t.busy:
        parts.append(f"another run is loading it: lease {t.busy} UTC")
    if t.state in {"WAITING", "BUSY"}:
        if waiting := t.pending_manifests + t.failed_manifests:
            parts.append(f"{waiting} manifest(s) to load")
        if t.open_export_requests:
            parts.append("export requested, no answer yet")
    return "; ".join(parts) or None


def _when(iso_text: str | None) -> str:
    """`YYYY-MM-DD HH:MM` of an ISO text (`status.iso`), '-' for none."""
    return "-" if not iso_text else iso_text.replace("T", " ")[:16]


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@dataclass
class _Column:
    header: str
    cells: list[str]
    right: bool = False

    @property
    def natural(self) -> int:
        return max(cell_len(c) for c in [self.header, *self.cells])


def _fit(
    name: _Column, columns: list[_Column], droppable: tuple[str, ...], why: _Column, width: int
) -> tuple[list[_Column], bool]:
    """The columns that fit `width` beside the table name (at least `MIN_NAME` wide, folded), dropping
    those named in `droppable` in that order while they do not, and whether the `why` column fits too
    (at least `MIN_WHY` wide; else the reasons go under the table)."""
    kept = list(columns)
    for header in droppable:
        if sum(c.natural + GAP for c in kept) + MIN_NAME <= width:
            break
        kept = [c for c in kept if c.header != header]
    rest = width - sum(c.natural + GAP for c in kept) - name.natural - GAP
    return kept, any(why.cells) and rest >= MIN_WHY


def _grid(name: _Column, columns: list[_Column], why: _Column | None, width: int, styles: list[str]) -> Table:
    """A borderless table exactly `width` columns wide at most: the name folded in what the others leave."""
    grid = Table(box=None, pad_edge=False, padding=(0, GAP, 0, 0), header_style="bold", show_edge=False)
    fixed = sum(c.natural + GAP for c in columns)
    name_width = max(MIN_NAME, min(name.natural, width - fixed - (MIN_WHY + GAP if why else 0)))
    grid.add_column(name.header, width=name_width, overflow="fold")
    for c in columns:
        grid.add_column(c.header, width=c.natural, justify="right" if c.right else "left", no_wrap=True)
    if why is not None:
        grid.add_column(why.header, width=width - fixed - name_width - GAP, overflow="ellipsis", no_wrap=True)
    for i, table in enumerate(name.cells):  # every cell a Text: data is never read as rich markup
        cells = [Text(table)]
        for c in columns:
            cells.append(Text(c.cells[i], style=styles[i] if c.header in {"state", "status"} else ""))
        if why is not None:
            cells.append(Text(why.cells[i]))
        grid.add_row(*cells)
    return grid


def status_table(tables: list[TableStatus], width: int) -> list[Any]:
    """The renderables: one line per table, and the reasons as wrapped lines under it when no column for
    them fits. Columns dropped first when narrow: lag, quarantined rows, pending manifests."""
    name = _Column("table", [t.table for t in tables])
    columns = [
        _Column("state", [t.state for t in tables]),
        _Column("last run UTC", [_when(t.last_run_at) for t in tables]),
        _Column("rows", [_num(t.rows_last_run) for t in tables], right=True),
        _Column("lag m", [_num(t.lag_minutes) for t in tables], right=True),
        _Column("quar", [_num(t.quarantined_rows) for t in tables], right=True),
        _Column("pend", [_num(t.pending_manifests + t.failed_manifests) for t in tables], right=True),
    ]
    why = _Column("why / last error", [shorten(reason(t)) for t in tables])
    kept, in_column = _fit(name, columns, ("lag m", "quar", "pend", "rows"), why, width)
    styles = [_STYLE.get(t.state, "") for t in tables]
    out: list[Any] = [_grid(name, kept, why if in_column else None, width, styles)]
    if not in_column:
        for t, text, style in zip(tables, why.cells, styles, strict=True):
            if text:
                out.append(Text(fit_words(f"{t.table} {t.state}: {text}", width), style=style))
    return out


def history_table(tables: list[TableStatus], width: int) -> list[Any]:
    """The last runs of each table (newest first), and failed runs' errors as lines under it when no
    column for them fits."""
    runs = [(t.table, r) for t in tables for r in t.history]
    name = _Column("table", [table for table, _ in runs])
    seconds = ["-" if r["duration_s"] is None else f"{r['duration_s']:.1f}" for _, r in runs]
    columns = [
        _Column("finished UTC", [_when(r["finished_at"]) for _, r in runs]),
        _Column("status", [str(r["status"]) for _, r in runs]),
        _Column("rows", [_num(r["rows_loaded"]) for _, r in runs], right=True),
        _Column("aside", [_num(r["rows_quarantined"]) for _, r in runs], right=True),
        _Column("lag m", [_num(r["lag_minutes"]) for _, r in runs], right=True),
        _Column("secs", seconds, right=True),
    ]
    why = _Column("error", [shorten(r["error"]) for _, r in runs])
    kept, in_column = _fit(name, columns, ("secs", "lag m", "aside", "rows"), why, width)
    styles = [_STYLE.get(str(r["status"]), "") for _, r in runs]
    out: list[Any] = [Text("last runs", style="bold"), _grid(name, kept, why if in_column else None, width, styles)]
    if not in_column:
        for (table, r), text in zip(runs, why.cells, strict=True):
            if text:
                out.append(Text(fit_words(f"{table} at {_when(r['finished_at'])}: {text}", width), style="red"))
    return out


def render(tables: list[TableStatus], width: int, history: bool = False) -> str:
    """The text `print_status` prints at `width` columns, without styles (for tests and logs)."""
    buffer = io.StringIO()
    print_status(Console(file=buffer, width=width, color_system=None, force_terminal=False), tables, history)
    return buffer.getvalue()


def print_status(console: Console, tables: list[TableStatus], history: bool = False) -> None:
    """Print the status at the console's width (the CLI gives it `COLUMNS`, else 80, when stdout is not a
    terminal: `aurora_sync.cli.redirected_width`)."""
    for renderable in status_table(tables, console.width):
        console.print(renderable)
    if history:
        console.print()
        for renderable in history_table(tables, console.width):
            console.print(renderable)


def as_json(tables: list[TableStatus]) -> str:
    """`--json`: an array of `TableStatus.to_dict` objects, in sync.toml's order."""
    return json.dumps([t.to_dict() for t in tables], indent=2)
