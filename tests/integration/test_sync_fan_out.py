"""SYNC_ALL / SYNC_TABLE invoke the exporter synchronously and cannot drive a fan-out (only the scheduled
graph's asynchronous REQUEST_EXPORTS can: lambda_exporter.fan_out_async). A table whose initial export
plans parts (max_rows_per_invocation) fails its run naming why and what to do, instead of ending
NO_CHANGE with nothing loaded (docs/DEPLOYMENT.md, "A table too large for one Lambda invocation")."""

from __future__ import annotations

import pytest

from stored_procs.statement import Stmt, run
from tests.integration.test_app_procedures import app, call, configure  # noqa: F401  (app: a fixture)

pytestmark = pytest.mark.integration


def test_sync_all_of_a_table_that_fans_out_fails_naming_the_scheduled_graph(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.sfo_big (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.sfo_big SELECT g, now() - g * INTERVAL '1 s' FROM generate_series(1, 40) g")
    configure(app, stack, "public.sfo_big", "SFO.SFO_BIG")
    call(app, "CONFIGURE_TABLE", "public.sfo_big", {"max_rows_per_invocation": 10})

    for outcome in (call(app, "SYNC_ALL"), call(app, "SYNC_TABLE", "public.sfo_big")):
        assert outcome["status"] == "FAILED" and outcome["tables_failed"] == ["public.sfo_big"], outcome
        ((status, error),) = run(
            app, Stmt("SELECT STATUS, ERROR FROM STATE.RUNS WHERE RUN_ID = ?", (outcome["run_id"],))
        )
        assert status == "FAILED", error
        assert "4 parts" in error and "max_rows_per_invocation" in error and "ENABLE_SCHEDULE" in error
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.WATERMARKS"))[0][0] == 0
