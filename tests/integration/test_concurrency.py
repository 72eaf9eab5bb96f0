"""Two cycles at once: a table's load and the intake are leased, so only one run does each; a
lease whose holder died expires."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from aurora_sync.cycle import run_cycle
from stored_procs.orchestration import lease
from stored_procs.stage_events import StageEvent

pytestmark = pytest.mark.integration


class CountingExporter:
    """The Lambda exporter client, counting the export requests it sends per `schema.table`."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.tables = inner, Counter[str]()

    def export(self, request: Any) -> dict[str, Any]:
        self.tables[f"{request.schema}.{request.table}"] += 1
        return self.inner.export(request)  # type: ignore[no-any-return]

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.inner.reconcile(event)  # type: ignore[no-any-return]


def test_a_table_leased_by_another_run_is_neither_exported_nor_loaded_until_the_lease_ends(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.leased (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.leased SELECT g, g FROM generate_series(1, 10) g")
    h = harness.add("public.leased", ["id"], "v", late_row_guard="false")
    h.cycle(export=False)  # creates the control tables
    name = f"load:{h.config.tables[0].slug}"
    assert lease.acquire(h.snow, h.config.place, name, "run-elsewhere/1", ttl_s=600) is None
    since, until = h.query(f"SELECT ACQUIRED_AT, EXPIRES_AT FROM {h.control('LEASES')} WHERE NAME = ?", name)[0]

    exporter = CountingExporter(h.exporter)
    report = run_cycle(h.snow, h.config, exporter)
    (t,) = report.tables
    assert not t.failed and t.load["status"] == "BUSY"
    assert exporter.tables["public.leased"] == 0  # the BUSY side sends no export
    for said in ("held by run-elsewhere/1", "run run-elsewhere", f"since {since}", f"until {until}"):
        assert said in t.load["notes"], t.load["notes"]
    assert "neither exported nor loaded" in t.load["notes"]
    assert h.watermark("leased") is None
    assert h.query(f"SELECT COUNT(*) FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'leased'")[0][0] == 0
    recorded = h.query(f"SELECT STATUS, NOTES FROM {h.control('RUNS')} WHERE RUN_ID = ?", report.run_id)
    assert [r[0] for r in recorded] == ["BUSY"] and "held by run-elsewhere/1" in recorded[0][1]

    # the holder died: once its lease has expired the next run exports and loads
    h.query(
        f"UPDATE {h.control('LEASES')} SET EXPIRES_AT = TO_TIMESTAMP_NTZ('2000-01-01', 'YYYY-MM-DD') WHERE NAME = ?",
        name,
    )
    (t,) = run_cycle(h.snow, h.config, exporter).tables
    assert (t.load["status"], t.load["rows_loaded"]) == ("SUCCEEDED", 10)
    assert exporter.tables["public.leased"] == 1
    assert h.watermark("leased") == "10"
    assert h.query('SELECT SUM("V") FROM "ANALYTICS"."PUBLIC"."LEASED"')[0][0] == 55
    holder = h.query(f"SELECT HOLDER FROM {h.control('LEASES')} WHERE NAME = ?", name)[0][0]
    assert holder is None  # released at the end of the load


def test_a_run_started_while_another_loads_a_table_reports_it_busy_naming_that_run(pg, harness):
    """Two runs at once: the second starts while the first is copying a table's files (it holds the
    table's lease). The second does not export that table, reports it BUSY naming the first run, and
    the first loads every row."""
    cur = pg.cursor()
    for name in ("conc_1_other", "conc_2_leased"):
        cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v int NOT NULL)")
        cur.execute(f"INSERT INTO public.{name} SELECT g, g FROM generate_series(1, 20) g")
        harness.add(f"public.{name}", ["id"], "v", late_row_guard="false")
    h = harness
    second: list[Any] = []
    second_exporter = CountingExporter(h.exporter)

    def first_events(event: StageEvent) -> None:
        if (event.stage, event.state, event.table) == ("copy", "started", "public.conc_2_leased") and not second:
            second.append((event.run_id, run_cycle(h.snow, h.config, second_exporter)))

    first = run_cycle(h.snow, h.config, CountingExporter(h.exporter), events=first_events)
    assert not first.failed, [t.errors for t in first.failed]
    assert [t.load["rows_loaded"] for t in first.tables] == [20, 20]
    ((first_run, other),) = second
    assert first_run == first.run_id
    by_table = {t.spec.source: t for t in other.tables}
    busy = by_table["public.conc_2_leased"]
    assert not busy.failed and busy.load["status"] == "BUSY"
    assert f"run {first.run_id} since " in busy.load["notes"], busy.load["notes"]
    assert second_exporter.tables["public.conc_2_leased"] == 0
    assert by_table["public.conc_1_other"].load["status"] in {"NO_CHANGE", "SUCCEEDED"}  # not held: its own run
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."CONC_2_LEASED"')[0] == (20, 210)
    assert h.watermark("conc_2_leased") == "20"
    statuses = h.query(
        f"SELECT STATUS FROM {h.control('RUNS')} WHERE RUN_ID = ? AND SOURCE_TABLE = ?", other.run_id, "conc_2_leased"
    )
    assert [r[0] for r in statuses] == ["BUSY"]


def test_a_lease_has_one_holder_until_released_or_expired(harness):
    """The acquisition steps in every order two runs can interleave them. (Truly simultaneous requests
    cannot run here: the emulator answers concurrent DML with HTTP 500; Snowflake serialises the
    UPDATEs of one table, so one of two racing acquisitions finds the other's holder.)"""
    harness.add("public.unused", ["id"], "v")
    harness.cycle(export=False)  # control tables
    session, place = harness.snow, harness.config.place
    assert lease.acquire(session, place, "race", "run-a", ttl_s=60) is None
    busy = lease.acquire(session, place, "race", "run-b", ttl_s=60)
    assert busy is not None and busy.holder == "run-a"
    assert lease.acquire(session, place, "race", "run-a", ttl_s=60) is None  # the holder may extend it
    lease.release(session, place, "race", "run-b")  # not the holder: no effect
    assert lease.acquire(session, place, "race", "run-b", ttl_s=60) is not None
    lease.release(session, place, "race", "run-a")
    assert lease.acquire(session, place, "race", "run-b", ttl_s=60) is None
    assert lease.acquire(session, place, "race", "run-c", ttl_s=0.001) is not None
    harness.query(f"UPDATE {harness.control('LEASES')} SET EXPIRES_AT = TO_TIMESTAMP_NTZ('2000-01-01', 'YYYY-MM-DD')")
    assert lease.acquire(session, place, "race", "run-c", ttl_s=60) is None  # run-b died: its lease expired
    rows = harness.query(f"SELECT COUNT(*) FROM {harness.control('LEASES')} WHERE NAME = 'race'")
    assert rows[0][0] == 1


def test_the_finalizer_releases_what_its_runs_killed_tasks_still_hold(pg, harness):
    from stored_procs.orchestration import runs

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.leased_dead (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.leased_dead SELECT g, g FROM generate_series(1, 5) g")
    h = harness.add("public.leased_dead", ["id"], "v", late_row_guard="false")
    h.cycle(export=False)  # control tables
    name, place = f"load:{h.config.tables[0].slug}", h.config.place
    # run-dead's INTAKE and LOAD tasks were killed holding their leases (2 h to live); another run's stays
    assert lease.acquire(h.snow, place, name, "run-dead/3f2a", ttl_s=7200) is None
    assert lease.acquire(h.snow, place, "intake", "run-dead/77aa", ttl_s=7200) is None
    assert lease.acquire(h.snow, place, "load:other", "run-other/9c1b", ttl_s=7200) is None
    runs.finalize(h.snow, place, "run-dead")
    holders = dict(
        h.query(f"SELECT NAME, HOLDER FROM {h.control('LEASES')} WHERE NAME IN (?, 'intake', 'load:other')", name)
    )
    assert holders == {name: None, "intake": None, "load:other": "run-other/9c1b"}
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_loaded"]) == ("SUCCEEDED", 5)


def test_a_lease_taken_after_the_run_started_is_found_by_the_load_naming_its_holder(pg, harness):
    """The other run takes the table's lease after this one read the leases (it exported the table):
    the load finds it, records BUSY with who holds it since when, and the next run loads every row."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.leased_late (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.leased_late SELECT g, g FROM generate_series(1, 8) g")
    h = harness.add("public.leased_late", ["id"], "v", late_row_guard="false")
    name = f"load:{h.config.tables[0].slug}"
    exporter = CountingExporter(h.exporter)

    def take_lease(event: StageEvent) -> None:
        if (event.stage, event.state) == ("intake", "started"):
            assert lease.acquire(h.snow, h.config.place, name, "run-late/2b", ttl_s=600) is None

    (t,) = run_cycle(h.snow, h.config, exporter, events=take_lease).tables
    assert exporter.tables["public.leased_late"] == 1  # read free at the start: exported
    assert not t.failed and t.load["status"] == "BUSY"
    since = h.query(f"SELECT ACQUIRED_AT FROM {h.control('LEASES')} WHERE NAME = ?", name)[0][0]
    assert f"held by run-late/2b (run run-late since {since} UTC, until " in t.load["notes"], t.load["notes"]
    assert "nothing was done" in t.load["notes"] and h.watermark("leased_late") is None

    lease.release(h.snow, h.config.place, name, "run-late/2b")
    (t,) = run_cycle(h.snow, h.config, exporter).tables
    assert (t.load["status"], t.load["rows_loaded"]) == ("SUCCEEDED", 8)
    assert h.query('SELECT SUM("V") FROM "ANALYTICS"."PUBLIC"."LEASED_LATE"')[0][0] == 36
