"""Tables larger than one invocation in the app: REQUEST_EXPORTS' asynchronous request of a table configured
with max_rows_per_invocation is answered by a plan, whose parts the exporter invokes itself (one
asynchronous invocation each, lambda_exporter.fan_out_async); the part that ends the export answers the
request. Driven as the Task graph drives it (REQUEST_EXPORTS, then LOAD_PENDING: INTAKE and LOAD), on the
embedded stack's Lambda endpoint, asserting the target's values, the watermark and EXPORT_REQUESTS / RUNS."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import psycopg2
import pytest

from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs.statement import Stmt, run
from sync_contract.manifest import manifest_prefix, parse_manifest
from tests.integration.test_app_procedures import app, call  # noqa: F401  (app: a fixture)
from tests.integration.test_async_exports import T0, _wait_for_answer, _watermark

pytestmark = pytest.mark.integration

ROWS, MAX_ROWS = 3000, 1000  # three parts


def _setup(session: Any, stack: Any, table: str, watermark: str | None, mode: str) -> None:
    ep = stack.endpoints
    call(session, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(session, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(session, "SET_TARGET_DATABASE", "ANALYTICS")
    call(session, "ADD_TABLE", f"public.{table}", ["id"], watermark, mode, f"ASYNC.{table.upper()}")
    configured = call(session, "CONFIGURE_TABLE", f"public.{table}", {"max_rows_per_invocation": MAX_ROWS})
    assert configured["max_rows_per_invocation"] == MAX_ROWS


def _manifests(stack: Any, keys: list[str]) -> list[Any]:
    s3 = boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint, region_name=REGION)
    return [parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())) for k in keys]


def _wait_for_manifests(stack: Any, table: str, count: int, timeout_s: float = 60.0) -> None:
    s3 = boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint, region_name=REGION)
    prefix, deadline = PREFIX + manifest_prefix("public", table), time.monotonic() + timeout_s
    while (found := s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount", 0)) < count:
        assert time.monotonic() < deadline, f"{found} manifests of {table} within {timeout_s} s, expected {count}"
        time.sleep(0.1)


def _source(pg: Any, table: str) -> list[tuple[Any, ...]]:
    cur = pg.cursor()
    cur.execute(f"SELECT id, note FROM public.{table} ORDER BY id")
    return [tuple(r) for r in cur.fetchall()]


def _target(session: Any, table: str) -> list[tuple[Any, ...]]:
    rows = run(session, Stmt(f'SELECT "ID", "NOTE" FROM "ANALYTICS"."ASYNC"."{table.upper()}" ORDER BY "ID"'))
    return [tuple(r) for r in rows]


def _request_rows(session: Any, table: str) -> list[tuple[Any, ...]]:
    rows = run(
        session,
        Stmt(
            "SELECT STATUS, ERROR, ROWS_EXPORTED, MANIFESTS FROM STATE.EXPORT_REQUESTS WHERE SOURCE_TABLE = ? "
            "ORDER BY REQUESTED_AT",
            (table,),
        ),
    )
    return [tuple(r) for r in rows]


def _exported(session: Any, stack: Any, run_id: str, table: str) -> dict[str, Any]:
    requested = call(session, "REQUEST_EXPORTS", run_id)["tables"][f"public.{table}"]
    assert requested["status"] == "REQUESTED"
    try:
        return _wait_for_answer(stack, requested["request_id"], timeout_s=120)
    except AssertionError as err:  # what the Lambda endpoint's process said (its log), to see why
        log = stack.endpoints.workdir / "logs" / "lambda.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
        raise AssertionError(f"{err}\n--- lambda.log ---\n{tail}") from err


def test_an_async_request_of_a_table_larger_than_one_invocation_is_exported_by_parts_and_loads_whole(
    pg,
    app,  # noqa: F811
    stack,
):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.af_big (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL)")
    cur.execute(
        f"INSERT INTO public.af_big SELECT g, 'n' || g, {T0} + g * INTERVAL '1 s' FROM generate_series(1, {ROWS}) g"
    )
    _setup(app, stack, "af_big", "updated_at", "incremental")

    answer = _exported(app, stack, "run-f1", "af_big")
    assert (answer["status"], answer["rows"], answer["invocations"]) == ("exported", ROWS, 4)  # plan + 3 parts
    manifests = sorted(_manifests(stack, answer["manifest_keys"]), key=lambda m: m.chunk_index)
    assert [(m.chunk_index, m.chunk_count) for m in manifests] == [(0, 3), (1, 3), (2, 3)]
    assert len({m.part.snapshot_at for m in manifests}) == 3  # three invocations, a snapshot each
    assert len({m.created_at for m in manifests}) == 1 and all(m.rows > 0 for m in manifests)
    assert answer["window"]["high"] == "2026-04-01 00:50:00+00"

    loaded = call(app, "LOAD_PENDING")
    assert (loaded["status"], loaded["rows_loaded"]) == ("SUCCEEDED", ROWS)
    assert _target(app, "af_big") == _source(pg, "af_big")  # every row, every value
    assert _watermark(app) == "2026-04-01 00:50:00+00"  # the source's max(updated_at)
    assert _request_rows(app, "af_big") == [("EXPORTED", None, ROWS, 3)]

    # the next request continues from the fan-out's high: one invocation, one new row
    cur.execute(f"INSERT INTO public.af_big VALUES (5000, 'late', {T0} + INTERVAL '2 hours')")
    again = _exported(app, stack, "run-f2", "af_big")
    assert (again["status"], again["rows"], again.get("invocations", 1)) == ("exported", 1, 1)
    assert call(app, "LOAD_PENDING")["rows_loaded"] == 1
    assert _target(app, "af_big") == _source(pg, "af_big")
    assert _watermark(app) == "2026-04-01 02:00:00+00"


class _Writer:
    """Keeps changing one row of the last part's key range, one committed update after another: a full-mode
    part of that range finds its rows changed since the plan (StalePart) whenever it runs."""

    def __init__(self, dsn: str, table: str, key: int) -> None:
        self.stop, self.count = threading.Event(), 0
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.thread = threading.Thread(target=self._run, args=(table, key), daemon=True)
        self.thread.start()

    def _run(self, table: str, key: int) -> None:
        cur = self.conn.cursor()
        while not self.stop.is_set():
            self.count += 1
            cur.execute(f"UPDATE public.{table} SET note = %s WHERE id = %s", (f"w{self.count}", key))
            self.stop.wait(0.002)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.conn.close()


def test_a_part_that_fails_answers_the_request_failed_and_nothing_of_its_export_loads(
    pg,
    app,  # noqa: F811
    stack,
    endpoints,
):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.af_full (id int PRIMARY KEY, note text)")
    cur.execute(f"INSERT INTO public.af_full SELECT g, 'n' || g FROM generate_series(1, {ROWS}) g")
    _setup(app, stack, "af_full", None, "full")
    first = _exported(app, stack, "run-g1", "af_full")
    assert (first["status"], first["rows"], first["invocations"]) == ("exported", ROWS, 4)
    assert call(app, "LOAD_PENDING")["rows_loaded"] == ROWS
    loaded = _source(pg, "af_full")
    assert _target(app, "af_full") == loaded
    fingerprint = _watermark(app)
    assert fingerprint == first["window"]["high"] and fingerprint.startswith(f"{ROWS}:")

    writer = _Writer(endpoints.pg_dsn, "af_full", 2990)  # the last of three key ranges
    try:
        failed = _exported(app, stack, "run-g2", "af_full")
    finally:
        writer.close()
    assert writer.count > 0 and failed["status"] == "failed", failed
    assert "the table changed during the fan-out export" in failed["error"]
    assert "fan-out part 3 of 3 (id from " in failed["error"] and "the next request plans it again" in failed["error"]

    _wait_for_manifests(stack, "af_full", 3 + 2)  # parts 1 and 2 may still be writing when part 3 answers
    report = call(app, "LOAD_PENDING")
    assert report["status"] == "FAILED" and report["tables_failed"] == ["public.af_full"]
    ((status, error),) = run(
        app,
        Stmt("SELECT STATUS, ERROR FROM STATE.RUNS WHERE RUN_ID = ? AND SOURCE_TABLE = 'af_full'", (report["run_id"],)),
    )
    assert status == "FAILED" and "fan-out part 3 of 3" in error
    assert _target(app, "af_full") == loaded  # nothing of the incomplete export applied
    assert _watermark(app) == fingerprint
    assert [r[0] for r in _request_rows(app, "af_full")] == ["EXPORTED", "FAILED"]
    waiting = run(app, Stmt("SELECT STATUS FROM STATE.MANIFESTS WHERE SOURCE_TABLE = 'af_full' AND STATUS <> 'LOADED'"))
    assert sorted(s for (s,) in waiting) == ["NEW", "NEW"]  # parts 1 and 2, waiting for a part that never comes

    # the table holds still again: the next request plans again and every part loads
    again = _exported(app, stack, "run-g3", "af_full")
    assert (again["status"], again["rows"], again["invocations"]) == ("exported", ROWS, 4)
    recovered = call(app, "LOAD_PENDING")
    assert recovered["status"] == "SUCCEEDED" and recovered["tables_failed"] == []
    now = _source(pg, "af_full")
    assert _target(app, "af_full") == now and dict(now)[2990] == f"w{writer.count}"
    assert _watermark(app) == again["window"]["high"] != fingerprint
