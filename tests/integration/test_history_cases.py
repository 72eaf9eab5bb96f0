"""History edge cases (docs/CUSTOMIZATION.md "History"): a change with the same watermark corrects the
current version in place and a late older row adds nothing (both reach the load through a lookback);
valid-from from a timestamp watermark (read as UTC) and from the load time for a number watermark; source
columns that take the history columns' names; a transform applied to every version."""

from __future__ import annotations

import datetime

import pytest

from stored_procs.configuration.table_config import resync_table
from tests.integration.test_history import _last_run, _ok, _table, at, versions

pytestmark = pytest.mark.integration

UTC = datetime.UTC


def test_a_same_watermark_change_corrects_in_place_and_an_older_row_adds_no_version(pg, harness):
    _table(pg, "hist_lb")
    cur = pg.cursor()
    cur.executemany(
        "INSERT INTO public.hist_lb VALUES (%s, %s, %s)", [(1, "a", at(3)), (2, "b", at(3)), (3, "c", at(3))]
    )
    h = harness.add("public.hist_lb", ["id"], "updated_at", history="true", lookback="'5 days'")
    _ok(h.cycle())
    # id 1: other values, the same watermark (a writer that did not move it); id 2: an older row than
    # the loaded one (its watermark went back); the lookback exports both again, and id 3 unchanged
    cur.execute("UPDATE public.hist_lb SET v = 'a-fixed' WHERE id = 1")
    cur.execute("UPDATE public.hist_lb SET v = 'b-older', updated_at = %s WHERE id = 2", (at(2),))
    cur.execute("INSERT INTO public.hist_lb VALUES (4, 'd', %s)", (at(4),))
    _ok(h.cycle())
    assert versions(h, "HIST_LB") == [
        (1, "a-fixed", at(3), None, True),  # corrected in place: one version, its valid-from kept
        (2, "b", at(3), None, True),  # the older row neither reopens nor reorders history
        (3, "c", at(3), None, True),
        (4, "d", at(4), None, True),
    ]
    assert _last_run(h, "hist_lb")[:3] == ("SUCCEEDED", 1, 1)


def test_valid_from_is_a_timestamp_watermark_read_as_utc_and_the_load_time_for_a_number(pg, harness):
    _table(pg, "hist_day", "changed_on timestamp NOT NULL")
    _table(pg, "hist_seq", "version int NOT NULL")
    cur = pg.cursor()
    cur.execute("INSERT INTO public.hist_day VALUES (1, 'a', TIMESTAMP '2026-01-05 00:00:00')")
    cur.execute("INSERT INTO public.hist_seq VALUES (1, 'a', 1), (2, 'b', 1)")
    h = harness.add("public.hist_day", ["id"], "changed_on", history="true")
    h.add("public.hist_seq", ["id"], "version", history="true", late_row_guard="false")
    before = datetime.datetime.now(UTC) - datetime.timedelta(seconds=5)
    _ok(h.cycle())
    cur.execute("UPDATE public.hist_day SET v = 'b', changed_on = TIMESTAMP '2026-01-07 00:00:00'")
    cur.execute("UPDATE public.hist_seq SET v = 'b2', version = 2 WHERE id = 2")
    _ok(h.cycle())
    assert versions(h, "HIST_DAY") == [(1, "a", at(5), at(7), False), (1, "b", at(7), None, True)]
    seq = versions(h, "HIST_SEQ")
    first, second = seq[0][2], seq[2][2]
    assert before <= first < second <= datetime.datetime.now(UTC)
    assert seq == [(1, "a", first, None, True), (2, "b", first, second, False), (2, "b2", second, None, True)]
    # a resync exports both again: identical rows, no version (a load-time valid-from would be new)
    resync_table(h.snow, h.config.place, "public.hist_seq", "test-resync")
    _ok(h.cycle())
    assert versions(h, "HIST_SEQ") == seq


