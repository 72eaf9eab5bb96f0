"""A crash at every step boundary of a cycle, then a rerun: the target equals the source, no key twice,
the watermark right (docs/CORRECTNESS.md)."""

from __future__ import annotations

import pytest

from sync_contract import failpoints
from tests.integration.crashes import compare, cycle_in_child, expire_leases, local_toml

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("point", failpoints.POINTS)
def test_a_crash_at_a_step_boundary_is_repaired_by_the_next_run(pg, harness, point):
    table = "crash_" + point.replace(":", "_")
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"CREATE TABLE public.{table}_full (code int PRIMARY KEY, name text)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'v' || g, now() FROM generate_series(1, 200) g")
    cur.execute(f"INSERT INTO public.{table}_full SELECT g, 'n' || g FROM generate_series(1, 20) g")
    h = harness.add(f"public.{table}", ["id"], "updated_at").add(f"public.{table}_full", ["code"])
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0

    # changes of every kind, then a run killed at the point, then a run that finishes
    cur.execute(f"UPDATE public.{table} SET v = v || '!', updated_at = clock_timestamp() WHERE id % 7 = 0")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'w' || g, clock_timestamp() FROM generate_series(201, 260) g")
    cur.execute(f"DELETE FROM public.{table}_full WHERE code % 5 = 0")
    cur.execute(f"UPDATE public.{table}_full SET name = upper(name) WHERE code % 3 = 0")
    assert cycle_in_child(toml, point) == failpoints.EXIT_CODE, f"{point} was not reached"
    expire_leases(h)
    assert cycle_in_child(toml) == 0

    verdict = compare(h)
    assert verdict.details == [] and verdict.rows_compared == 260 + 16
    cur.execute(f"SELECT max(updated_at)::text FROM public.{table}")
    assert h.watermark(table) == cur.fetchone()[0]
    statuses = h.query(f"SELECT DISTINCT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table)
    assert {r[0] for r in statuses} <= {"LOADED", "SUPERSEDED"}
