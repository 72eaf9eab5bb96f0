"""`aurora-sync run`'s summary (aurora_sync.report.print_cycle) and its progress output (aurora_sync.progress):
within the terminal's width, every table and its status readable."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from aurora_sync.cycle import CycleReport, TableReport
from aurora_sync.progress import LiveProgress, LogLines, log_line
from aurora_sync.report import print_cycle
from stored_procs.spec import TableSpec
from stored_procs.stage_events import StageEvent, listening, timed

pytestmark = pytest.mark.unit

BUSY_NOTE = (
    "load:public_pgbench_history-1a2b3c4d is held by run-20261129-230102-9f3e/77aa01bc (run "
    "run-20261129-230102-9f3e since 2026-11-29 23:01:02.123 UTC, until 2026-11-30 01:01:02.123 UTC): another "
    "run is at work on it; this run neither exported nor loaded it"
)


def _load(status: str, rows: int, before: str | None, after: str | None, **more: object) -> dict[str, object]:
    return {
        "status": status,
        "rows_loaded": rows,
        "rows_inserted": rows,
        "rows_updated": 3,
        "rows_deleted": 0,
        "watermark_before": before,
        "watermark_after": after,
        "duration_s": 12.345,
        **more,
    }


def _report() -> CycleReport:
    def spec(source: str) -> TableSpec:
        schema, table = source.split(".")
        return TableSpec(schema, table, ("id",), watermark_column="updated_at")

    at, later = "2026-11-29 22:58:01.123456+00", "2026-11-29 23:00:59.654321+00"
    tables = [
        TableReport(spec("public.pgbench_accounts"), {"rows": 100000}, load=_load("SUCCEEDED", 100000, at, later)),
        TableReport(spec("tpch.lineitem"), {"rows": 0}, load=_load("NO_CHANGE", 0, later, later)),
        TableReport(
            spec("tpch.partsupp"),
            None,
            load=_load("FAILED", 0, at, at, error="COPY failed: file data/partsupp/0001.csv.gz was PARTIALLY_LOADED"),
            errors=["export failed: Lambda aurora-sync-exporter answered 500 [InternalError]"],
        ),
        TableReport(spec("public.pgbench_history"), None, load=_load("BUSY", 0, at, at, notes=BUSY_NOTE)),
    ]
    return CycleReport("run-20261129-230102-0c1d", tables, duration_s=81.5)


@pytest.mark.parametrize("width", [80, 160])
def test_the_summary_fits_the_width_and_names_every_table_and_status(width: int) -> None:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_cycle(console, _report(), "sync cycle")
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, "\n".join(lines)
    cells = [re.split(r"[\s│┃]+", line.strip(" │┃")) for line in lines]
    rows = {c[0]: c for c in cells if c[0].count(".") == 1 and not c[0].endswith(":")}
    expected = {
        "public.pgbench_accounts": "SUCCEEDED",
        "tpch.lineitem": "NO_CHANGE",
        "tpch.partsupp": "FAILED",
        "public.pgbench_history": "BUSY",
    }
    for table, status in expected.items():  # each name whole, on its row, with its status
        assert table in rows and status in rows[table], (table, text)
    assert "100000" in rows["public.pgbench_accounts"]
    joined = " ".join(text.split())  # the errors and the BUSY reason, wrapped, are all there
    assert "tpch.partsupp: export failed: Lambda aurora-sync-exporter answered 500 [InternalError]" in joined
    assert "run run-20261129-230102-9f3e since 2026-11-29 23:01:02.123 UTC" in joined


def test_the_wide_summary_has_both_watermarks_and_every_count() -> None:
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    print_cycle(console, _report(), "sync cycle")
    header = next(line for line in console.export_text().splitlines() if "status" in line)
    for column in ("exported", "inserted", "updated", "deleted", "watermark before", "watermark after"):
        assert column in header


def test_a_log_line_per_finished_stage_with_its_timings() -> None:
    stream = io.StringIO()
    sink = LogLines(stream)
    with listening(sink):
        with timed("copy", "public.orders", bytes=48213) as stage:
            stage.rows = 1200
        with pytest.raises(ValueError, match="bad"), timed("merge", "public.orders"):
            raise ValueError('bad "value" here')
    sink.cycle("run-1", 1.5, 1)
    copy, merge, cycle = stream.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ run=- table=public\.orders stage=copy rows=1200 bytes=48213 "
        r"seconds=\d+\.\d{3} status=ok",
        copy,
    ), copy
    assert merge.endswith('status=failed detail="ValueError: bad \\"value\\" here"'), merge
    assert " run=run-1 table=- stage=cycle rows=- bytes=- seconds=1.500 status=failed detail=" in cycle


def test_a_log_line_quotes_a_table_name_with_a_space() -> None:
    line = log_line(StageEvent("export", "finished", 'odd schema."t=1"', 5, 10, 0.25, "ok", None, "r"), at=0)
    assert line == "r".join(
        [
            "1970-01-01T00:00:00Z run=",
            ' table="odd schema.\\"t=1\\"" stage=export rows=5 bytes=10 seconds=0.250 status=ok',
        ]
    )


def test_the_live_display_shows_each_table_stage_rows_and_bytes() -> None:
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None, force_terminal=True)
    live = LiveProgress(console, ["public.orders", "public.busy"])
    live(StageEvent("copy", "started", "public.orders"))
    assert "copy …" in _drawn(live)
    live(StageEvent("merge", "finished", "public.orders", 1200, 48213, 0.4))
    live(StageEvent("export", "finished", "public.busy", None, None, 0.0, "busy", "held by run-x"))
    drawn = _drawn(live)
    assert re.search(r"public\.orders\s+merge\s+1,200 rows, 48\.2 kB", drawn), drawn
    assert re.search(r"public\.busy\s+export: busy", drawn), drawn


def _drawn(live: LiveProgress) -> str:
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(live.progress.make_tasks_table(live.progress.tasks))
    return console.export_text()
