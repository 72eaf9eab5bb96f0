"""One sync cycle, in the order of the Task graph: request exports, intake, load each table, finalize."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

from aurora_sync import cycle_skips as skips
from aurora_sync import interrupted
from aurora_sync.alerts import evaluate_local
from aurora_sync.config import ConfigError, SyncConfig
from aurora_sync.cycle_skips import intake_needed, nothing_to_load, still_pending, tables_to_load
from aurora_sync.export_client import Exporter
from lambda_exporter.event import ExportRequest, S3Target
from stored_procs import handlers, ledger, run_records, stage_events, watermarks
from stored_procs.configuration import table_config
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.targets import target_clash
from stored_procs.loading.intake import intake
from stored_procs.loading.load import load_table
from stored_procs.monitoring.views import view_ddl
from stored_procs.orchestration import cycle_state, export_check, exports, graph, lanes, runs
from stored_procs.spec import TableSpec
from stored_procs.sql import create_stage
from stored_procs.statement import Stmt, query_tag, run

Progress = Callable[[str], None]
Key = cycle_state.Key  # (schema, table): TableSpec.key


@dataclass
class TableReport:
    spec: TableSpec
    export: dict[str, Any] | None = None
    keys_export: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    export_problems: list[str] = field(default_factory=list)  # export_check.problems, from the answers
    export_errors: list[str] = field(default_factory=list)  # of them, the failed requests' (export_check.export_errors)
    busy: str | None = None  # another run held its load lease as the cycle started: neither exported nor loaded

    @property
    def failed(self) -> bool:
        return bool(self.errors) or (self.load is not None and self.load["status"] == "FAILED")


@dataclass
class CycleReport:
    run_id: str
    tables: list[TableReport]
    duration_s: float = 0.0
    tasks: dict[str, str] = field(default_factory=dict)  # graph node -> SUCCEEDED / FAILED / SKIPPED
    # documents intake quarantined this cycle ({"export_id", "error"}): none loads, the operator decides
    quarantined: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[TableReport]:
        return [t for t in self.tables if t.failed]


def prepare(session: Any, config: SyncConfig) -> cycle_state.CycleState:
    """The control schema, its tables and (unless configured) the stage, created or altered only when
    their definitions changed (`cycle_state`); the table specs saved only when sync.toml changed them.
    Returns the cycle's state as read in one statement (`cycle_state.read_state`)."""
    place = config.place
    tables = [s.key for s in config.tables]  # whose load leases another run may hold
    state = cycle_state.ensure_and_read(session, place, local_ddl(config), tables)
    _check_earlier_targets(config, state.saved)
    known = {(s.source_schema, s.source_table): s for s in state.saved}
    changed = False
    for i, spec in enumerate(config.tables):
        before = known.get((spec.source_schema, spec.source_table))
        after = replace(spec, generation=before.generation if before else 0)
        if before == after and state.enabled.get(spec.key):
            continue  # as saved: no statement
        # a new watermark column, mode or target restarts the table, as CONFIGURE_TABLE does; a change a
        # history table cannot take in place is refused before anything is saved (history_changes)
        try:
            table_config.save(session, place, before, after, True, config.database)
        except InvalidSetting as err:
            raise ConfigError(f"tables[{i}].{err.key}", err.reason) from err
        changed = True
    return cycle_state.parse_state(run(session, cycle_state.read_state(place, tables))) if changed else state


def local_ddl(config: SyncConfig) -> list[Stmt]:
    """What the local runner creates beside the control tables, in the DDL step that runs only when its
    digest changes (`cycle_state`): the stage (unless configured) and the monitoring views (TABLE_STATUS,
    RUN_HISTORY, ...: `stored_procs.monitoring.views`, the app's own definitions) in the control schema."""
    place = config.place
    stage = [] if config.stage is not None else [create_stage(place, config.s3.url, config.storage_integration)]
    return stage + list(view_ddl(place, place.control_schema).values())


def _check_earlier_targets(config: SyncConfig, saved: list[TableSpec]) -> None:
    """A table replicated into this control schema before (`saved`: SYNC_TABLES) and no longer in
    sync.toml keeps its target table (and its rows): a table of sync.toml may not load into it
    (stored_procs.configuration.targets)."""
    configured = {(s.source_schema, s.source_table) for s in config.tables}
    earlier = [s for s in saved if (s.source_schema, s.source_table) not in configured]
    for i, spec in enumerate(config.tables):
        if why := target_clash(spec, earlier, {}):
            raise ConfigError(
                f"tables[{i}].target",
                f"{why}. The other table was replicated into control schema {config.place.schema} before and "
                "is no longer in this file; its target table is kept",
            )


