"""Failures that used to look like success: an export that failed, or exported manifests intake never
found, is recorded as a FAILED run of the table (RUNS, EXPORT_REQUESTS, TABLE_STATUS, FAILURES), on the
local runner and in the Task graph alike; the watermark and LAST_SUCCESS_AT do not move."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import streamlit

from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs import handlers
from stored_procs.configuration import app_config
from stored_procs.monitoring.views import view_ddl
from stored_procs.orchestration import graph_run, lambda_invoke
from stored_procs.sql import create_stage
from stored_procs.statement import Stmt, run
from sync_contract.manifest import manifest_prefix
from tests.integration.test_app_procedures import _dashboard, app, call, configure  # noqa: F401  (app: a fixture)
from tests.integration.test_cli import _cli

pytestmark = pytest.mark.integration

# (setup SQL, source, primary key, watermark, extra config, what the recorded error says)
BAD_INPUT: dict[str, tuple[list[str], str, list[str], str, dict[str, str], str]] = {
    "missing table": ([], "public.fr_nowhere", ["id"], "v", {}, "does not exist in the source database"),
    "missing key column": (
        ["CREATE TABLE public.fr_nokey (id int, v int NOT NULL)", "INSERT INTO public.fr_nokey VALUES (1, 1)"],
        "public.fr_nokey",
        ["code"],
        "v",
        {"late_row_guard": "false"},
        "column 'code' does not exist in public.fr_nokey",
    ),
    "date watermark": (
        [
            "CREATE TABLE public.fr_date (id int PRIMARY KEY, d date NOT NULL)",
            "INSERT INTO public.fr_date VALUES (1, '2026-01-01')",
        ],
        "public.fr_date",
        ["id"],
        "d",
        {},
        "watermark column 'd' has type 'date'",
    ),
    "bit(8) column": (
        [
            "CREATE TABLE public.fr_bits (id int PRIMARY KEY, flags bit(8), v int NOT NULL)",
            "INSERT INTO public.fr_bits VALUES (1, B'10101010', 1)",
        ],
        "public.fr_bits",
        ["id"],
        "v",
        {"late_row_guard": "false"},
        "bit(8)",
    ),
    "chunks on a view": (
        ["CREATE VIEW public.fr_view AS SELECT g AS id, g AS v FROM generate_series(1, 10) g"],
        "public.fr_view",
        ["id"],
        "v",
        {"chunks": "3", "late_row_guard": "false"},
        "public.fr_view is a view",
    ),
}


def _views(h: Any) -> None:
    """TABLE_STATUS, FAILURES, ... over the harness's control schema (the app creates them in CORE)."""
    for stmt in view_ddl(h.config.place, h.control_schema).values():
        h.query(stmt.text)


def _recorded(h: Any, table: str, run_id: str) -> dict[str, Any]:
    runs = h.query(
        f"SELECT STATUS, ERROR FROM {h.control('RUNS')} WHERE RUN_ID = ? AND SOURCE_TABLE = ?", run_id, table
    )
    requests = h.query(
        f"SELECT STATUS, ERROR, MODE FROM {h.control('EXPORT_REQUESTS')} WHERE RUN_ID = ? AND SOURCE_TABLE = ?",
        run_id,
        table,
    )
    status = h.query(
        f"SELECT LAST_SUCCESS_AT IS NULL, LAST_RUN_STATUS, LAST_ERROR FROM {h.control('TABLE_STATUS')} "
        "WHERE SOURCE_TABLE = ?",
        table,
    )
    failures = h.query(
        f"SELECT KIND, ERROR FROM {h.control('FAILURES')} WHERE RUN_ID = ? AND SOURCE_TABLE = ? ORDER BY KIND",
        run_id,
        table,
    )
    return {
        "runs": [tuple(r) for r in runs],
        "requests": [tuple(r) for r in requests],
        "status": tuple(status[0]),
        "failures": [tuple(r) for r in failures],
    }


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_a_failed_export_is_a_failed_run_everywhere_it_is_recorded(case, pg, harness):
    setup, source, pk, watermark, extra, says = BAD_INPUT[case]
    for statement in setup:
        pg.cursor().execute(statement)
    h = harness.add(source, pk, watermark, **extra)
    report = h.cycle()
    _views(h)
    table = source.split(".")[1]

    (t,) = report.tables
    assert t.failed and says in t.errors[0]
    recorded = _recorded(h, table, report.run_id)
    ((status, error),) = recorded["runs"]
    assert status == "FAILED" and error.startswith("export failed: ") and says in error
    ((request_status, request_error, mode),) = recorded["requests"]
    assert (request_status, mode) == ("FAILED", "incremental") and says in request_error
    assert recorded["status"][:2] == (True, "FAILED") and says in recorded["status"][2]
    assert [kind for kind, _ in recorded["failures"]] == ["EXPORT_REQUEST", "LOAD"]
    assert all(says in e for _, e in recorded["failures"])
    assert h.watermark(table) is None
    assert h.query(f"SELECT COUNT(*) FROM {h.control('MANIFESTS')}")[0][0] == 0


