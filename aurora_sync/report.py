"""What the CLI prints: a per-table cycle summary and a reconciliation, as rich tables."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from aurora_sync.cycle import CycleReport, TableReport
from aurora_sync.reconcile import TableReconciliation


def _short(value: str | None, width: int = 26) -> str:
    if value is None:
        return "-"
    return value if len(value) <= width else value[: width - 1] + "…"


WIDE = 120  # columns from which the summary shows every count and both watermarks


def print_cycle(console: Console, report: CycleReport, title: str) -> None:
    """The cycle's summary: a row per table, then its errors and notes, each line within the console's
    width. From `WIDE` columns: every count and both watermarks; narrower (an 80-column terminal): the
    counts in one column (`+inserted ~updated -deleted`) and the watermark after the cycle, wrapped."""
    narrow = console.width < WIDE
    heading = f"{title} ({report.run_id}, {report.duration_s:.1f}s)"
    table = Table(title=heading, title_justify="left", box=box.HEAVY_HEAD)
    if narrow:  # no side borders, one space between columns: a timestamp watermark folds at its space
        table = Table(title=heading, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    columns = NARROW_COLUMNS if narrow else WIDE_COLUMNS
    for col in columns:
        right = col in {"exported", "loaded", "inserted", "updated", "deleted", "changes", "duration"}
        fold = col in {"table", "watermark", "watermark before", "watermark after"}
        table.add_column(
            col,
            justify="right" if right else "left",
            overflow="fold" if fold else "ellipsis",
            no_wrap=not fold,
            min_width={"table": min(_longest(report), 32), "watermark": 18}.get(col),
        )
    for t in report.tables:
        load = t.load or {}
        status = "FAILED" if t.failed else load.get("status", "-")
        style = "red" if t.failed else {"SUCCEEDED": "green", "BUSY": "yellow"}.get(status, "dim")
        counts = [str(load.get(k, 0)) for k in ("rows_inserted", "rows_updated", "rows_deleted")]
        cells = {
            "table": t.spec.source,
            "status": f"[{style}]{status}[/]",
            "exported": str((t.export or {}).get("rows", 0)),
            "loaded": str(load.get("rows_loaded", 0)),
            "inserted": counts[0],
            "updated": counts[1],
            "deleted": counts[2],
            "changes": f"+{counts[0]} ~{counts[1]} -{counts[2]}",
            "watermark before": _short(load.get("watermark_before")),
            "watermark after": _short(load.get("watermark_after")),
            "watermark": load.get("watermark_after") or "-",
            "duration": f"{load.get('duration_s', 0):.2f}s",
        }
        table.add_row(*(escape(cells[c]) if c in {"table", "watermark"} else cells[c] for c in columns))
    console.print(table)
    for t in report.tables:
        name = escape(t.spec.source)
        for error in _errors(t):
            console.print(f"[red]{name}: {escape(error)}[/]")
        if note := (t.load or {}).get("notes"):  # rows set aside, backfills, renames, batches waiting, BUSY
            console.print(f"[yellow]{name}: {escape(note)}[/]")
        if note := export_note(t.export):
            console.print(f"[dim]{name}: {escape(note)}[/]")
    for refused in report.quarantined:  # never loaded: see RUNBOOK, "A manifest refused for its signature"
        said = f"manifest quarantined at intake as {refused['export_id']}: {refused['error']}"
        console.print(f"[yellow]{escape(said)}[/]")


WIDE_COLUMNS = (
    "table",
    "status",
    "exported",
    "loaded",
    "inserted",
    "updated",
    "deleted",
    "watermark before",
    "watermark after",
    "duration",
)
NARROW_COLUMNS = ("table", "status", "loaded", "changes", "watermark")  # seconds: in the progress log lines


def _longest(report: CycleReport) -> int:
    return max((len(t.spec.source) for t in report.tables), default=5)


def export_note(export: dict[str, Any] | None) -> str | None:
    """How the export went, when it is worth a line: a fan-out through several invocations; a full-mode
    table found unchanged by its change token (no row read) or by a fingerprint (every row read)."""
    export = export or {}
    if int(export.get("invocations") or 0) > 1:
        return f"exported through {export['invocations']} exporter invocations ({export.get('chunks')} parts: fan-out)"
    if export.get("checked_by") == "change token":
        return "full mode: no change by the source's change counters; no row read"
    if export.get("checked_by") == "fingerprint" and export.get("status") == "no_change":
        return "full mode: no change, found by fingerprinting every row (see CONFIGURATION.md, mode)"
    return None


def _errors(t: TableReport) -> list[str]:
    """The table's errors, each once: a failed export is in the report and again in the LOAD's error
    (RUNS.ERROR, where `stored_procs.orchestration.export_check` puts it), joined by '; '."""
    rest = (t.load.get("error") if t.load else None) or ""
    for error in t.errors:
        rest = rest.replace(error, "")
    while "; ; " in rest:
        rest = rest.replace("; ; ", "; ")
    return [*t.errors, *([rest.strip("; ")] if rest.strip("; ") else [])]


_VERDICT_STYLE = {"match": "green", "MISMATCH": "bold red", "FAILED": "bold red"}


def _verdicts(
    console: Console,
    title: str,
    names: list[str],
    counts: list[tuple[str, list[str]]],
    verdicts: list[str],
    droppable: tuple[str, ...],
) -> None:
    """A reconciliation's table fitted to the console's width as `aurora-sync status` fits its own
    (aurora_sync.status_report: borderless, a table name that does not fit folds onto more lines, never
    cut). The `droppable` columns go first, in that order, while the longest name would fold.
    `counts`: (header, cells) right-aligned; the last column, `status`, is the verdict (match, MISMATCH,
    FAILED)."""
    from aurora_sync.status_report import GAP, _Column, _grid

    name = _Column("table", names)
    kept = [*(_Column(h, cells, right=True) for h, cells in counts), _Column("status", verdicts)]
    for header in droppable:
        if sum(c.natural + GAP for c in kept) + name.natural <= console.width:
            break
        kept = [c for c in kept if c.header != header]
    console.print(Text(title, style="bold"))
    console.print(_grid(name, kept, None, console.width, [_VERDICT_STYLE.get(v, "") for v in verdicts]))


def print_reconciliation(console: Console, results: list[TableReconciliation]) -> None:
    counts = [
        ("source", [str(r.source_rows) for r in results]),
        ("target", [str(r.target_rows) for r in results]),
        ("missing", [str(len(r.missing)) for r in results]),
        ("extra", [str(len(r.extra)) for r in results]),
        ("different", [str(len(r.different)) for r in results]),
        ("dup keys", [str(r.duplicate_keys) for r in results]),
    ]
    _verdicts(
        console,
        "reconciliation, every row: source vs target (rows, then keys missing, extra, with different values)",
        [r.spec.source for r in results],
        counts,
        ["match" if r.clean else "MISMATCH" for r in results],
        ("dup keys",),
    )
    for r in results:
        if r.error:
            console.print(Text(f"{r.spec.source}: {r.error}", style="red"))
        if r.compared_by_presence:
            console.print(
                Text(
                    f"{r.spec.source}: {', '.join(r.compared_by_presence)} compared by presence only (NULL or not): "
                    "the target holds them transformed"
                )
            )
        for key in r.missing[:5]:
            console.print(
                Text(f"{r.spec.source}: ({r.describe_key(key)}) is in the source, not in the target", style="red")
            )
        for key in r.extra[:5]:
            console.print(
                Text(f"{r.spec.source}: ({r.describe_key(key)}) is in the target, not in the source", style="red")
            )
        for key, cols in r.different[:5]:
            console.print(Text(f"{r.spec.source}: ({r.describe_key(key)}) differs in {', '.join(cols)}", style="red"))
        if r.source_duplicate_keys:
            console.print(
                Text(
                    f"{r.spec.source}: {r.source_duplicate_keys} rows share their primary key with another source "
                    "row: the configured primary key is not unique in the source, and the target keeps one row per key",
                    style="red",
                )
            )


def print_bucket_reconciliation(console: Console, reports: list[dict[str, Any]]) -> None:
    """RECONCILE_TABLE's reports: fingerprints by key-hash bucket, then keys in the buckets that differ."""
    cells = (
        ("source", "source_rows"),
        ("target", "target_rows"),
        ("missing", "missing"),
        ("extra", "extra"),
        ("different", "different"),
        ("buckets", "buckets"),
        ("differing", "differing_buckets"),
    )
    _verdicts(
        console,
        "reconciliation by bucket fingerprints: source vs target (rows, then keys missing, extra, with "
        "different values; buckets compared, differing)",
        [f"{r['source_schema']}.{r['source_table']}" for r in reports],
        [(header, [str(r.get(key, "")) for r in reports]) for header, key in cells],
        [{"CLEAN": "match", "DIFFERENT": "MISMATCH"}.get(r["status"], "FAILED") for r in reports],
        ("differing", "buckets"),
    )
    for r in reports:
        name = f"{r['source_schema']}.{r['source_table']}"
        if r.get("error"):
            console.print(Text(f"{name}: {r['error']}", style="red"))
        details = r.get("details") or {}
        for kind, words in (
            ("missing_keys", "in the source, not in the target"),
            ("extra_keys", "in the target, not in the source"),
            ("different_keys", "in both, with other values"),
        ):
            for key in details.get(kind, [])[:5]:
                described = ", ".join(f"{c}={v}" for c, v in zip(details["key_columns"], key, strict=True))
                console.print(Text(f"{name}: ({described}) is {words}", style="red"))
        for key in details.get("duplicate_source_keys", [])[:5]:
            described = ", ".join(f"{c}={v}" for c, v in zip(details["key_columns"], key, strict=False))
            console.print(Text(f"{name}: ({described}) is held by {key[-1]} rows in the source", style="red"))
        if details.get("explanation"):
            console.print(Text(f"{name}: {details['explanation']}", style="red"))
        if details.get("columns_compared_by_presence"):
            console.print(
                Text(
                    f"{name}: {', '.join(details['columns_compared_by_presence'])} compared by presence only "
                    "(NULL or not): the target holds them transformed (--rows compares them the same way)",
                    style="dim",
                )
            )