def _generations(session: Any, config: SyncConfig, state: cycle_state.CycleState | None) -> Callable[[TableSpec], int]:
    """Each table's resync count: it lives in the control schema (`aurora-sync resync`), not in sync.toml."""
    saved = state.saved if state is not None else ledger.read_table_specs(session, config.place, enabled_only=False)
    known = {(s.source_schema, s.source_table): s.generation for s in saved}
    return lambda spec: known.get((spec.source_schema, spec.source_table), 0)


def export_request(config: SyncConfig, spec: TableSpec, low: str | None, keys: bool = False) -> ExportRequest:
    return ExportRequest(
        schema=spec.source_schema,
        table=spec.source_table,
        mode="keys" if keys else spec.mode,
        s3=S3Target(config.s3.bucket, config.s3.prefix, config.s3.region, config.s3.endpoint_url),
        watermark_column=spec.watermark_column,
        low=None if keys else low,
        primary_key=spec.primary_key,
        columns=config.columns.get(spec.source, ()),
        chunks=config.chunks.get(spec.source, 1),
        strategy=config.exporter.strategy,
        max_file_bytes=config.exporter.max_file_bytes,
        late_row_guard=spec.late_row_guard,
        lookback=None if keys else spec.lookback,
        generation=spec.generation,
        max_rows_per_invocation=None if keys else config.max_rows_per_invocation.get(spec.source),
    )


def request_exports(
    session: Any,
    config: SyncConfig,
    exporter: Exporter,
    reports: list[TableReport],
    progress: Progress = lambda _: None,
    run_id: str | None = None,
    state: cycle_state.CycleState | None = None,
) -> None:
    """REQUEST_EXPORTS: ask the exporter for each table's window above its loaded watermark. Each request
    is recorded in EXPORT_REQUESTS as the graph records it (`stored_procs.orchestration.exports.record_request`); a
    failed one fails the table's LOAD of this run (`stored_procs.orchestration.export_check`). One table's failure
    does not stop the others. A BUSY table (`report.busy`: another run held its load lease as the cycle
    started, `cycle_skips.mark_busy`) is not exported: that run loads it."""
    generation = _generations(session, config, state)
    for report in reports:
        progress(f"exporting {report.spec.source}")
        with stage_events.timed("export", report.spec.source) as stage:
            if report.busy:
                stage.status, stage.detail = stage_events.BUSY, report.busy
                continue
            if state is not None:  # read at the cycle's start (`prepare`)
                low, keys_due = state.watermark(report.spec), state.keys_due(report.spec)
            else:
                low = watermarks.get_watermark(session, config.place, report.spec)
                keys_due = ledger.keys_due(session, config.place, report.spec)
            spec = replace(report.spec, generation=generation(report.spec))
            request = export_request(config, spec, low)
            report.export = _export(session, config, exporter, spec, request, run_id, report)
            if report.export is not None and keys_due:  # delete detection
                keys = export_request(config, spec, None, keys=True)
                report.keys_export = _export(session, config, exporter, spec, keys, run_id, report)
            skips.export_event(stage, report)


def _export(
    session: Any,
    config: SyncConfig,
    exporter: Exporter,
    spec: TableSpec,
    request: ExportRequest,
    run_id: str | None,
    report: TableReport,
) -> dict[str, Any] | None:
    """The exporter's answer, or None when it failed (the error goes to the report)."""
    answer: dict[str, Any] = {}

    def call() -> dict[str, Any]:
        answer.update(exporter.export(request))
        return answer

    outcome = exports.call_exporter(call)
    if run_id is not None:
        exports.record_request(session, config.place, run_id, spec, request.to_event(), outcome)
    if outcome["status"] == "FAILED":
        report.errors.append(export_check.failure_text(request.mode, outcome["error"]))
        report.export_problems.append(report.errors[-1])
        report.export_errors.append(report.errors[-1])
        return None
    return answer


def take_in(
    session: Any,
    config: SyncConfig,
    reports: list[TableReport],
    run_id: str,
    quarantined: list[dict[str, str]] | None = None,
    taken_out: dict[str, Any] | None = None,
    intake_errors: set[Key] | None = None,
) -> tuple[bool, str]:
    """INTAKE: new manifests from the stage into the ledger, and the answer that wakes the lanes (here
    every table: the local run loads each one every cycle). False when the step itself failed (then, as
    on Snowflake, the lanes after it are skipped); one table's copy error only marks that table."""
    try:
        with query_tag(step="INTAKE", run=run_id):  # as handlers.intake_manifests_at, knowing the tables
            taken = intake(session, config.place, list(config.tables), run_id, intake_errors).to_dict()
    except Exception as err:
        for report in reports:
            report.errors.append(f"intake failed, nothing loaded: {err}")
            note_missing_manifests(session, config, report, set())
        return False, graph.intake_answer(0)
    for report in reports:
        if why := taken["errors"].get(report.spec.source):  # IntakeResult.errors: by spec.source
            report.errors.append(why)
    if quarantined is not None:
        quarantined.extend(taken.get("invalid") or [])
    if taken_out is not None:
        taken_out.update(taken)
    for report in reports:
        note_missing_manifests(session, config, report, set(taken.get("export_ids") or ()))
    return True, graph.intake_answer(len(reports))