def test_last_success_stays_when_a_synced_table_starts_failing_and_the_cli_exits_1(pg, harness, tmp_path):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fr_later (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.fr_later SELECT g, g FROM generate_series(1, 10) g")
    config = tmp_path / "sync.toml"
    config.write_text(harness.add("public.fr_later", ["id"], "v", late_row_guard="false").toml)
    assert _cli("run", "--config", str(config)).returncode == 0
    _views(harness)
    (succeeded_at,) = harness.query(f"SELECT LAST_SUCCESS_AT FROM {harness.control('TABLE_STATUS')}")[0]
    assert succeeded_at is not None

    cur.execute("ALTER TABLE public.fr_later ADD COLUMN flags bit(8)")
    cur.execute("INSERT INTO public.fr_later VALUES (11, 11, B'00000001')")
    failed = _cli("run", "--config", str(config))
    assert failed.returncode == 1, failed.stdout
    assert "public.fr_later: export failed" in failed.stdout and "bit(8)" in failed.stdout
    assert failed.stdout.count("export failed") == 1  # once, though RUNS.ERROR repeats it

    status = harness.query(f"SELECT LAST_SUCCESS_AT, LAST_RUN_STATUS FROM {harness.control('TABLE_STATUS')}")[0]
    assert tuple(status) == (succeeded_at, "FAILED")
    (run_id,) = harness.query(f"SELECT RUN_ID FROM {harness.control('RUNS')} WHERE STATUS = 'FAILED'")[0]
    assert harness.query(f"SELECT STATUS FROM {harness.control('EXPORT_REQUESTS')} WHERE RUN_ID = ?", run_id) == [
        ("FAILED",)
    ]
    assert harness.watermark("fr_later") == "10"
    rows = harness.query('SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."FR_LATER" ORDER BY "ID"')
    assert [tuple(r) for r in rows] == [(i, i) for i in range(1, 11)]


def test_manifests_the_stage_cannot_see_fail_the_run_naming_their_keys(pg, harness, tmp_path):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fr_lost (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.fr_lost SELECT g, g * 10 FROM generate_series(1, 20) g")
    config = tmp_path / "sync.toml"
    config.write_text(harness.add("public.fr_lost", ["id"], "v", late_row_guard="false").toml)
    place = harness.config.place
    harness.query("CREATE SCHEMA IF NOT EXISTS " + place.schema)
    # the stage points at another prefix than the exporter writes to (a configuration mistake)
    harness.query(create_stage(place, f"s3://{BUCKET}/elsewhere/", None).text)

    result = _cli("run", "--config", str(config))
    assert result.returncode == 1, result.stdout
    assert "exported manifests not found" in result.stdout
    (status, error), *_ = harness.query(f"SELECT STATUS, ERROR FROM {harness.control('RUNS')}")
    assert status == "FAILED" and "exported manifests not found" in error
    assert (
        PREFIX + manifest_prefix("public", "fr_lost") in error and "stage points at another bucket or prefix" in error
    )
    (rows, manifests, keys) = harness.query(
        f"SELECT ROWS_EXPORTED, MANIFESTS, MANIFEST_KEYS FROM {harness.control('EXPORT_REQUESTS')}"
    )[0]
    assert (rows, manifests) == (20, 1) and json.loads(keys)[0] in error
    assert harness.watermark("fr_lost") is None
    _views(harness)
    assert harness.query(f"SELECT LAST_SUCCESS_AT IS NULL FROM {harness.control('TABLE_STATUS')}")[0][0] is True

    # the stage fixed: the next run exports from the same watermark and loads every row
    harness.query(create_stage(place, harness.config.s3.url, None, replace=True).text)
    assert _cli("run", "--config", str(config)).returncode == 0
    loaded = harness.query('SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."FR_LOST" ORDER BY "ID"')
    assert [tuple(r) for r in loaded] == [(i, i * 10) for i in range(1, 21)]
    assert harness.watermark("fr_lost") == "200"


def test_the_graph_records_a_failed_export_and_manifests_removed_before_intake(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fr_app (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.fr_app SELECT g, TIMESTAMPTZ '2026-03-01 00:00:00+00' + g * INTERVAL '1 s' "
        "FROM generate_series(1, 8) g"
    )
    configure(app, stack, "public.fr_app", "FR_APP.FR_APP")
    place = handlers.app_place(app)

    # the exporter fails (a bit(8) column it cannot map): REQUEST_EXPORTS records it, INTAKE finds
    # nothing anywhere so the LOAD task is skipped, and the FINALIZER records the table's FAILED run
    cur.execute("ALTER TABLE public.fr_app ADD COLUMN flags bit(8)")
    failed = call(app, "SYNC_ALL")
    assert failed["status"] == "FAILED" and failed["tables_failed"] == ["public.fr_app"]
    assert failed["tasks"]["INTAKE"] == "SUCCEEDED"
    ((status, error),) = run(app, Stmt("SELECT STATUS, ERROR FROM STATE.RUNS WHERE RUN_ID = ?", (failed["run_id"],)))
    assert status == "FAILED" and error.startswith("export failed: ") and "bit(8)" in error
    kinds = run(app, Stmt("SELECT KIND FROM CORE.FAILURES WHERE RUN_ID = ? ORDER BY KIND", (failed["run_id"],)))
    assert [r[0] for r in kinds] == ["EXPORT_REQUEST", "LOAD"]
    status_row = run(app, Stmt("SELECT LAST_SUCCESS_AT IS NULL, LAST_RUN_STATUS, LAST_ERROR FROM CORE.TABLE_STATUS"))[0]
    assert status_row[0] is True and status_row[1] == "FAILED" and "bit(8)" in status_row[2]
    page = _dashboard().render(streamlit, app)
    assert (page["failing"], page["failures"]) == (1, 2)  # not "Failing or quarantined 0 ... No failures recorded."
    cur.execute("ALTER TABLE public.fr_app DROP COLUMN flags")

    # the export succeeds but its manifest is gone before INTAKE (removed, or a lifecycle rule)
    s3 = boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint, region_name=REGION)
    real = lambda_invoke.from_settings(app_config.read(app, place))

    def export_then_lose_the_manifests(event: dict[str, Any]) -> dict[str, Any]:
        answer = real(event)
        for key in answer.get("manifest_keys") or []:
            s3.delete_object(Bucket=BUCKET, Key=key)
        return answer

    lost = graph_run.sync(app, place, invoke=export_then_lose_the_manifests)
    # as after a CALL: CHECK_READY created the target schema, which made its database the current one
    run(app, Stmt(f'USE DATABASE "{place.database}"'))
    assert lost["status"] == "FAILED" and lost["tables_failed"] == ["public.fr_app"]
    ((status, error),) = run(app, Stmt("SELECT STATUS, ERROR FROM STATE.RUNS WHERE RUN_ID = ?", (lost["run_id"],)))
    assert (
        status == "FAILED"
        and "exported manifests not found" in error
        and PREFIX + manifest_prefix("public", "fr_app") in error
    )
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.WATERMARKS"))[0][0] == 0

    # nothing wrong any more: the next run exports again and loads every row
    loaded = call(app, "SYNC_ALL")
    assert (loaded["status"], loaded["rows_loaded"]) == ("SUCCEEDED", 8)
    rows = run(app, Stmt('SELECT "ID" FROM "ANALYTICS"."FR_APP"."FR_APP" ORDER BY "ID"'))
    assert [r[0] for r in rows] == list(range(1, 9))
    assert run(app, Stmt("SELECT LAST_SUCCESS_AT IS NOT NULL FROM CORE.TABLE_STATUS"))[0][0] is True


def test_a_local_run_whose_intake_failed_records_the_exported_manifests_as_not_found(pg, harness, monkeypatch):
    pg.cursor().execute("CREATE TABLE public.fr_nointake (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.fr_nointake VALUES (1, 1), (2, 2)")
    h = harness.add("public.fr_nointake", ["id"], "v", late_row_guard="false")
    assert not h.cycle().failed
    # intake can no longer run at all: INBOX without its FILE_NAME column, which the control DDL (run only
    # when its definition changes: cycle_state) does not add back
    h.query(f"DROP TABLE {h.control('INBOX')}")
    h.query(f"CREATE TABLE {h.control('INBOX')} (DOC VARIANT)")
    pg.cursor().execute("INSERT INTO public.fr_nointake VALUES (3, 3)")

    report = h.cycle()
    assert (report.tasks["INTAKE"], report.tasks["FINALIZER"]) == ("FAILED", "SUCCEEDED")
    assert any(name.startswith("LANE_") and state == "SKIPPED" for name, state in report.tasks.items())
    ((status, error),) = h.query(f"SELECT STATUS, ERROR FROM {h.control('RUNS')} WHERE RUN_ID = ?", report.run_id)
    assert status == "FAILED" and "exported manifests not found" in error
    assert PREFIX + manifest_prefix("public", "fr_nointake") in error
    summary = h.query(f"SELECT STATUS, TABLES_FAILED FROM {h.control('RUN_SUMMARIES')} WHERE RUN_ID = ?", report.run_id)
    assert [tuple(r) for r in summary] == [("FAILED", 1)]
    assert h.watermark("fr_nointake") == "2"
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."FR_NOINTAKE"')[0][0] == 2
