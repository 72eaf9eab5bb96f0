"""Pull mode without billed waiting: REQUEST_EXPORTS queues the exports (InvocationType=Event) and returns;
INTAKE takes the exporter's signed answers and the manifests in, in the same run or a later one.

Each test asserts the target's values, the watermark and what EXPORT_REQUESTS / RUNS record: a request in
flight is not requested again; the exporter's failure, reported through its answer, fails the table's run
with the exporter's error and a later success recovers; an invocation that never answers is reported
FAILED after the answer timeout and requested again.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs import handlers
from stored_procs.configuration import app_config
from stored_procs.orchestration import exports, lambda_invoke
from stored_procs.statement import Stmt, run
from sync_contract.answer import answer_doc, answer_key
from tests.integration.test_app_procedures import app, call  # noqa: F401  (app: a fixture)

pytestmark = pytest.mark.integration

T0 = "TIMESTAMPTZ '2026-04-01 00:00:00+00'"


def _setup(session: Any, stack: Any, table: str, answer_timeout_minutes: float | None = None) -> None:
    ep = stack.endpoints
    call(session, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(session, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint, answer_timeout_minutes)
    call(session, "SET_TARGET_DATABASE", "ANALYTICS")
    call(session, "ADD_TABLE", f"public.{table}", ["id"], "updated_at", "incremental", f"ASYNC.{table.upper()}")


def _s3(stack: Any) -> Any:
    return boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint, region_name=REGION)


def _wait_for_answer(stack: Any, request_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """The exporter's answer document, once it is in S3 (the export runs on its own)."""
    s3, key, deadline = _s3(stack), PREFIX + answer_key(request_id), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        except s3.exceptions.NoSuchKey:
            time.sleep(0.1)
    raise AssertionError(f"no answer at {key} within {timeout_s} s")


def _requests(session: Any, table: str) -> list[tuple[Any, ...]]:
    rows = run(
        session,
        Stmt(
            "SELECT RUN_ID, STATUS, ERROR, REQUEST_ID, SETTLED_RUN_ID FROM STATE.EXPORT_REQUESTS "
            "WHERE SOURCE_TABLE = ? ORDER BY REQUESTED_AT",
            (table,),
        ),
    )
    return [tuple(r) for r in rows]


def _run_row(session: Any, run_id: str) -> tuple[Any, ...]:
    ((status, error, rows),) = run(
        session, Stmt("SELECT STATUS, ERROR, ROWS_LOADED FROM STATE.RUNS WHERE RUN_ID = ?", (run_id,))
    )
    return status, error, rows


def _watermark(session: Any) -> str | None:
    rows = run(session, Stmt("SELECT WATERMARK FROM STATE.WATERMARKS"))
    return rows[0][0] if rows else None


