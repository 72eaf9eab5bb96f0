"""Stored-procedure handlers: parse arguments, call one function, return a VARIANT-ready dict.

Snowflake calls each with the Snowpark `Session` first and the procedure's arguments after it
(`stored_procs.procedures` declares the SQL signatures; a contract test keeps both in step). The app's
state is found from the database the procedure runs in (`app_place`); the local runner
(`aurora-sync run`) calls `intake_manifests_at` / `load_table_at` with its own database and schema.
"""

from __future__ import annotations

from typing import Any

from stored_procs import ledger
from stored_procs.configuration import app_config, registration, table_config
from stored_procs.configuration import schema_map as schema_maps
from stored_procs.loading.intake import intake
from stored_procs.loading.load import load_table as load_one_table
from stored_procs.monitoring import alerts, watchdog
from stored_procs.orchestration import export_check, exports, graph, lanes, runs, schedule
from stored_procs.orchestration.lanes import return_value as lane_return_value  # `lanes` is also an argument
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, query_tag, run


def app_place(session: Any) -> Place:
    """The app's state schema, fully qualified. The database is read once, first: creating a target
    schema later in the call makes that schema's database the session's current one (as CREATE
    SCHEMA does in Snowflake), after which two-part names would resolve elsewhere."""
    rows = run(session, Stmt("SELECT CURRENT_DATABASE() AS D"))
    if not rows or not rows[0][0]:
        raise app_config.NotConfigured("the session has no current database: call the app's procedures by name")
    return Place.app(rows[0][0])


class LoadFailed(RuntimeError):
    """LOAD_TABLE recorded a failed load (RUNS, MANIFESTS); raised so the table's task shows FAILED."""


# --------------------------------------------------------------------------- the Task graph


def check_ready(session: Any) -> dict[str, Any]:
    app = app_place(session)
    return runs.check_ready(session, app)


def request_exports(session: Any, run_id: str | None = None, wait: bool = False) -> dict[str, Any]:
    """REQUEST_EXPORTS: by default asynchronous (InvocationType=Event: the task returns once the events are
    queued; `orchestration.answers`); `wait` TRUE invokes and waits for each export (RequestResponse)."""
    from stored_procs.orchestration import lambda_invoke

    app = app_place(session)
    settings = app_config.read(session, app)
    if app_config.pushes(settings):
        return exports.push_skipped()
    invoke = lambda_invoke.from_settings(settings, asynchronous=not wait)
    run_id = runs.current_run_id(session, run_id)
    return exports.request_exports(session, app, invoke, run_id, asynchronous=not wait, settings=settings)


def intake_manifests(session: Any) -> dict[str, Any]:
    """INTAKE; its task return value, the number of tables with something to load (`tables_to_load`),
    wakes that many load lanes (their WHEN: `graph.when_condition`) and no more. The exporter's answers
    to asynchronous requests are settled first (`answers.settle`)."""
    app = app_place(session)
    run_id = runs.current_run_id(session, None)
    settled = settle_answers(session, app, run_id)
    summary = intake_manifests_at(session, app, run_id)
    runs.set_task_return_value(session, graph.intake_answer(len(summary["tables_to_load"])))
    return {**summary, "answers": settled}


def settle_answers(session: Any, place: Place, run_id: str) -> dict[str, Any]:
    """The exporter's answers to this app's asynchronous requests, and the requests lost (`answers`)."""
    from stored_procs.orchestration import answers

    return answers.settle(session, place, run_id, lambda: app_config.answer_timeout(app_config.read(session, place)))


def load_lane(session: Any, lane: int, lanes: int, run_id: str | None = None) -> dict[str, Any]:
    """LANE_<k>: load lane k's share of the tables with something pending, one after another. A table's
    failure is recorded (RUNS, MANIFESTS) and does not fail the lane (`lanes` module docstring)."""
    app = app_place(session)
    target = app_config.read(session, app).require(app_config.TARGET_DATABASE)
    summary = load_lane_at(session, app, target, int(lane), int(lanes), runs.current_run_id(session, run_id))
    runs.set_task_return_value(session, lane_return_value(summary))
    return summary


def load_table(session: Any, source_schema: str, source_table: str, run_id: str | None = None) -> dict[str, Any]:
    app = app_place(session)
    target = app_config.read(session, app).require(app_config.TARGET_DATABASE)
    summary = load_table_at(session, app, target, source_schema, source_table, runs.current_run_id(session, run_id))
    if summary["status"] == "FAILED":
        raise LoadFailed(f"{source_schema}.{source_table}: {summary['error']} (details in STATE.RUNS)")
    return summary


