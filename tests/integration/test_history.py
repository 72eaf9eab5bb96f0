"""`history = true` (SCD type 2, docs/CUSTOMIZATION.md "History"): every version of a row in the target,
through inserts, updates, key-set deletes, a key that comes back, a resync, a crash mid-batch and full
mode; the current view; reconciliation against the current versions."""

from __future__ import annotations

import datetime

import pytest

from aurora_sync.config import ConfigError
from aurora_sync.export_client import LocalExporter
from stored_procs.configuration.table_config import resync_table
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from sync_contract import failpoints
from tests.integration.crashes import compare, cycle_in_child, expire_leases, local_toml

pytestmark = pytest.mark.integration

UTC = datetime.UTC


def at(day: int, hour: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=UTC)


def _table(pg, name: str, watermark: str = "updated_at timestamptz NOT NULL") -> None:
    pg.cursor().execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v text, {watermark})")


def versions(h, table: str) -> list[tuple]:
    """(id, v, valid_from, valid_to or None, is_current) of every version, by id then valid_from."""
    rows = h.query(
        f'SELECT "ID", "V", "_VALID_FROM", "_VALID_TO", "_VALID_TO" IS NULL, "_IS_CURRENT" '
        f'FROM "ANALYTICS"."PUBLIC"."{table}" ORDER BY "ID", "_VALID_FROM"'
    )
    return [(r[0], r[1], _utc(r[2]), None if r[4] else _utc(r[3]), r[5]) for r in rows]


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _ok(report) -> None:
    failed = [(t.spec.source, t.load.get("error")) for t in report.tables if t.failed]
    assert not report.failed, failed


def _reconciled(h, source: str) -> dict:
    config = h.config
    (spec,) = [s for s in config.tables if s.source == source]
    exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    return reconcile_table(h.snow, config.place, config.database, spec, exporter.reconcile, new_run_id())


def _last_run(h, table: str) -> tuple:
    return tuple(
        h.query(
            f"SELECT STATUS, ROWS_INSERTED, ROWS_UPDATED, ROWS_DELETED, ERROR FROM {h.control('RUNS')} "
            "WHERE SOURCE_TABLE = ? ORDER BY FINISHED_AT DESC LIMIT 1",
            table,
        )[0]
    )


def test_every_version_through_inserts_updates_deletes_a_return_and_a_resync(pg, harness):
    _table(pg, "hist_a")
    cur = pg.cursor()
    cur.executemany(
        "INSERT INTO public.hist_a VALUES (%s, %s, %s)", [(1, "a1", at(1)), (2, "b1", at(1)), (3, "c1", at(2))]
    )
    h = harness.add(
        "public.hist_a",
        ["id"],
        "updated_at",
        history="true",
        delete_detection="'delete'",
        keys_interval_hours="0",
        max_delete_fraction="0.5",
    )
    _ok(h.cycle())
    assert versions(h, "HIST_A") == [
        (1, "a1", at(1), None, True),
        (2, "b1", at(1), None, True),
        (3, "c1", at(2), None, True),
    ]
    assert h.watermark("hist_a") is not None

    # an update closes the version at the new one's valid-from (its watermark) and opens the new one
    cur.execute("UPDATE public.hist_a SET v = 'b2', updated_at = %s WHERE id = 2", (at(5),))
    _ok(h.cycle())
    assert _last_run(h, "hist_a")[:4] == ("SUCCEEDED", 1, 1, 0)
    assert versions(h, "HIST_A")[1:3] == [(2, "b1", at(1), at(5), False), (2, "b2", at(5), None, True)]

    # a delete found by the key set closes the current version at the load time; nothing is removed
    before = datetime.datetime.now(UTC)
    cur.execute("DELETE FROM public.hist_a WHERE id = 3")
    _ok(h.cycle())
    rows = versions(h, "HIST_A")
    assert len(rows) == 4
    (gone,) = [r for r in rows if r[0] == 3]
    assert gone[:3] == (3, "c1", at(2)) and gone[4] is False
    closed_at = gone[3]
    assert closed_at is not None and before - datetime.timedelta(seconds=5) <= closed_at <= datetime.datetime.now(UTC)

    # the key comes back with an older watermark than the close: its new version starts at the close
    cur.execute("INSERT INTO public.hist_a VALUES (3, 'c2', %s)", (at(6),))
    _ok(h.cycle())
    assert [r for r in versions(h, "HIST_A") if r[0] == 3] == [
        (3, "c1", at(2), closed_at, False),
        (3, "c2", closed_at, None, True),
    ]

    # the current view: one row per live key, without _VALID_TO / _IS_CURRENT
    view = h.query('SELECT * FROM "ANALYTICS"."PUBLIC"."HIST_A_CURRENT" ORDER BY "ID"')
    assert [(r[0], r[1]) for r in view] == [(1, "a1"), (2, "b2"), (3, "c2")]
    columns = h.query(
        'SELECT COLUMN_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
        "HIST_A_CURRENT",
    )
    assert [c[0] for c in columns] == ["ID", "V", "UPDATED_AT", "_VALID_FROM"]

    # a resync exports every row again from the beginning: identical to the current versions, none added
    history_before = versions(h, "HIST_A")
    resync_table(h.snow, h.config.place, "public.hist_a", "test-resync")
    _ok(h.cycle())
    assert versions(h, "HIST_A") == history_before
    assert _last_run(h, "hist_a")[1] == 0

    # reconciliation compares the source with the current versions: CLEAN both ways
    assert compare(h).details == []
    report = _reconciled(h, "public.hist_a")
    assert report["status"] == "CLEAN", report
    assert report["target_rows"] == 3


