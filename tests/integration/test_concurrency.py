"""Two cycles at once: a table's load and the intake are leased, so only one run does each; a
lease whose holder died expires."""

from __future__ import annotations

import pytest

from stored_procs.orchestration import lease

pytestmark = pytest.mark.integration


def test_a_table_leased_by_another_run_is_left_alone_until_the_lease_ends(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.leased (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.leased SELECT g, g FROM generate_series(1, 10) g")
    h = harness.add("public.leased", ["id"], "v", late_row_guard="false")
    h.cycle(export=False)  # creates the control tables
    name = f"load:{h.config.tables[0].slug}"
    assert lease.acquire(h.snow, h.config.place, name, "run-elsewhere/1", ttl_s=600) is None

    (t,) = h.cycle().tables
    assert not t.failed and t.load["status"] == "BUSY"
    assert "held by run-elsewhere/1" in t.load["notes"] and "nothing was done" in t.load["notes"]
    assert h.watermark("leased") is None
    statuses = h.query(f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'leased'")
    assert [r[0] for r in statuses] == ["NEW"]  # taken in, waiting for the table's lease

    # the holder died: once its lease has expired the next run loads
    h.query(
        f"UPDATE {h.control('LEASES')} SET EXPIRES_AT = TO_TIMESTAMP_NTZ('2000-01-01', 'YYYY-MM-DD') WHERE NAME = ?",
        name,
    )
    (t,) = h.cycle(export=False).tables
    assert (t.load["status"], t.load["rows_loaded"]) == ("SUCCEEDED", 10)
    assert h.watermark("leased") == "10"
    holder = h.query(f"SELECT HOLDER FROM {h.control('LEASES')} WHERE NAME = ?", name)[0][0]
    assert holder is None  # released at the end of the load


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