def test_request_exports_returns_before_the_export_ends_and_is_not_requested_twice_while_in_flight(
    pg,
    app,  # noqa: F811
    stack,
    endpoints,
):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL)")
    cur.execute(
        f"INSERT INTO public.as_orders SELECT g, 'n' || g, {T0} + g * INTERVAL '1 s' FROM generate_series(1, 500) g"
    )
    _setup(app, stack, "as_orders")

    # the source table is locked: an export cannot finish until the lock goes
    import psycopg2

    locker = psycopg2.connect(endpoints.pg_dsn)
    try:
        locker.cursor().execute("LOCK TABLE public.as_orders IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        first = call(app, "REQUEST_EXPORTS", "run-a1")
        assert time.monotonic() - started < 10
        requested = first["tables"]["public.as_orders"]
        assert requested["status"] == "REQUESTED" and requested["request_id"].startswith("req-")
        key = PREFIX + answer_key(requested["request_id"])
        assert _s3(stack).list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount") == 0  # still exporting

        # the next run does not request the table again while its request is in flight
        second = call(app, "REQUEST_EXPORTS", "run-a2")
        assert second["requested"] == 0 and second["tables"]["public.as_orders"]["status"] == "IN_FLIGHT"
        assert [(r[0], r[1]) for r in _requests(app, "as_orders")] == [("run-a1", "REQUESTED")]
    finally:
        locker.rollback()
        locker.close()

    answer = _wait_for_answer(stack, requested["request_id"])
    assert (answer["status"], answer["rows"]) == ("exported", 500)
    loaded = call(app, "LOAD_PENDING")
    assert (loaded["status"], loaded["rows_loaded"]) == ("SUCCEEDED", 500)
    assert loaded["steps"]["INTAKE"]["answers"] == {"answers": 1, "refused": []}
    rows = run(app, Stmt('SELECT "ID", "NOTE" FROM "ANALYTICS"."ASYNC"."AS_ORDERS" ORDER BY "ID"'))
    assert [tuple(r) for r in rows] == [(i, f"n{i}") for i in range(1, 501)]
    assert _watermark(app) == "2026-04-01 00:08:20+00"
    ((_, status, error, request_id, settled_run),) = _requests(app, "as_orders")
    assert (status, error, request_id, settled_run) == ("EXPORTED", None, requested["request_id"], loaded["run_id"])

    # settled: the next request goes out again, from the new watermark, and its rows load
    cur.execute(f"INSERT INTO public.as_orders VALUES (501, 'late', {T0} + INTERVAL '1 hour')")
    again = call(app, "REQUEST_EXPORTS", "run-a3")["tables"]["public.as_orders"]
    assert again["status"] == "REQUESTED"
    assert _wait_for_answer(stack, again["request_id"])["rows"] == 1
    assert call(app, "LOAD_PENDING")["rows_loaded"] == 1
    assert run(app, Stmt('SELECT "NOTE" FROM "ANALYTICS"."ASYNC"."AS_ORDERS" WHERE "ID" = 501'))[0][0] == "late"
    assert _watermark(app) == "2026-04-01 01:00:00+00"


def test_an_exporter_failure_reported_in_its_answer_fails_the_table_run_and_a_later_success_recovers(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_bits (id int PRIMARY KEY, flags bit(8), updated_at timestamptz NOT NULL)")
    cur.execute(
        f"INSERT INTO public.as_bits SELECT g, B'00000001', {T0} + g * INTERVAL '1 s' FROM generate_series(1, 6) g"
    )
    _setup(app, stack, "as_bits")

    requested = call(app, "REQUEST_EXPORTS", "run-b1")["tables"]["public.as_bits"]
    assert requested["status"] == "REQUESTED"  # the failure is not known yet: nothing waited for it
    answer = _wait_for_answer(stack, requested["request_id"])
    assert answer["status"] == "failed" and "bit(8)" in answer["error"] and "signature" in answer

    failed = call(app, "LOAD_PENDING")
    assert failed["status"] == "FAILED" and failed["tables_failed"] == ["public.as_bits"]
    status, error, rows = _run_row(app, failed["run_id"])
    assert status == "FAILED" and error.startswith("export failed: ") and "bit(8)" in error and rows == 0
    ((_, req_status, req_error, _, settled_run),) = _requests(app, "as_bits")
    assert req_status == "FAILED" and "bit(8)" in req_error and settled_run == failed["run_id"]
    assert _watermark(app) is None
    assert run(app, Stmt("SELECT LAST_RUN_STATUS, LAST_SUCCESS_AT IS NULL FROM CORE.TABLE_STATUS"))[0] == (
        "FAILED",
        True,
    )
    kinds = run(app, Stmt("SELECT KIND, ERROR FROM CORE.FAILURES WHERE RUN_ID = ? ORDER BY KIND", (failed["run_id"],)))
    assert [k for k, _ in kinds] == ["EXPORT_REQUEST", "LOAD"] and all("bit(8)" in e for _, e in kinds)

    # the cause fixed: the failed request is settled, so the table is requested again and loads
    cur.execute("ALTER TABLE public.as_bits DROP COLUMN flags")
    again = call(app, "REQUEST_EXPORTS", "run-b2")["tables"]["public.as_bits"]
    assert again["status"] == "REQUESTED"
    assert _wait_for_answer(stack, again["request_id"])["status"] == "exported"
    recovered = call(app, "LOAD_PENDING")
    assert (recovered["status"], recovered["rows_loaded"]) == ("SUCCEEDED", 6)
    assert [r[0] for r in run(app, Stmt('SELECT "ID" FROM "ANALYTICS"."ASYNC"."AS_BITS" ORDER BY "ID"'))] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert _watermark(app) == "2026-04-01 00:00:06+00"
    assert run(app, Stmt("SELECT LAST_RUN_STATUS, LAST_SUCCESS_AT IS NULL FROM CORE.TABLE_STATUS"))[0] == (
        "SUCCEEDED",
        False,
    )


class _LostInvocations:
    """A Lambda client whose service queues the event (202) and then loses it: the function never runs."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "Event"
        self.events.append(json.loads(Payload))
        return {"StatusCode": 202}


def test_an_invocation_that_never_answers_is_reported_after_the_timeout_and_requested_again(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_lost (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.as_lost SELECT g, {T0} + g * INTERVAL '1 s' FROM generate_series(1, 4) g")
    _setup(app, stack, "as_lost", answer_timeout_minutes=0.05)  # 3 seconds
    place = handlers.app_place(app)
    lost = _LostInvocations()
    invoke = lambda_invoke.event_invoker(FUNCTION, lost)
    sent = exports.request_exports(app, place, invoke, "run-l1", asynchronous=True)["tables"]["public.as_lost"]
    (event,) = lost.events
    assert event["request_id"] == sent["request_id"] and event["table"] == {"schema": "public", "name": "as_lost"}

    # an answer nobody signed settles nothing (a writer of the bucket cannot fail a table)
    forged = answer_doc(sent["request_id"], event["table"], "incremental", "2026-04-01T00:00:00+00:00")
    forged = {**forged, "status": "failed", "error": "forged"}
    _s3(stack).put_object(Bucket=BUCKET, Key=PREFIX + answer_key(sent["request_id"]), Body=json.dumps(forged))
    early = call(app, "LOAD_PENDING")
    (refused,) = early["steps"]["INTAKE"]["answers"]["refused"]
    assert "signature" in refused["error"]
    assert early["status"] == "SUCCEEDED"  # within the timeout: still in flight, nothing failed
    assert [r[1] for r in _requests(app, "as_lost")] == ["REQUESTED"]
    assert call(app, "REQUEST_EXPORTS", "run-l2")["tables"]["public.as_lost"]["status"] == "IN_FLIGHT"

    time.sleep(3.5)
    reported = call(app, "LOAD_PENDING")
    assert reported["status"] == "FAILED" and reported["tables_failed"] == ["public.as_lost"]
    status, error, _ = _run_row(app, reported["run_id"])
    assert status == "FAILED" and "no answer from the exporter within 0.05 minutes" in error
    assert [(r[1], r[4]) for r in _requests(app, "as_lost")] == [("FAILED", reported["run_id"])]
    assert _watermark(app) is None

    # reported lost: the next run requests the table again (the real exporter this time) and loads it
    again = call(app, "REQUEST_EXPORTS", "run-l3")["tables"]["public.as_lost"]
    assert again["status"] == "REQUESTED" and again["request_id"] != sent["request_id"]
    _wait_for_answer(stack, again["request_id"])
    loaded = call(app, "LOAD_PENDING")
    assert (loaded["status"], loaded["rows_loaded"]) == ("SUCCEEDED", 4)
    assert [r[0] for r in run(app, Stmt('SELECT "ID" FROM "ANALYTICS"."ASYNC"."AS_LOST" ORDER BY "ID"'))] == [
        1,
        2,
        3,
        4,
    ]
    assert _watermark(app) == "2026-04-01 00:00:04+00"


def test_an_export_answered_after_its_runs_intake_is_continued_not_repeated_by_the_next_request(
    pg,
    app,  # noqa: F811
    stack,
    endpoints,
):
    import psycopg2

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_slow (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.as_slow SELECT g, {T0} + g * INTERVAL '1 s' FROM generate_series(1, 300) g")
    _setup(app, stack, "as_slow")

    # run 1: the export outlasts the run's INTAKE (the source table is locked until after it)
    locker = psycopg2.connect(endpoints.pg_dsn)
    try:
        locker.cursor().execute("LOCK TABLE public.as_slow IN ACCESS EXCLUSIVE MODE")
        first = call(app, "REQUEST_EXPORTS", "run-c1")["tables"]["public.as_slow"]
        nothing = call(app, "LOAD_PENDING")
        assert (nothing["status"], nothing["rows_loaded"]) == ("SUCCEEDED", 0)
    finally:
        locker.rollback()
        locker.close()
    assert _wait_for_answer(stack, first["request_id"])["rows"] == 300
    cur.execute(f"INSERT INTO public.as_slow SELECT g, {T0} + g * INTERVAL '1 s' FROM generate_series(301, 310) g")

    # run 2: run 1's answer settles the request, and the table is requested from that export's high, not
    # again from the loaded watermark (nothing is loaded yet): no window exported twice, no run skipped
    second = call(app, "REQUEST_EXPORTS", "run-c2")["tables"]["public.as_slow"]
    assert second["status"] == "REQUESTED"
    lows = run(
        app,
        Stmt("SELECT RUN_ID, STATUS, WINDOW_LOW, WINDOW_HIGH FROM STATE.EXPORT_REQUESTS ORDER BY REQUESTED_AT"),
    )
    assert [tuple(r) for r in lows] == [
        ("run-c1", "EXPORTED", None, "2026-04-01 00:05:00+00"),
        ("run-c2", "REQUESTED", "2026-04-01 00:05:00+00", None),
    ]
    assert _wait_for_answer(stack, second["request_id"])["rows"] == 10
    loaded = call(app, "LOAD_PENDING")
    assert (loaded["status"], loaded["rows_loaded"]) == ("SUCCEEDED", 310)
    ids = run(app, Stmt('SELECT "ID" FROM "ANALYTICS"."ASYNC"."AS_SLOW" ORDER BY "ID"'))
    assert [r[0] for r in ids] == list(range(1, 311))
    assert _watermark(app) == "2026-04-01 00:05:10+00"


def test_a_request_whose_answer_is_lost_but_whose_manifests_arrived_is_not_reported_failed(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_mute (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.as_mute SELECT g, {T0} + g * INTERVAL '1 s' FROM generate_series(1, 5) g")
    _setup(app, stack, "as_mute", answer_timeout_minutes=0.05)  # 3 seconds
    place = handlers.app_place(app)
    lost = _LostInvocations()
    sent = exports.request_exports(app, place, lambda_invoke.event_invoker(FUNCTION, lost), "run-m1", asynchronous=True)
    # the exporter runs the request's export and writes its manifests, but its answer never comes (as when
    # the Lambda ends right after the manifests): here the same event, invoked and waited for, minus its id
    (event,) = lost.events
    real = lambda_invoke.from_settings(app_config.read(app, place))
    assert real({k: v for k, v in event.items() if k != "request_id"})["rows"] == 5
    assert call(app, "LOAD_PENDING")["rows_loaded"] == 5  # the manifests are the completion signal
    assert [r[1] for r in _requests(app, "as_mute")] == ["REQUESTED"]

    time.sleep(3.5)
    after = call(app, "LOAD_PENDING")
    assert after["status"] == "SUCCEEDED" and after["tables_failed"] == []
    ((_, status, error, request_id, settled_run),) = _requests(app, "as_mute")
    assert (status, request_id, settled_run) == (
        "EXPORTED",
        sent["tables"]["public.as_mute"]["request_id"],
        after["run_id"],
    )
    assert error.startswith("no answer from the exporter within 0.05 minutes, but manifests of the table arrived")
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.RUNS WHERE STATUS = 'FAILED'"))[0][0] == 0
    assert [r[0] for r in run(app, Stmt('SELECT "ID" FROM "ANALYTICS"."ASYNC"."AS_MUTE" ORDER BY "ID"'))] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert _watermark(app) == "2026-04-01 00:00:05+00"