def test_a_crash_after_the_merge_and_a_rerun_neither_duplicate_nor_lose_a_version(pg, harness):
    _table(pg, "hist_crash")
    cur = pg.cursor()
    cur.executemany("INSERT INTO public.hist_crash VALUES (%s, %s, %s)", [(i, f"v{i}", at(1)) for i in (1, 2, 3)])
    h = harness.add("public.hist_crash", ["id"], "updated_at", history="true")
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    cur.execute("UPDATE public.hist_crash SET v = 'w2', updated_at = %s WHERE id = 2", (at(3),))
    cur.execute("INSERT INTO public.hist_crash VALUES (4, 'v4', %s)", (at(3),))
    # killed after the MERGE committed, before the ledger says LOADED: the rerun merges the batch again
    assert cycle_in_child(toml, "load:after_merge") == failpoints.EXIT_CODE
    expected = [
        (1, "v1", at(1), None, True),
        (2, "v2", at(1), at(3), False),
        (2, "w2", at(3), None, True),
        (3, "v3", at(1), None, True),
        (4, "v4", at(3), None, True),
    ]
    assert versions(h, "HIST_CRASH") == expected
    expire_leases(h)
    assert cycle_in_child(toml) == 0
    assert versions(h, "HIST_CRASH") == expected
    # killed before the MERGE: nothing changed, the rerun applies the batch once
    cur.execute("UPDATE public.hist_crash SET v = 'x1', updated_at = %s WHERE id = 1", (at(4),))
    assert cycle_in_child(toml, "load:after_copy") == failpoints.EXIT_CODE
    assert versions(h, "HIST_CRASH") == expected
    expire_leases(h)
    assert cycle_in_child(toml) == 0
    assert versions(h, "HIST_CRASH")[:2] == [(1, "v1", at(1), at(4), False), (1, "x1", at(4), None, True)]
    assert len(versions(h, "HIST_CRASH")) == 6
    assert compare(h).details == []


def test_full_mode_merges_versions_at_the_load_time_and_closes_missing_keys(pg, harness):
    pg.cursor().execute("CREATE TABLE public.hist_full (id int PRIMARY KEY, v text)")
    cur = pg.cursor()
    cur.execute("INSERT INTO public.hist_full SELECT g, 'v' || g FROM generate_series(1, 4) g")
    h = harness.add("public.hist_full", ["id"], history="true")
    _ok(h.cycle())
    first = versions(h, "HIST_FULL")
    loaded_at = first[0][2]
    assert [r[:2] for r in first] == [(i, f"v{i}") for i in (1, 2, 3, 4)]
    assert all(r[2] == loaded_at and r[3] is None and r[4] for r in first)

    cur.execute("UPDATE public.hist_full SET v = 'changed' WHERE id = 2")
    cur.execute("DELETE FROM public.hist_full WHERE id = 3")
    cur.execute("INSERT INTO public.hist_full VALUES (5, 'v5')")
    _ok(h.cycle())
    assert _last_run(h, "hist_full")[:4] == ("SUCCEEDED", 2, 1, 1)
    rows = versions(h, "HIST_FULL")
    second = rows[-1][2]  # key 5's version starts at the second load
    assert second > loaded_at
    assert rows == [
        (1, "v1", loaded_at, None, True),
        (2, "v2", loaded_at, second, False),
        (2, "changed", second, None, True),
        (3, "v3", loaded_at, second, False),
        (4, "v4", loaded_at, None, True),
        (5, "v5", second, None, True),
    ]
    tables = {r[0] for r in h.query('SELECT TABLE_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.TABLES')}
    assert "HIST_FULL__AURORA_SYNC_SHADOW" not in tables
    # the same snapshot again (nothing changed): no version added
    _ok(h.cycle())
    assert versions(h, "HIST_FULL") == rows
    assert compare(h).details == []
    assert _reconciled(h, "public.hist_full")["status"] == "CLEAN"


def test_history_turned_on_for_a_table_loaded_without_it_is_refused_naming_the_fix(pg, harness):
    _table(pg, "hist_on")
    pg.cursor().execute("INSERT INTO public.hist_on VALUES (1, 'a', %s)", (at(1),))
    h = harness.add("public.hist_on", ["id"], "updated_at")
    _ok(h.cycle())
    watermark = h.watermark("hist_on")
    h.tables = []
    h.add("public.hist_on", ["id"], "updated_at", history="true")
    pg.cursor().execute("UPDATE public.hist_on SET v = 'b', updated_at = %s", (at(2),))
    # refused as sync.toml's change is applied, before anything is saved (configuration.history_changes)
    with pytest.raises(ConfigError) as refused:
        h.cycle()
    assert refused.value.key == "tables[0].history"
    assert "history = true, but the target was loaded without history" in refused.value.reason
    assert "give the table a new target" in refused.value.reason
    assert [tuple(r) for r in h.query('SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."HIST_ON"')] == [(1, "a")]
    assert h.watermark("hist_on") == watermark  # not restarted: nothing superseded, the watermark kept
    statuses = h.query(f"SELECT DISTINCT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'hist_on'")
    assert [r[0] for r in statuses] == ["LOADED"]