def finalize_run(session: Any, run_id: str | None = None) -> dict[str, Any]:
    app = app_place(session)
    return runs.finalize(session, app, runs.current_run_id(session, run_id))


# --------------------------------------------------------------------------- configuration


def register_stage(
    session: Any, stage_url: str, storage_integration: str, aws_region: str, s3_endpoint_url: str | None = None
) -> dict[str, Any]:
    return registration.stage(session, app_place(session), stage_url, storage_integration, aws_region, s3_endpoint_url)


def register_exporter(
    session: Any,
    function_name: str,
    aws_region: str,
    endpoint_url: str | None = None,
    answer_timeout_minutes: float | None = None,
) -> dict[str, Any]:
    return registration.exporter(
        session, app_place(session), function_name, aws_region, endpoint_url, answer_timeout_minutes
    )


def set_target_database(session: Any, database_name: str) -> dict[str, Any]:
    return registration.target_database(session, app_place(session), database_name)


def set_alert_integration(session: Any, integration_name: str | None = None) -> dict[str, Any]:
    place = app_place(session)
    result = alerts.set_integration(session, place, integration_name)
    watchdog = schedule.sync_watchdog(session, place)  # the task calling CHECK_ALERTS, with the schedule
    return {**result, **watchdog} if watchdog else result


def check_alerts(session: Any) -> dict[str, Any]:
    return watchdog.check(session, app_place(session))


