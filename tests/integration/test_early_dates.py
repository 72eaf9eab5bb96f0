"""Dates and timestamps before 1582. PostgreSQL counts dates in the proleptic Gregorian calendar ("History of
Units", appendix B of the PostgreSQL docs); Snowflake too: it "uses the Gregorian Calendar
for all dates and timestamps … and does not adjust dates prior to 1582 … to match the Julian Calendar"
("Date & time data types", Supported calendar), while recommending years 1582-9999. So the text the
exporter writes (`1500-03-01`) names the same day on both sides and loads as it is; a client that reads
it with a Julian calendar before 1582 (JDBC's java.sql.Date) shows another day (docs/CORRECTNESS.md)."""

from __future__ import annotations

import datetime

import pytest

from aurora_sync.export_client import LocalExporter
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id

pytestmark = pytest.mark.integration

UTC = datetime.UTC
ROWS = {
    1: ("0001-01-01", "0001-01-01 00:00:00", "0001-01-01 00:00:00+00"),
    2: ("1500-03-01", "1500-02-28 23:59:59.999999", "1500-03-01 12:00:00+00"),
    3: ("1582-10-10", "1582-10-04 10:00:00", "1582-10-15 00:00:00+00"),  # days the Julian switch skipped
    4: ("1200-02-29", "1000-03-01 00:00:00", "0999-12-31 23:00:00-01"),  # 1200 leap (÷400), 1000 not
}
EXPECTED = {
    1: (datetime.date(1, 1, 1), datetime.datetime(1, 1, 1), datetime.datetime(1, 1, 1, tzinfo=UTC)),
    2: (
        datetime.date(1500, 3, 1),
        datetime.datetime(1500, 2, 28, 23, 59, 59, 999999),
        datetime.datetime(1500, 3, 1, 12, tzinfo=UTC),
    ),
    3: (
        datetime.date(1582, 10, 10),
        datetime.datetime(1582, 10, 4, 10),
        datetime.datetime(1582, 10, 15, tzinfo=UTC),
    ),
    4: (datetime.date(1200, 2, 29), datetime.datetime(1000, 3, 1), datetime.datetime(1000, 1, 1, tzinfo=UTC)),
}


def test_dates_before_1582_load_as_the_same_proleptic_gregorian_day(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.early (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, v int NOT NULL)")
    for key, (d, ts, tz) in ROWS.items():
        cur.execute("INSERT INTO public.early VALUES (%s, %s, %s, %s, 1)", (key, d, ts, tz))
    cur.execute("SELECT id, d - date '0001-01-01' FROM public.early ORDER BY id")
    days = dict(cur.fetchall())  # PostgreSQL's own day numbers: proleptic Gregorian
    assert all(days[k] == (EXPECTED[k][0] - datetime.date(1, 1, 1)).days for k in ROWS)
    h = harness.add("public.early", ["id"], "v", late_row_guard="false")
    (t,) = h.cycle().tables
    reasons = h.query(f"SELECT REASON FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'early'")
    assert (t.load["status"], t.load["rows_inserted"], t.load["rows_quarantined"]) == ("SUCCEEDED", 4, 0), reasons
    rows = h.query('SELECT "ID", "D", "TS", "TZ" FROM "ANALYTICS"."PUBLIC"."EARLY" ORDER BY "ID"')
    got = {r[0]: (r[1], r[2], r[3].astimezone(UTC)) for r in rows}
    assert got == EXPECTED
    assert h.watermark("early") == "1"
    config = h.config
    (spec,) = [s for s in config.tables if s.source == "public.early"]
    exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    report = reconcile_table(h.snow, config.place, config.database, spec, exporter.reconcile, new_run_id())
    assert (report["status"], report["missing"], report["extra"], report["different"]) == ("CLEAN", 0, 0, 0), report