def test_source_columns_named_like_the_history_columns(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.hist_names (id int PRIMARY KEY, _valid_from text, _valid_to text, _is_current text, "
        "updated_at timestamptz NOT NULL)"
    )
    cur.execute("INSERT INTO public.hist_names VALUES (1, 'x', 'y', 'z', now())")
    h = harness.add("public.hist_names", ["id"], "updated_at", history="true")
    (t,) = h.cycle().tables
    assert t.failed
    assert "have names the sync uses itself" in t.load["error"] and "_VALID_FROM" in t.load["error"]
    assert not h.query("SELECT TABLE_NAME FROM \"ANALYTICS\".INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'HIST_NAMES'")
    # without history they are plain columns: loaded, and loaded again (not mistaken for a history table)
    cur.execute("CREATE TABLE public.plain_names (LIKE public.hist_names)")
    cur.execute("INSERT INTO public.plain_names SELECT * FROM public.hist_names")
    plain = harness.add("public.plain_names", ["id"], "updated_at")
    plain.tables = plain.tables[-1:]
    _ok(plain.cycle())
    cur.execute("UPDATE public.plain_names SET _valid_to = 'y2', updated_at = now()")
    _ok(plain.cycle())
    rows = plain.query('SELECT "ID", "_VALID_FROM", "_VALID_TO", "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."PLAIN_NAMES"')
    assert [tuple(r) for r in rows] == [(1, "x", "y2", "z")]


def test_a_quarantined_row_of_a_full_snapshot_keeps_its_current_version_open(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.hist_bad (id int PRIMARY KEY, day date)")
    cur.execute("INSERT INTO public.hist_bad SELECT g, date '2026-01-01' + g FROM generate_series(1, 4) g")
    h = harness.add("public.hist_bad", ["id"], history="true")
    _ok(h.cycle())
    cur.execute("UPDATE public.hist_bad SET day = 'infinity' WHERE id = 2")  # no Snowflake DATE holds it
    cur.execute("DELETE FROM public.hist_bad WHERE id = 3")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_quarantined"], t.load["rows_deleted"]) == ("SUCCEEDED", 1, 1)
    rows = h.query(
        'SELECT "ID", TO_VARCHAR("DAY", \'YYYY-MM-DD\'), "_VALID_TO" IS NULL, "_IS_CURRENT" '
        'FROM "ANALYTICS"."PUBLIC"."HIST_BAD" ORDER BY "ID", "_VALID_FROM"'
    )
    assert [tuple(r) for r in rows] == [
        (1, "2026-01-02", True, True),
        (2, "2026-01-03", True, True),  # its new row set aside: the version stays current, not closed as gone
        (3, "2026-01-04", False, False),
        (4, "2026-01-05", True, True),
    ]


def test_a_column_added_in_the_source_joins_the_table_and_its_current_view(pg, harness):
    _table(pg, "hist_drift")
    cur = pg.cursor()
    cur.execute("INSERT INTO public.hist_drift VALUES (1, 'a', %s)", (at(1),))
    h = harness.add("public.hist_drift", ["id"], "updated_at", history="true")
    _ok(h.cycle())
    cur.execute("ALTER TABLE public.hist_drift ADD COLUMN region text")
    cur.execute("UPDATE public.hist_drift SET region = 'eu', updated_at = %s", (at(2),))
    _ok(h.cycle())
    rows = h.query('SELECT "ID", "REGION", "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."HIST_DRIFT" ORDER BY "_VALID_FROM"')
    assert [tuple(r) for r in rows] == [(1, None, False), (1, "eu", True)]
    view = h.query('SELECT "ID", "V", "REGION" FROM "ANALYTICS"."PUBLIC"."HIST_DRIFT_CURRENT"')
    assert [tuple(r) for r in view] == [(1, "a", "eu")]


def test_a_transform_applies_to_every_version(pg, harness):
    _table(pg, "hist_tf")
    cur = pg.cursor()
    cur.execute("INSERT INTO public.hist_tf VALUES (1, ' Ada ', %s)", (at(1),))
    h = harness.add("public.hist_tf", ["id"], "updated_at", history="true", transform='{ V = "UPPER(TRIM(V))" }')
    _ok(h.cycle())
    cur.execute("UPDATE public.hist_tf SET v = 'grace', updated_at = %s", (at(2),))
    _ok(h.cycle())
    assert versions(h, "HIST_TF") == [(1, "ADA", at(1), at(2), False), (1, "GRACE", at(2), None, True)]