def note_missing_manifests(session: Any, config: SyncConfig, report: TableReport, taken: set[str]) -> None:
    """Manifests the exporter wrote in this cycle that intake did not take in now (`taken`) and the ledger
    does not hold, or holds as discarded: the table's run fails naming them, as the Task graph's LOAD
    finds from EXPORT_REQUESTS (`export_check.written_manifests`: one statement, only when some were not
    taken in now). When the ledger cannot be read, the table's run fails saying so."""
    keys = [k for answer in (report.export, report.keys_export) if answer for k in answer.get("manifest_keys") or ()]
    unsure = [k for k in keys if export_check.export_id_of(k) not in taken]
    try:
        report.export_problems.extend(export_check.written_manifests(session, config.place, report.spec, unsure))
    except Exception as err:  # the ledger cannot be read: nothing can be said loaded
        report.export_problems.append(f"could not check that intake took this run's manifests in: {err}")


def load_one(
    session: Any, config: SyncConfig, report: TableReport, run_id: str, saved: TableSpec | None = None
) -> bool:
    """LOAD_<table>: its failure is recorded in RUNS and in the report; the other tables go on."""
    try:
        if saved is None:
            report.load = handlers.load_table_at(
                session, config.place, config.database, report.spec.source_schema, report.spec.source_table, run_id
            )
        else:  # the table as saved at the cycle's start (`prepare`): its generation included
            with query_tag(step="LOAD", table=saved.source, run=run_id):
                report.load = load_table(session, config.place, config.database, saved, run_id, report.export_problems)
    except Exception as err:  # e.g. RUNS could not be written
        report.errors.append(f"load failed: {err}")
    if report.load is not None and report.load["status"] == "FAILED" and (own := _load_error(report)):
        report.errors.append(own)  # a failed table's report names why, not only RUNS.ERROR
    return not report.failed


def _load_error(report: TableReport) -> str | None:
    """The LOAD's error (RUNS.ERROR, its errors joined by '; ') less what the report already holds (a failed
    export is in both: `stored_procs.orchestration.export_check`)."""
    rest = str((report.load or {}).get("error") or "")
    for error in report.errors:
        rest = rest.replace(error, "")
    while "; ; " in rest:
        rest = rest.replace("; ; ", "; ")
    return rest.strip("; ") or None


def load_lane(
    session: Any,
    config: SyncConfig,
    node: graph.Node,
    reports: list[TableReport],
    run_id: str,
    to_load: set[Key] | None = None,
    saved: dict[Key, TableSpec] | None = None,
    loaded_watermarks: dict[Key, str | None] | None = None,
) -> bool:
    """LANE_<k>: its share of the configured tables, one after another (`stored_procs.orchestration.lanes`):
    those in `to_load` (None: every table), the others are NO_CHANGE without a statement (`nothing_to_load`).
    A table's failure goes to its report and RUNS, the lane goes on."""
    by_source = {r.spec.source: r for r in reports}
    lane, count = (int(a) for a in node.args)

    def load(spec: TableSpec) -> dict[str, Any]:
        report = by_source[spec.source]
        with stage_events.timed("load", spec.source) as stage:
            watermark = (loaded_watermarks or {}).get(spec.key)
            if report.busy:  # another run holds it (`request_exports`): no lease asked, no statement
                report.load = skips.busy_load(spec, report.busy, watermark)
            elif to_load is not None and spec.key not in to_load:
                report.load = nothing_to_load(spec, watermark)
            else:
                load_one(session, config, report, run_id, (saved or {}).get(spec.key))
            skips.load_event(stage, report.load, report.errors)
        return report.load or {"status": "FAILED", "error": "; ".join(report.errors)}

    try:
        lanes.load_lane(session, config.place, run_id, lane, count, config.tables, load, every_table=True)
    except Exception as err:  # the lane could not read what to load: its tables say so
        for spec in lanes.share(config.tables, lane, count):
            by_source[spec.source].errors.append(f"load lane {lane} failed: {err}")
        return False
    return True


