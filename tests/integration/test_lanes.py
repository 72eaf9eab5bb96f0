"""Many tables at once: the Task graph's load lanes run at the same time, each in its own session (as
Snowflake runs sibling tasks), under a driver-level simulation of Snowflake's lock-waiter limit
(`lock_limit.py`): a write to a control table waits for that table's lock, and the 21st waiter is aborted
with error 625. The graph is the product's declaration (`graph.declare`) run by `graph.run_graph` with a
thread per lane; each node calls the function its task's procedure calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from aurora_sync import cycle
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs import handlers
from stored_procs.orchestration import graph, runs
from stored_procs.statement import Stmt, run
from sync_contract.manifest import manifest_prefix
from tests.integration.lock_limit import LockLimit, install
from tests.integration.signed import signed_body

pytestmark = pytest.mark.integration


@pytest.fixture
def lock_limit(monkeypatch: pytest.MonkeyPatch) -> LockLimit:
    """The waiter limit at the driver boundary, watching nothing yet (`_watch` adds a control schema)."""
    return install(LockLimit(set()), monkeypatch)


CONTROL_TABLES = ("LEASES", "MANIFESTS", "WATERMARKS", "RUNS", "QUARANTINE", "LOAD_FILES", "INBOX", "RUN_SUMMARIES")


def _tables(pg: Any, harness: Any, prefix: str, count: int) -> list[str]:
    cur = pg.cursor()
    names = [f"{prefix}_{i:02d}" for i in range(count)]
    for i, name in enumerate(names):
        cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v int NOT NULL, note text)")
        cur.execute(f"INSERT INTO public.{name} SELECT g, g, '{name}' FROM generate_series(1, {i + 1}) g")
        harness.add(f"public.{name}", ["id"], "v", late_row_guard="false")
    return names


@contextmanager
def _task_session(config: Any) -> Iterator[Any]:
    """A session of its own, as each task has, whose current schema is the control schema (a task runs
    in its own schema; the emulator's MERGE also needs a current schema)."""
    with snowpark_session(config.snowflake_connect, config.database) as session:
        run(session, Stmt(f"USE SCHEMA {config.place.schema}"))
        yield session


def _run_graph(harness: Any, lanes: int, skip_export: str = "") -> tuple[str, dict[str, str], dict[str, Any]]:
    """One graph run: ROOT, REQUEST_EXPORTS (of every table but `skip_export`) and INTAKE in the harness's
    session, the lanes at once (a session and a thread each), then the FINALIZER. Returns the run id,
    the tasks' states and their results."""
    config, session = harness.config, harness.snow
    run_id, results = runs.new_run_id(), {}
    reports = [cycle.TableReport(spec) for spec in config.tables if spec.source_table != skip_export]

    def action(node: graph.Node) -> bool:
        try:
            if node.name == graph.ROOT:
                cycle.prepare(session, config)
            elif node.name == graph.REQUEST_EXPORTS:
                cycle.request_exports(session, config, harness.exporter, reports, run_id=run_id)
            elif node.name == graph.INTAKE:
                results[node.name] = handlers.intake_manifests_at(session, config.place, run_id)
            elif node.procedure == "LOAD_LANE":
                lane, count = (int(a) for a in node.args)
                with _task_session(config) as own:
                    results[node.name] = handlers.load_lane_at(own, config.place, config.database, lane, count, run_id)
            else:
                results[node.name] = runs.finalize(session, config.place, run_id)
        except Exception as err:  # a failed task
            results[node.name] = {"error": f"{type(err).__name__}: {err}"}
            return False
        return True

    def intake_value() -> str | None:
        taken = results.get(graph.INTAKE)
        return graph.intake_answer(len(taken["tables_to_load"])) if taken else None

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        tasks = graph.run_graph(graph.declare(config.tables, lanes), action, intake_value, pool.map)
    return run_id, tasks, results


def _watch(limit: LockLimit, harness: Any) -> None:
    limit.watched |= {harness.control(t) for t in CONTROL_TABLES}


def test_thirty_tables_load_through_four_lanes_at_once_within_the_lock_waiter_limit(pg, harness, lock_limit):
    names = _tables(pg, harness, "lane", 30)
    harness.cycle(export=False)  # control tables and the stage
    _watch(lock_limit, harness)
    lock_limit.hold_s = 0.02  # each control-table write holds its lock a while: the lanes do queue

    run_id, tasks, results = _run_graph(harness, lanes=4)

    assert tasks == {
        "ROOT": "SUCCEEDED",
        "REQUEST_EXPORTS": "SUCCEEDED",
        "INTAKE": "SUCCEEDED",
        "LANE_1": "SUCCEEDED",
        "LANE_2": "SUCCEEDED",
        "LANE_3": "SUCCEEDED",
        "LANE_4": "SUCCEEDED",
        "FINALIZER": "SUCCEEDED",
    }, results
    assert len(results[graph.INTAKE]["pending_tables"]) == 30
    loaded = {source: t["status"] for k in range(1, 5) for source, t in results[f"LANE_{k}"]["tables"].items()}
    assert loaded == {f"public.{n}": "SUCCEEDED" for n in names}  # each table once, by one lane
    assert [len(results[f"LANE_{k}"]["tables"]) for k in range(1, 5)] == [8, 8, 7, 7]
    for i, name in enumerate(names):
        rows = harness.query(f'SELECT "ID", "V", "NOTE" FROM "ANALYTICS"."PUBLIC"."{name.upper()}" ORDER BY "ID"')
        assert [tuple(r) for r in rows] == [(g, g, name) for g in range(1, i + 2)], name
        assert harness.watermark(name) == str(i + 1), name
    statuses = harness.query(f"SELECT DISTINCT STATUS FROM {harness.control('MANIFESTS')}")
    assert [r[0] for r in statuses] == ["LOADED"]
    summary = results[graph.FINALIZER]
    assert (summary["status"], summary["tables_succeeded"], summary["rows_loaded"]) == ("SUCCEEDED", 30, 465)
    runs_recorded = harness.query(f"SELECT COUNT(*) FROM {harness.control('RUNS')} WHERE RUN_ID = ?", run_id)
    assert runs_recorded[0][0] == 30
    # the lanes did contend for the control tables, but never more than the lanes wait for one of them
    assert lock_limit.aborted.total() == 0, lock_limit.aborted
    assert 1 <= max(lock_limit.most_waiting.values(), default=0) <= 3, lock_limit.most_waiting
    assert lock_limit.writes[harness.control("LEASES")] >= 60  # a lease taken and released per table

    # nothing new: INTAKE answers 0 and no lane wakes (their WHEN is false: no compute on Snowflake)
    _, quiet, results = _run_graph(harness, lanes=4)
    assert results[graph.INTAKE]["pending_tables"] == []
    assert [quiet[f"LANE_{k}"] for k in range(1, 5)] == ["SKIPPED"] * 4
    assert quiet["FINALIZER"] == "SUCCEEDED" and results[graph.FINALIZER]["status"] == "SUCCEEDED"


def test_thirty_loads_at_once_as_thirty_table_tasks_would_run_exceed_the_waiter_limit(pg, harness, lock_limit):
    """What the lanes avoid, and proof that the simulation can fail a test: thirty loads started at once
    (one task per table, the graph before the lanes) queue on the LEASES lock until 20 wait, and the
    statements past that are aborted with 625."""
    names = _tables(pg, harness, "crowd", 30)
    harness.cycle(export=False)
    reports = [cycle.TableReport(spec) for spec in harness.config.tables]
    cycle.request_exports(harness.snow, harness.config, harness.exporter, reports)
    run_id = runs.new_run_id()
    assert len(handlers.intake_manifests_at(harness.snow, harness.config.place, run_id)["pending_tables"]) == 30
    _watch(lock_limit, harness)
    lock_limit.hold_s = 0.1
    config = harness.config
    started = threading.Barrier(len(names))  # the tasks start together, as siblings after INTAKE do

    def one_table_task(name: str) -> str:
        with _task_session(config) as own:
            started.wait()
            try:
                return str(handlers.load_table_at(own, config.place, config.database, "public", name, run_id)["status"])
            except Exception as err:  # the lock aborts outlasted the retries: this task failed
                return type(err).__name__

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        outcomes = list(pool.map(one_table_task, names))

    leases = harness.control("LEASES")
    assert lock_limit.most_waiting[leases] == lock_limit.limit == 20
    assert lock_limit.aborted[leases] > 0, (lock_limit.aborted, outcomes)


def test_a_load_whose_control_table_writes_are_aborted_for_the_lock_limit_is_retried_and_succeeds(
    pg, harness, lock_limit
):
    names = _tables(pg, harness, "aborted", 2)
    harness.cycle(export=False)
    _watch(lock_limit, harness)
    # the load path's UPDATE / DELETE / MERGE statements, and the finalizer's (RUNS only takes INSERTs)
    injected = {"LEASES": 2, "MANIFESTS": 1, "WATERMARKS": 2, "RUN_SUMMARIES": 1}
    for table, count in injected.items():
        lock_limit.abort_next(harness.control(table), count)

    run_id, tasks, results = _run_graph(harness, lanes=2)

    assert set(tasks.values()) == {"SUCCEEDED"}, results
    assert {harness.control(t): n for t, n in injected.items()} == dict(lock_limit.aborted)
    for i, name in enumerate(names):
        assert harness.watermark(name) == str(i + 1)
        rows = harness.query(f'SELECT "ID" FROM "ANALYTICS"."PUBLIC"."{name.upper()}" ORDER BY "ID"')
        assert [r[0] for r in rows] == list(range(1, i + 2))
    assert results[graph.FINALIZER]["status"] == "SUCCEEDED"
    # a lane retried within the same run (TASK_AUTO_RETRY_ATTEMPTS) skips what the run already loaded
    config = harness.config
    again = handlers.load_lane_at(harness.snow, config.place, config.database, 1, 2, run_id)
    assert again["tables"] == {}
    recorded = harness.query(f"SELECT COUNT(*) FROM {harness.control('RUNS')} WHERE RUN_ID = ?", run_id)
    assert recorded[0][0] == 2


def test_a_table_failing_for_good_is_recorded_and_neither_its_lane_nor_the_graph_fails(pg, harness, lock_limit):
    names = _tables(pg, harness, "sick", 6)
    harness.cycle(export=False)
    _watch(lock_limit, harness)
    bad = "sick_03"
    reports = [cycle.TableReport(spec) for spec in harness.config.tables if spec.source_table == bad]
    cycle.request_exports(harness.snow, harness.config, harness.exporter, reports)
    # its manifest claims a row its file does not hold: the load fails closed, every time
    s3 = boto3.client("s3", endpoint_url=harness.stack.endpoints.s3_endpoint, region_name=REGION)
    (item,) = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", bad))["Contents"]
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
    doc["rows"], doc["files"][0]["rows"] = 5, 5
    s3.put_object(Bucket=BUCKET, Key=item["Key"], Body=signed_body(doc))

    outcomes = []
    for attempt in range(3):  # as many runs as SUSPEND_TASK_AFTER_NUM_FAILURES = 3 would need
        if attempt:
            pg.cursor().execute(f"INSERT INTO public.{names[0]} VALUES ({99 + attempt}, {99 + attempt}, 'later')")
        outcomes.append(_run_graph(harness, lanes=2, skip_export=bad))

    for number, (_, tasks, results) in enumerate(outcomes):  # no task failed: nothing suspends the graph
        assert set(tasks.values()) == {"SUCCEEDED"}, results
        assert (results[graph.FINALIZER]["status"], results[graph.FINALIZER]["tables_failed"]) == (
            "FAILED",
            [f"public.{bad}"],
        )
        lane = next(r for k, r in results.items() if k.startswith("LANE_") and f"public.{bad}" in r["tables"])
        assert lane["failed"] == [f"public.{bad}"]
        # its lane went on with its other tables: all six had something to load in the first run
        assert len(lane["tables"]) == (3 if number == 0 else 1)
    # the other tables went on loading, run after run
    for i, name in enumerate(names):
        if name != bad:
            count = harness.query(f'SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."{name.upper()}"')[0][0]
            assert count == i + 1 + (2 if i == 0 else 0), name
            assert harness.watermark(name) == ("101" if i == 0 else str(i + 1)), name
    # the failing table: its watermark unmoved, each run's failure recorded, its manifest quarantined
    assert harness.watermark(bad) is None
    ((status, attempts, error),) = harness.query(
        f"SELECT STATUS, ATTEMPTS, ERROR FROM {harness.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", bad
    )
    assert (status, attempts) == ("QUARANTINED", 3) and "loaded 4 rows, its manifest entry says 5" in error
    recorded = harness.query(
        f"SELECT RUN_ID, STATUS FROM {harness.control('RUNS')} WHERE SOURCE_TABLE = ? ORDER BY FINISHED_AT", bad
    )
    graph_runs = [run_id for run_id, _, _ in outcomes]
    assert [tuple(r) for r in recorded if r[0] in graph_runs] == [(run_id, "FAILED") for run_id in graph_runs]
    assert lock_limit.aborted.total() == 0

    # quarantined, nothing pending any more: still a table to load (it is stuck behind that export), so
    # its failure is reported again and only the one lane it needs wakes
    _, tasks, results = _run_graph(harness, lanes=2, skip_export=bad)
    assert results[graph.INTAKE]["tables_to_load"] == [f"public.{bad}"]
    assert (tasks["LANE_1"], tasks["LANE_2"], tasks["FINALIZER"]) == ("SUCCEEDED", "SKIPPED", "SUCCEEDED")
    stuck = results["LANE_1"]["tables"][f"public.{bad}"]
    assert stuck["status"] == "FAILED" and "waits on 1 QUARANTINED export(s)" in stuck["error"]
    assert results[graph.FINALIZER]["tables_failed"] == [f"public.{bad}"]
