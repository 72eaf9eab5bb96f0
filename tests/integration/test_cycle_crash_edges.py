"""A crash mid-cycle (each load writes its RUNS row as it ends); two cycles at once (leases as one conditional
UPDATE); a crash followed by an idle source, which the local runner may not skip INTAKE for."""

from __future__ import annotations

import multiprocessing

import pytest

from sync_contract import failpoints
from tests.integration.crashes import _child, compare, cycle_in_child, expire_leases, local_toml

pytestmark = pytest.mark.integration


def test_a_crash_in_a_later_table_keeps_the_runs_row_of_a_table_already_loaded(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_cr_a (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("CREATE TABLE public.atk_cr_b (code int PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.atk_cr_a SELECT g, g FROM generate_series(1, 10) g")
    cur.execute("INSERT INTO public.atk_cr_b SELECT g, 'n' FROM generate_series(1, 10) g")
    h = harness.add("public.atk_cr_a", ["id"], "v", late_row_guard="false").add("public.atk_cr_b", ["code"])
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    cur.execute("INSERT INTO public.atk_cr_a SELECT g, g FROM generate_series(11, 15) g")
    cur.execute("UPDATE public.atk_cr_b SET name = 'm' WHERE code = 3")
    assert cycle_in_child(toml, "load:after_shadow") == failpoints.EXIT_CODE  # dies in atk_cr_b's load
    expire_leases(h)
    assert cycle_in_child(toml) == 0
    assert compare(h).mismatches == 0
    # atk_cr_a's 5 rows were loaded by the crashed run (watermark 15, manifest LOADED) ...
    assert h.watermark("atk_cr_a") == "15"
    loaded = h.query(f"SELECT SUM(ROWS_LOADED) FROM {h.control('RUNS')} WHERE SOURCE_TABLE = 'atk_cr_a'")[0][0]
    # ... but no RUNS row ever says so: the crashed run held it in memory, the next run found NO_CHANGE
    assert loaded == 15, f"RUNS accounts for {loaded} of the 15 rows loaded into atk_cr_a"


def _two_at_once(toml: str) -> list[int]:
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_child, args=(toml, None)) for _ in range(2)]
    for c in children:
        c.start()
    for c in children:
        c.join(300)
    return [int(c.exitcode if c.exitcode is not None else -1) for c in children]


def test_two_cycles_at_once_neither_lose_nor_duplicate(pg, harness):
    cur = pg.cursor()
    for t in ("atk_cc1", "atk_cc2", "atk_cc3"):
        cur.execute(f"CREATE TABLE public.{t} (id int PRIMARY KEY, v int NOT NULL)")
        cur.execute(f"INSERT INTO public.{t} SELECT g, g FROM generate_series(1, 200) g")
        harness.add(f"public.{t}", ["id"], "v", late_row_guard="false")
    cur.execute("CREATE TABLE public.atk_ccf (code int PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.atk_ccf SELECT g, 'n' FROM generate_series(1, 50) g")
    h = harness.add("public.atk_ccf", ["code"])
    toml = local_toml(h)
    codes = _two_at_once(toml)  # first load, twice at once
    for round_ in range(3):
        for t in ("atk_cc1", "atk_cc2", "atk_cc3"):
            base = 10000 * (round_ + 1)  # every change above the watermark: v only grows
            lo, hi = 201 + 10 * round_, 210 + 10 * round_
            cur.execute(f"INSERT INTO public.{t} SELECT g, {base} + g FROM generate_series({lo}, {hi}) g")
            cur.execute(f"UPDATE public.{t} SET v = {base + 5000} WHERE id = {round_ + 1}")
        cur.execute(f"UPDATE public.atk_ccf SET name = 'r{round_}' WHERE code <= {round_ + 2}")
        cur.execute(f"DELETE FROM public.atk_ccf WHERE code = {50 - round_}")
        codes += _two_at_once(toml)
    assert all(c in (0, 1) for c in codes), codes
    assert cycle_in_child(toml) == 0  # a last one alone settles whatever was busy
    verdict = compare(h)
    assert (verdict.mismatches, verdict.duplicate_keys) == (0, 0), verdict.details
    leases = h.query(f"SELECT NAME, HOLDER FROM {h.control('LEASES')} WHERE HOLDER IS NOT NULL")
    assert leases == [], leases


@pytest.mark.parametrize(
    "point",
    [
        "export:after_data_files",
        "export:after_manifest",
        "intake:after_copy",
        "load:after_copy",
        "load:after_merge",
        "load:after_ledger",
    ],
)
def test_a_crash_then_an_idle_source_still_converges(point, pg, harness):
    """After a crash, the source stops changing: the next cycles' exports may all answer no_change, so the
    local runner may skip INTAKE. Whatever the crash left in the stage / INBOX / ledger must still load."""
    cur = pg.cursor()
    slug = point.replace(":", "_")
    inc, full, keyed = f"atk_i_{slug}", f"atk_f_{slug}", f"atk_k_{slug}"
    cur.execute(f"CREATE TABLE public.{inc} (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute(f"CREATE TABLE public.{full} (code int PRIMARY KEY, name text)")
    cur.execute(f"CREATE TABLE public.{keyed} (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{inc} SELECT g, g FROM generate_series(1, 30) g")
    cur.execute(f"INSERT INTO public.{full} SELECT g, 'n' FROM generate_series(1, 30) g")
    cur.execute(f"INSERT INTO public.{keyed} SELECT g, g FROM generate_series(1, 30) g")
    h = harness.add(f"public.{inc}", ["id"], "v", late_row_guard="false").add(f"public.{full}", ["code"])
    h.add(f"public.{keyed}", ["id"], "v", late_row_guard="false", delete_detection='"delete"', keys_interval_hours="1")
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    cur.execute(f"INSERT INTO public.{inc} SELECT g, g FROM generate_series(31, 40) g")
    cur.execute(f"UPDATE public.{full} SET name = 'x' WHERE code <= 3")
    cur.execute(f"DELETE FROM public.{full} WHERE code = 30")
    cur.execute(f"INSERT INTO public.{keyed} VALUES (31, 31)")  # its deletes wait for the next key set (1 h)
    assert cycle_in_child(toml, point) == failpoints.EXIT_CODE
    expire_leases(h)
    codes = [cycle_in_child(toml) for _ in range(3)]
    verdict = compare(h)
    assert (verdict.mismatches, verdict.duplicate_keys) == (0, 0), (codes, verdict.details)
    assert codes[-1] == 0, codes
    assert h.watermark(inc) == "40"
    stuck = h.query(
        f"SELECT EXPORT_ID, STATUS, SOURCE_TABLE FROM {h.control('MANIFESTS')} WHERE STATUS IN ('NEW', 'FAILED')"
    )
    assert stuck == [], stuck
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0
