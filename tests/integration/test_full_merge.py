"""Full mode's load side: a small change is merged in place (no shadow table, no swap), a large one swaps."""

from __future__ import annotations

from typing import Any

import pytest

from sync_contract import failpoints
from tests.integration.crashes import compare, cycle_in_child, expire_leases, local_toml

pytestmark = pytest.mark.integration


class Recording:
    """The Snowpark session, with the text of every statement sent through it kept in `texts`."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.texts: list[str] = []

    def sql(self, text: str, *args: Any, **kwargs: Any) -> Any:
        self.texts.append(text)
        return self._session.sql(text, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _rows(h, table: str) -> list[tuple]:
    return sorted(tuple(r) for r in h.query(f'SELECT * FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'))


def _last_run(h, table: str) -> tuple:
    rows = h.query(
        f"SELECT STATUS, ROWS_INSERTED, ROWS_UPDATED, ROWS_DELETED, ERROR FROM {h.control('RUNS')} "
        "WHERE SOURCE_TABLE = ? AND STATUS <> 'NO_CHANGE' ORDER BY FINISHED_AT DESC LIMIT 1",
        table,
    )
    return tuple(rows[0])


def _fingerprint(cur, table: str) -> str:
    from lambda_exporter.query import snapshot_fingerprint

    stmt = snapshot_fingerprint("public", table)
    cur.execute(stmt.text, stmt.params)
    return cur.fetchone()[0]


def _swapped(texts: list[str]) -> bool:
    return any("SWAP WITH" in t or "__AURORA_SYNC_SHADOW" in t for t in texts)


def test_a_small_change_is_merged_in_place_with_no_swap(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fm_small (id int PRIMARY KEY, name text, qty int)")
    cur.execute("INSERT INTO public.fm_small SELECT g, 'n' || g, g FROM generate_series(1, 100) g")
    h = harness.add("public.fm_small", ["id"])
    h.cycle()
    assert len(_rows(h, "fm_small")) == 100

    cur.execute("UPDATE public.fm_small SET name = 'changed', qty = NULL WHERE id IN (3, 4)")
    cur.execute("DELETE FROM public.fm_small WHERE id = 50")
    cur.execute("INSERT INTO public.fm_small VALUES (101, 'new', 7), (102, NULL, 8)")
    h.snow = recording = Recording(h.snow)
    h.cycle()

    rows = _rows(h, "fm_small")
    assert len(rows) == 101
    assert (3, "changed", None) in rows and (4, "changed", None) in rows and (5, "n5", 5) in rows
    assert all(r[0] != 50 for r in rows)
    assert (101, "new", 7) in rows and (102, None, 8) in rows
    assert not _swapped(recording.texts), "a 5 % change must not swap the table"
    merges = [t for t in recording.texts if t.startswith("MERGE INTO") and '"FM_SMALL"' in t.split(" USING ")[0]]
    assert len(merges) == 1
    snapshots = [t for t in recording.texts if "_SNAPSHOT" in t and t.startswith("CREATE")]
    assert snapshots and all("TRANSIENT" in t and "DATA_RETENTION_TIME_IN_DAYS = 0" in t for t in snapshots)
    assert _last_run(h, "fm_small") == ("SUCCEEDED", 2, 2, 1, None)
    assert h.watermark("fm_small") == _fingerprint(cur, "fm_small")

    # the same snapshot again (the manifest re-sent after a crash): the MERGE changes nothing
    recording.texts.clear()
    report = h.cycle()
    assert report is not None and _rows(h, "fm_small") == rows


def test_a_large_change_swaps_the_table(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fm_large (id int PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.fm_large SELECT g, 'n' || g FROM generate_series(1, 20) g")
    h = harness.add("public.fm_large", ["id"])
    h.cycle()
    cur.execute("UPDATE public.fm_large SET name = upper(name) WHERE id <= 15")  # 75 % of the rows
    h.snow = recording = Recording(h.snow)
    h.cycle()

    assert _swapped(recording.texts)
    rows = _rows(h, "fm_large")
    assert rows == [(i, f"N{i}" if i <= 15 else f"n{i}") for i in range(1, 21)]
    assert _last_run(h, "fm_large") == ("SUCCEEDED", 0, 15, 0, None)
    assert h.watermark("fm_large") == _fingerprint(cur, "fm_large")


def test_a_quarantined_row_keeps_its_previous_version_when_the_change_is_merged(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fm_bad (id int PRIMARY KEY, day date)")
    cur.execute("INSERT INTO public.fm_bad SELECT g, date '2026-01-01' + g FROM generate_series(1, 20) g")
    h = harness.add("public.fm_bad", ["id"])
    h.cycle()
    cur.execute("UPDATE public.fm_bad SET day = 'infinity' WHERE id = 5")  # no Snowflake DATE holds it
    cur.execute("UPDATE public.fm_bad SET day = '2030-01-01' WHERE id = 6")
    cur.execute("DELETE FROM public.fm_bad WHERE id = 7")
    h.snow = recording = Recording(h.snow)
    (t,) = h.cycle().tables

    assert not _swapped(recording.texts)
    assert (t.load["status"], t.load["rows_quarantined"]) == ("SUCCEEDED", 1), t.load["error"]
    days = {r[0]: str(r[1]) for r in h.query('SELECT "ID", "DAY" FROM "ANALYTICS"."PUBLIC"."FM_BAD"')}
    assert days[5] == "2026-01-06", "the quarantined row's previous version stays"
    assert days[6] == "2030-01-01" and 7 not in days and len(days) == 19
    kept = [t for t in recording.texts if t.startswith("CREATE") and "_KEPT" in t]
    assert kept and all("TRANSIENT" in t and "DATA_RETENTION_TIME_IN_DAYS = 0" in t for t in kept)
    assert _last_run(h, "fm_bad")[:4] == ("SUCCEEDED", 0, 1, 1)


def test_killed_before_the_merge_the_target_is_the_old_snapshot_and_the_rerun_merges(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fm_crash (id int PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.fm_crash SELECT g, 'n' || g FROM generate_series(1, 30) g")
    h = harness.add("public.fm_crash", ["id"])
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    before = _rows(h, "fm_crash")
    cur.execute("UPDATE public.fm_crash SET name = 'changed' WHERE id = 2")
    cur.execute("DELETE FROM public.fm_crash WHERE id = 3")
    # killed with the difference counted, before the MERGE
    assert cycle_in_child(toml, "load:after_shadow") == failpoints.EXIT_CODE
    assert _rows(h, "fm_crash") == before, "the target changed before the MERGE"
    tables = {r[0] for r in h.query('SELECT TABLE_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.TABLES')}
    assert "FM_CRASH__AURORA_SYNC_SHADOW" not in tables, "a small change goes through no shadow table"

    expire_leases(h)
    assert cycle_in_child(toml) == 0
    after = _rows(h, "fm_crash")
    assert (2, "changed") in after and all(r[0] != 3 for r in after) and len(after) == 29
    assert compare(h).details == []
    assert h.watermark("fm_crash") == _fingerprint(cur, "fm_crash")
