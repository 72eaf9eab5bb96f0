"""What `aurora-sync status` prints (aurora_sync.status_report): 80 columns, every table, the reasons."""

from __future__ import annotations

import json

import pytest

from aurora_sync.status import TableStatus, exit_status, iso
from aurora_sync.status_report import as_json, reason, render

pytestmark = pytest.mark.unit

LONG_ERROR = (
    "export failed: SourceError: column public.very_long_table_name_for_wrapping.payload has type bit(8), which "
    "Snowflake cannot hold: set bad_values = 'quarantine' or cast it in a view\nTraceback line two"
)


def _tables() -> list[TableStatus]:
    run = {"run_id": "r1", "started_at": "2026-11-29T23:00:00.000000Z", "finished_at": "2026-11-29T23:01:00.000000Z"}
    return [
        TableStatus(
            "public.orders",
            "SUCCEEDED",
            last_run_status="SUCCEEDED",
            last_run_at="2026-11-29T23:01:00.123456Z",
            rows_last_run=1_234_567,
            lag_minutes=3,
            history=[
                {**run, "status": "SUCCEEDED", "rows_loaded": 10, "rows_quarantined": 0, "duration_s": 1.5}
                | {"watermark": "2026", "lag_minutes": 3, "error": None},
                {**run, "status": "FAILED", "rows_loaded": 0, "rows_quarantined": 0, "duration_s": 0.2}
                | {"watermark": None, "lag_minutes": None, "error": LONG_ERROR},
            ],
        ),
        TableStatus(
            "analytics_source_schema.very_long_table_name_for_wrapping",
            "FAILED",
            last_run_status="FAILED",
            last_run_at="2026-11-29T23:01:00Z",
            rows_last_run=0,
            last_run_error=LONG_ERROR,
        ),
        TableStatus("public.items", "QUARANTINED", last_run_status="SUCCEEDED", quarantined_manifests=2),
        TableStatus("public.busy", "BUSY", busy="held by run-9/ab12 until 2026-11-30T01:00:00.000000Z"),
        TableStatus("public.later", "WAITING", pending_manifests=1, failed_manifests=1, open_export_requests=1),
        TableStatus("public.fresh", "NEVER_RUN"),
    ]


@pytest.mark.parametrize("width", [60, 80, 100])
def test_every_line_fits_and_names_every_table_and_the_error(width: int) -> None:
    text = render(_tables(), width, history=True)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, text
    flat = " ".join(line.strip() for line in lines)
    for t in _tables():
        assert t.state in text
    assert "public.orders" in text and "public.fresh" in text
    # the long table name is folded, not cut: all of it is there
    assert "very_long_table_name_for_wrapping" in flat.replace(" ", "") or "wrapping" in text
    # the failed table's error is printed (wrapped), its first line only
    assert "analytics_source_schema.very_long_table_name_for_wrapping FAILED: export failed" in flat.replace("\n", "")
    assert "Traceback line two" not in text
    assert "2 manifest(s) quarantined" in flat
    assert "another run is loading it" in flat
    assert "2 manifest(s) to load; export requested, no answer yet" in flat
    assert "1,234,567" in text and "2026-11-29 23:01" in text


def test_a_wide_console_puts_the_reason_in_a_column() -> None:
    text = render(_tables(), 160)
    line = next(x for x in text.splitlines() if x.startswith("analytics_source_schema"))
    assert "FAILED" in line and "export failed: SourceError" in line
    assert max(len(x) for x in text.splitlines()) <= 160


def test_reasons_and_exit_status() -> None:
    tables = _tables()
    assert reason(tables[0]) is None and reason(tables[-1]) is None
    assert exit_status(tables) == 1
    assert exit_status([t for t in tables if t.state not in {"FAILED", "QUARANTINED"}]) == 0
    assert exit_status([]) == 0
    set_aside = TableStatus("public.x", "QUARANTINED", rows_set_aside_last_run=4)
    assert reason(set_aside) == "4 row(s) set aside by the last run (QUARANTINED_ROWS)"


def test_json_has_the_same_keys_for_every_table() -> None:
    data = json.loads(as_json(_tables()))
    keys = {tuple(d) for d in data}
    assert len(keys) == 1 and next(iter(keys))[:2] == ("table", "state")
    assert data[0]["history"][1]["error"] == LONG_ERROR
    assert data[-1]["last_run_at"] is None and data[-1]["history"] == []


def test_iso_is_utc() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    naive = datetime(2026, 11, 29, 23, 1, 2, 5)
    assert iso(naive) == "2026-11-29T23:01:02.000005Z"
    assert iso(datetime(2026, 11, 30, 0, 1, 2, 5, tzinfo=timezone(timedelta(hours=1)))) == iso(naive)
    assert iso(naive.replace(tzinfo=UTC)) == iso(naive) and iso(None) is None
