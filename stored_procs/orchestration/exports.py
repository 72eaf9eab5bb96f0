"""REQUEST_EXPORTS: ask the exporter for every enabled table's next window, in parallel, bounded.

In the Task graph the requests are asynchronous (InvocationType=Event): the task returns once the events
are queued and is not billed while the exports run; the exporter's answers and manifests are taken in by
INTAKE, of this run or a later one (`answers`). SYNC_ALL / SYNC_TABLE and the local runner wait for
each export (RequestResponse).

Each table's event carries its loaded watermark as `low`, so the exporter continues exactly where the
ledger stands. One table's failure is recorded (EXPORT_REQUESTS) and does not stop the others: the
graph goes on to INTAKE and LOAD, which also pick up exports made on the exporter's own schedule.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stored_procs import ledger, watermarks
from stored_procs.configuration import app_config
from stored_procs.orchestration import answers
from stored_procs.row_sql import Row, insert_row, insert_rows
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import query_tag, run

EVENT_VERSION = 1  # lambda_exporter.event.EVENT_VERSION; a contract test keeps the two equal
MAX_PARALLEL = 4

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def export_event(
    spec: TableSpec, settings: app_config.AppSettings, low: str | None, keys: bool = False
) -> dict[str, Any]:
    """The exporter's v1 event for this table's next window, or (`keys`) for its key set.

    Its `s3` member is a cross-check, not an order: the exporter writes where its own environment says
    (lambda_exporter.policy) and refuses an event whose bucket, prefix or region differ, so a stage
    registered on another location fails loudly instead of waiting for manifests that never come. The
    stage's endpoint (REGISTER_STAGE's S3_ENDPOINT_URL) is Snowflake's business and is not sent; the
    region only when registered (S3_REGION), as the exporter's own region may differ from the bucket's."""
    bucket, prefix = settings.s3_location()
    s3: dict[str, Any] = {"bucket": bucket, "prefix": prefix}
    if region := settings.get(app_config.S3_REGION):
        s3["region"] = region
    event: dict[str, Any] = {
        "version": EVENT_VERSION,
        "table": {"schema": spec.source_schema, "name": spec.source_table},
        "mode": "keys" if keys else spec.mode,
        "low": None if keys else low,
        "s3": s3,
    }
    if spec.watermark_column:
        event["watermark_column"] = spec.watermark_column
    if spec.primary_key:
        event["primary_key"] = list(spec.primary_key)
    if not spec.late_row_guard:
        event["late_row_guard"] = False
    if spec.lookback and not keys:
        event["lookback"] = spec.lookback
    if spec.generation:
        event["generation"] = spec.generation
    if spec.max_rows_per_invocation is not None and not keys:  # as aurora_sync.cycle.export_request
        # an initial or full export of more rows is planned as parts; the exporter invokes them itself when
        # the request is asynchronous (lambda_exporter.fan_out_async)
        event["max_rows_per_invocation"] = spec.max_rows_per_invocation
    return event


def push_skipped() -> dict[str, Any]:
    """REQUEST_EXPORTS in push mode (SET_EXPORT_MODE('push')): the exporter's own schedule exports."""
    return {"skipped": "push mode: the exporter runs on its own schedule; nothing was invoked"}


def request_exports(
    session: Any,
    place: Place,
    invoke: Invoke,
    run_id: str,
    specs: list[TableSpec] | None = None,
    max_parallel: int = MAX_PARALLEL,
    asynchronous: bool = False,
    settings: app_config.AppSettings | None = None,
) -> dict[str, Any]:
    """Invoke the exporter once per table (by default every enabled one; at most `max_parallel` at a
    time). SQL stays on this thread (a Snowpark session is not shared across threads); only the HTTP
    calls run in the pool. `asynchronous`: `invoke` queues the event (InvocationType=Event) and each
    request is recorded REQUESTED with its id, to be settled by the exporter's answer (`answers`). A
    table whose earlier asynchronous request is still REQUESTED is not requested again: its entry says
    IN_FLIGHT, with the time of that request. `settings`: the app's, when the caller has read them."""
    with query_tag(step="REQUEST_EXPORTS", run=run_id):
        return _request(session, place, invoke, run_id, specs, max_parallel, asynchronous, settings)