def add_table(
    session: Any,
    source: str,
    primary_key: list[str],
    watermark_column: str | None = None,
    mode: str = "incremental",
    target: str | None = None,
    freshness_sla_minutes: float | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`options`: any other option of the table (CONFIGURE_TABLE's keys: rename, transform,
    type_overrides, allow_lossy, history, delete_detection, …); the arguments named above are not among them."""
    app = app_place(session)
    own = ("source", "primary_key", "watermark_column", "mode", "target", "freshness_sla_minutes")
    if given := sorted(set(options or {}) & set(own)):
        raise app_config.InvalidSetting(
            f"is an argument of ADD_TABLE itself ({given[0]} => …), not an option", f"options.{given[0]}"
        )
    table: dict[str, Any] = {
        **dict(options or {}),
        "source": source,
        "primary_key": primary_key,
        "watermark_column": watermark_column,
        "mode": mode,
    }
    if target:
        table["target"] = target
    if freshness_sla_minutes is not None:
        table["freshness_sla_minutes"] = freshness_sla_minutes
    summary = table_config.add_table(session, app, table)
    return {**summary, "graph": schedule.rebuild_if_built(session, app)}


def set_schema_map(session: Any, schema_map: dict[str, Any] | None = None) -> dict[str, Any]:
    """The target schema ADD_TABLE gives a table added without `target`, by source schema
    (configuration.schema_map); configured tables keep theirs (the result lists them and how to move one)."""
    return schema_maps.set_map(session, app_place(session), schema_map)


def configure_table(session: Any, source: str, options: dict[str, Any]) -> dict[str, Any]:
    app = app_place(session)
    summary = table_config.configure_table(session, app, source, dict(options or {}))
    return {**summary, "graph": schedule.rebuild_if_built(session, app)}


def remove_table(session: Any, source: str) -> dict[str, Any]:
    app = app_place(session)
    summary = table_config.remove_table(session, app, source)
    return {**summary, "graph": schedule.rebuild_if_built(session, app)}


def resync_table(session: Any, source: str) -> dict[str, Any]:
    app = app_place(session)
    return table_config.resync_table(session, app, source, runs.new_run_id())


def reconcile_table(session: Any, source: str) -> dict[str, Any]:
    """Compare the target with the source (bucket fingerprints, then key by key where they differ)."""
    from stored_procs.monitoring import reconcile
    from stored_procs.orchestration import lambda_invoke

    app = app_place(session)
    settings = app_config.read(session, app)
    spec = table_config.require_table(session, app, source)
    invoke = lambda_invoke.from_settings(settings)
    target = settings.require(app_config.TARGET_DATABASE)
    return reconcile.reconcile_table(session, app, target, spec, invoke, runs.new_run_id())


def set_export_mode(session: Any, mode: str) -> dict[str, Any]:
    return registration.export_mode(session, app_place(session), mode)


def retry_manifest(session: Any, export_id: str) -> dict[str, Any]:
    """After fixing the cause: a FAILED or QUARANTINED manifest is loaded again by the next run. A document
    intake refused is retried only when it carries the exporter's signature (loading.retry_guard)."""
    from stored_procs.loading import retry_guard

    done = retry_guard.retry(session, app_place(session), export_id)
    return {**done, "next": "CALL CORE.LOAD_PENDING() or wait for the next run"}


def discard_manifest(session: Any, export_id: str, reason: str) -> dict[str, Any]:
    """An export that must never load (e.g. a manifest the exporter did not write): its ledger entry or
    INBOX document DISCARDED, recorded with the caller, the time and `reason` (stored_procs.loading.discard)."""
    from stored_procs.loading import discard

    return discard.discard(session, app_place(session), export_id, reason, runs.new_run_id())


def enable_schedule(
    session: Any, schedule_text: str | None = None, warehouse: str | None = None, load_lanes: int | None = None
) -> dict[str, Any]:
    app = app_place(session)
    return schedule.enable(session, app, schedule_text, warehouse, load_lanes)


def disable_schedule(session: Any) -> dict[str, Any]:
    app = app_place(session)
    return schedule.disable(session, app)


def show_config(session: Any) -> dict[str, Any]:
    app = app_place(session)
    settings = app_config.read(session, app)
    enabled = ledger.read_table_specs(session, app)
    return {
        "settings": dict(sorted(settings.values.items())),
        "tables": [
            {**table_config.spec_options(s), "enabled": s in enabled}
            for s in ledger.read_table_specs(session, app, enabled_only=False)
        ],
    }


# --------------------------------------------------------------------------- run now, from a worksheet


def sync_table(session: Any, source: str) -> dict[str, Any]:
    """Export, take in and load one table now, in this session."""
    app = app_place(session)
    from stored_procs.orchestration import graph_run

    return graph_run.sync(session, app, only=source)


def sync_all(session: Any) -> dict[str, Any]:
    """The whole graph once, in this session, in dependency order (what one scheduled run does)."""
    app = app_place(session)
    from stored_procs.orchestration import graph_run

    return graph_run.sync(session, app)


def load_pending(session: Any) -> dict[str, Any]:
    """Take in and load what is already in the stage, without requesting exports."""
    app = app_place(session)
    from stored_procs.orchestration import graph_run

    return graph_run.sync(session, app, export=False)


# --------------------------------------------------------------------------- at a given place (local runner)


def intake_manifests_at(session: Any, place: Place, run_id: str) -> dict[str, Any]:
    """INTAKE: copy new manifests of every enabled table into the MANIFESTS ledger."""
    with query_tag(step="INTAKE"):
        specs = ledger.read_table_specs(session, place)
        summary = intake(session, place, specs, run_id).to_dict()
        enabled = {spec.source for spec in specs}
        pending, to_load = lanes.pending_and_to_load(session, place, run_id, specs)  # one statement
        summary["pending_tables"] = sorted(pending & enabled)
        summary["tables_to_load"] = sorted(s.source for s in to_load)
    return summary


def load_lane_at(
    session: Any,
    place: Place,
    database: str,
    lane: int,
    lanes_count: int,
    run_id: str,
    specs: list[TableSpec] | None = None,
) -> dict[str, Any]:
    """LANE_<k> at a given place: `specs` (default: every enabled table) limits what the lane may load."""
    specs = ledger.read_table_specs(session, place) if specs is None else specs
    asked: list[dict[tuple[str, str], Any]] = []  # the run's export requests, read once, when the lane loads a table

    def load_one(spec: TableSpec) -> dict[str, Any]:
        if not asked:
            asked.append(export_check.requests_by_table(session, place, run_id))
        with query_tag(step="LOAD", table=spec.source, run=run_id):
            problems = export_check.problems(session, place, spec, run_id, asked[0].get(spec.key, []))
            return load_one_table(session, place, database, spec, run_id, problems)

    with query_tag(step=graph.lane_node_name(lane), run=run_id):
        result = lanes.load_lane(session, place, run_id, lane, lanes_count, specs, load_one)
    return result.to_dict()


def load_table_at(
    session: Any, place: Place, database: str, source_schema: str, source_table: str, run_id: str
) -> dict[str, Any]:
    """LOAD_<table>: apply the table's pending manifests; the summary is also written to RUNS."""
    specs = {(s.source_schema, s.source_table): s for s in ledger.read_table_specs(session, place)}
    spec = specs.get((source_schema, source_table))
    if spec is None:
        return {
            "status": "FAILED",
            "error": f"table {source_schema}.{source_table} is not configured (or is disabled) in "
            f"{place.control('SYNC_TABLES')}; add it before loading it",
        }
    with query_tag(step="LOAD", table=spec.source, run=run_id):
        return load_one_table(session, place, database, spec, run_id)