def finish(session: Any, config: SyncConfig, reports: list[TableReport], run_id: str, still_pending: set[Key]) -> bool:
    """FINALIZER: one INSERT of the RUNS rows of the tables this cycle did not load (NO_CHANGE, or FAILED
    by their export), then the run's summary (RUN_SUMMARIES), both from what the cycle holds
    (`stored_procs.orchestration.runs.write_summary`). A table whose manifests wait (`still_pending`: intake
    or its lane failed) is NOT_RUN, without a row. Each load wrote its own RUNS row as it ended."""
    rows: list[dict[str, Any]] = []  # the RUNS rows to write
    recorded: dict[Key, dict[str, Any]] = {}
    for r in reports:
        if r.load is not None and "run_id" in r.load:  # a load ran and wrote its RUNS row
            recorded[r.spec.key] = runs.outcome(r.load)
            continue
        if r.busy:
            rows.append(skips.busy_run(r.spec, run_id, r.busy))
        elif r.export_problems:
            rows.append(runs.failed_run(r.spec, run_id, r.export_problems))
        elif r.spec.key not in still_pending:
            rows.append(runs.no_change_run(r.spec, run_id))
        else:
            continue
        recorded[r.spec.key] = runs.outcome(rows[-1])
    try:
        if rows:
            run_records.record_runs(session, config.place, rows)
        errors = {r.spec.key: r.export_errors for r in reports}
        with query_tag(step="FINALIZE", run=run_id):
            runs.write_summary(session, config.place, run_id, list(config.tables), recorded, still_pending, errors)
    except Exception as err:  # the run's record is incomplete: every table says so
        for report in reports:
            report.errors.append(f"finalizer failed, the run's summary was not written: {err}")
        return False
    if config.alerts is not None:  # incidents opened or over, notified once each (never fails the run)
        with query_tag(step="FINALIZE", run=run_id):
            evaluate_local(session, config.place, list(config.tables), run_id, config.alerts)
    return True


def run_cycle(
    session: Any,
    config: SyncConfig,
    exporter: Exporter | None,
    progress: Progress = lambda _: None,
    events: stage_events.Sink | None = None,
) -> CycleReport:
    """One cycle: the Task graph of `stored_procs.orchestration.graph`, executed here in dependency order.
    With `exporter=None` only what is already in the stage is taken in and loaded. `progress` gets a line
    of text as each step starts ("preparing ...", "exporting <table>", "intake ...", "loading ..."); `events`
    gets each stage of each table as it starts and finishes (`stored_procs.stage_events.StageEvent`: prepare,
    export, intake, load with its copy and merge, finalize; rows, bytes, seconds, status)."""
    started, run_id = time.monotonic(), runs.new_run_id()
    reports = [TableReport(spec) for spec in config.tables]
    intake: dict[str, str] = {}
    quarantined: list[dict[str, str]] = []
    states: list[cycle_state.CycleState] = []  # ROOT's read of the control schema
    taken: dict[str, Any] = {}  # INTAKE's answer (intake.IntakeResult.to_dict)

    def action(node: graph.Node) -> bool:
        if node.name == graph.ROOT:
            progress("preparing control schema")
            with stage_events.timed("prepare"):
                states.append(prepare(session, config))
            skips.mark_busy(states[0], reports)
        elif node.name == graph.REQUEST_EXPORTS:
            if exporter is not None:
                request_exports(session, config, exporter, reports, progress, run_id, states[0])
        elif node.name == graph.INTAKE:
            if not intake_needed(states[0], exporter, reports):
                intake["value"] = graph.intake_answer(len(reports))
                return True
            progress("intake of manifests")
            with stage_events.timed("intake") as stage:
                ok, answer = take_in(session, config, reports, run_id, quarantined, taken, states[0].intake_errors)
                skips.intake_event(stage, ok, taken)
            intake["value"] = answer
            return ok
        elif node.procedure == "LOAD_LANE":
            progress(f"loading, {node.name.lower().replace('_', ' ')}")
            saved = {s.key: s for s in states[0].saved}
            to_load = tables_to_load(states[0], reports, taken)
            return load_lane(session, config, node, reports, run_id, to_load, saved, states[0].watermarks)
        elif node.finalizer:
            with stage_events.timed("finalize") as stage:
                done = finish(session, config, reports, run_id, still_pending(states[0], reports, taken))
                stage.status = stage_events.OK if done else stage_events.FAILED
            return done
        return True

    started_tables = interrupted.Started(events and (lambda event: events(replace(event, run_id=run_id))))
    with stage_events.listening(started_tables):
        try:
            tasks = graph.run_graph(graph.declare(config.tables), action, lambda: intake.get("value"))
        except KeyboardInterrupt:  # a RUNS row for each started table without one (`aurora_sync.interrupted`)
            specs = [r.spec for r in reports if r.spec.source in started_tables.tables and not r.busy]
            before = states[0].watermarks if states else {}
            interrupted.record_interrupted(session, config.place, run_id, specs, before)
            raise
    if "FAILED" in tasks.values():  # the next cycle applies the control DDL again (an object altered by hand)
        with suppress(Exception):
            run(session, cycle_state.forget_version(config.place))
    return CycleReport(run_id, reports, time.monotonic() - started, tasks, quarantined)