def _request(
    session: Any,
    place: Place,
    invoke: Invoke,
    run_id: str,
    specs: list[TableSpec] | None,
    max_parallel: int,
    asynchronous: bool,
    settings: app_config.AppSettings | None,
) -> dict[str, Any]:
    settings = app_config.read(session, place) if settings is None else settings
    specs = ledger.read_table_specs(session, place) if specs is None else specs
    stored = watermarks.all_watermarks(session, place)  # one statement for every table
    lows = {spec.key: stored.get(spec.key) for spec in specs}
    if asynchronous:  # the answers that came since the last INTAKE first: a request answered is no longer in flight
        answers.settle(session, place, run_id, lambda: app_config.answer_timeout(settings))
        lows = _continued(session, place, specs, lows)
    events = [(spec, export_event(spec, settings, lows[spec.key])) for spec in specs]
    taken_at = ledger.keys_taken_at(session, place) if any(s.delete_detection != "off" for s in specs) else {}
    due = [spec for spec in specs if ledger.keys_due_at(spec, taken_at.get(spec.key))]
    events += [(spec, export_event(spec, settings, None, keys=True)) for spec in due]
    flying = answers.in_flight(session, place)
    tables: dict[str, Any] = {}
    for spec, event in [pair for pair in events if _key(*pair) in flying]:  # no second export of one window
        tables[_name(spec, event)] = {"status": "IN_FLIGHT", "requested_at": flying[_key(spec, event)]}
    events = [pair for pair in events if _key(*pair) not in flying]
    if asynchronous:
        for _, event in events:
            event["request_id"] = answers.new_request_id()
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(events)))) as pool:
        outcomes = list(pool.map(lambda pair: _invoke_one(invoke, pair[1]), events))
    if events:  # every request of the run in one INSERT
        rows = [
            request_row(run_id, spec, event, outcome) for (spec, event), outcome in zip(events, outcomes, strict=True)
        ]
        run(session, insert_rows(place.control("EXPORT_REQUESTS"), rows))
    for (spec, event), outcome in zip(events, outcomes, strict=True):
        tables[_name(spec, event)] = outcome
    failed = sorted(name for name, outcome in tables.items() if outcome["status"] == "FAILED")
    return {"run_id": run_id, "requested": len(events), "failed": failed, "tables": tables}


def _continued(
    session: Any, place: Place, specs: list[TableSpec], lows: dict[tuple[str, str], str | None]
) -> dict[tuple[str, str], str | None]:
    """Each incremental table's low bound: its loaded watermark, or, when its newest request was answered
    EXPORTED from exactly that watermark (the export is in the stage, its load still to come: this run's
    LOAD applies it), that export's high. So a table whose export outlasted its own run's INTAKE is not
    exported twice, nor skipped a run. Should that export not load (refused), the watermark stays below the
    newer request's low, which then no longer continues: the next request starts from the watermark again.
    Only an export of the table's current generation continues: a resync or a restart (a new watermark
    column, mode or target) counts a new generation and deletes the watermark, and the export an earlier
    generation answered, even one answered after the restart, must not become the low of the new one."""
    found = answers.continuations(session, place)
    continued = dict(lows)
    for spec in specs:
        window = found.get((spec.source_schema, spec.source_table))
        if (
            spec.mode == "incremental"
            and window is not None
            and window[0] == lows[spec.key]
            and window[2] == spec.generation
        ):
            continued[spec.key] = window[1]
    return continued


def _key(spec: TableSpec, event: dict[str, Any]) -> tuple[str, str, str]:
    return (spec.source_schema, spec.source_table, str(event["mode"]))


def _name(spec: TableSpec, event: dict[str, Any]) -> str:
    return spec.source + (" (keys)" if event["mode"] == "keys" else "")


def _invoke_one(invoke: Invoke, event: dict[str, Any]) -> dict[str, Any]:
    return call_exporter(lambda: invoke(event))


def fan_out_refused(parts: int) -> str:
    """Why a synchronous request (SYNC_ALL, SYNC_TABLE, REQUEST_EXPORTS(WAIT => TRUE)) fails a table whose
    export the exporter planned as `parts` parts (lambda_exporter.fan_out): it answers the plan and exports
    nothing, and only an asynchronous request has the exporter invoke the parts itself
    (lambda_exporter.fan_out_async). Recorded as the request's error, so the table's run is FAILED
    instead of NO_CHANGE with nothing loaded (docs/DEPLOYMENT.md, "A table too large for one Lambda
    invocation")."""
    return (
        f"the exporter planned this export as {parts} parts (the table has more rows than its "
        "max_rows_per_invocation), and a synchronous SYNC_ALL / SYNC_TABLE cannot run the parts: let the "
        "scheduled graph export it (ENABLE_SCHEDULE; its REQUEST_EXPORTS is asynchronous and the exporter "
        "invokes each part), or raise max_rows_per_invocation (CONFIGURE_TABLE) above the table's rows"
    )


def call_exporter(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One export request's outcome, as EXPORT_REQUESTS records it: `status` EXPORTED / NO_CHANGE with
    `rows`, `manifests` (count) and `manifest_keys` (S3 keys, bucket-relative), or FAILED with `error`,
    or REQUESTED with `request_id` (queued, `answers`); `duration_s` in seconds. An exception of `call`
    is the FAILED outcome, never raised."""
    started = time.monotonic()
    try:
        answer = call()
    except Exception as err:  # recorded per table; the others go on
        return {"status": "FAILED", "error": f"{type(err).__name__}: {err}", "duration_s": _since(started)}
    if answer.get("status") == answers.REQUESTED:  # queued (InvocationType=Event): the answer comes later
        return {"status": answers.REQUESTED, "request_id": answer.get("request_id"), "duration_s": _since(started)}
    if answer.get("status") == "fan_out":  # a plan, not an export: nobody here invokes its parts
        return {
            "status": "FAILED",
            "error": fan_out_refused(len(answer.get("parts") or ())),
            "duration_s": _since(started),
        }
    keys = [str(k) for k in answer.get("manifest_keys") or []]
    return {
        "status": str(answer.get("status") or "unknown").upper(),  # EXPORTED or NO_CHANGE
        "rows": int(answer.get("rows") or 0),
        "manifests": int(answer.get("chunks") or len(keys)),
        "manifest_keys": keys,
        "export_id": answer.get("export_id"),
        "window": answer.get("window"),
        "duration_s": _since(started),
    }


def record_request(
    session: Any, place: Place, run_id: str, spec: TableSpec, event: dict[str, Any], outcome: dict[str, Any]
) -> None:
    """One EXPORT_REQUESTS row: what the graph's REQUEST_EXPORTS and the local runner both record, so a
    failed export shows in CORE.FAILURES and fails the table's LOAD of the same run (`export_check`)."""
    run(session, insert_row(place.control("EXPORT_REQUESTS"), request_row(run_id, spec, event, outcome)))


def request_row(run_id: str, spec: TableSpec, event: dict[str, Any], outcome: dict[str, Any]) -> Row:
    """The EXPORT_REQUESTS row of one request and its outcome (`call_exporter`)."""
    keys = outcome.get("manifest_keys")
    return [
        ("RUN_ID", "VARCHAR", run_id),
        ("SOURCE_SCHEMA", "VARCHAR", spec.source_schema),
        ("SOURCE_TABLE", "VARCHAR", spec.source_table),
        ("REQUESTED_AT", "TIMESTAMP_NTZ", ledger.now()),
        ("STATUS", "VARCHAR", outcome["status"]),
        ("WINDOW_LOW", "VARCHAR", event.get("low")),
        ("ROWS_EXPORTED", "NUMBER", outcome.get("rows")),
        ("MANIFESTS", "NUMBER", outcome.get("manifests")),
        ("DURATION_S", "FLOAT", outcome["duration_s"]),
        ("ERROR", "VARCHAR", outcome.get("error")),
        ("MODE", "VARCHAR", event.get("mode")),
        ("MANIFEST_KEYS", "VARCHAR", json.dumps(keys) if keys else None),
        ("REQUEST_ID", "VARCHAR", event.get("request_id")),
        ("GENERATION", "NUMBER", spec.generation),
    ]


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
