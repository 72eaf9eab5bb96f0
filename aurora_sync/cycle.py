"""One sync cycle, in the order of the Task graph: request exports, intake, load each table, finalize."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aurora_sync.config import ConfigError, SyncConfig
from aurora_sync.export_client import Exporter
from lambda_exporter.event import ExportRequest, S3Target
from stored_procs import handlers, ledger, watermarks
from stored_procs.configuration import table_config
from stored_procs.configuration.targets import target_clash
from stored_procs.orchestration import export_check, exports, graph, lanes, runs
from stored_procs.spec import TableSpec
from stored_procs.sql import create_stage
from stored_procs.statement import run

Progress = Callable[[str], None]


@dataclass
class TableReport:
    spec: TableSpec
    export: dict[str, Any] | None = None
    keys_export: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

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


def prepare(session: Any, config: SyncConfig) -> None:
    """Create the control schema, its tables and (unless configured) the stage; record the table specs."""
    place = config.place
    ledger.ensure_control(session, place)
    if config.stage is None:
        run(session, create_stage(place, config.s3.url, config.storage_integration))
    saved = ledger.read_table_specs(session, place, enabled_only=False)
    _check_earlier_targets(config, saved)
    known = {(s.source_schema, s.source_table): s for s in saved}
    for spec in config.tables:
        before = known.get((spec.source_schema, spec.source_table))
        # a new watermark column, mode or target restarts the table, as CONFIGURE_TABLE does
        table_config.save(session, place, before, replace(spec, generation=before.generation if before else 0), True)


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


def _generations(session: Any, config: SyncConfig) -> Callable[[TableSpec], int]:
    """Each table's resync count: it lives in the control schema (`aurora-sync resync`), not in sync.toml."""
    known = {
        (s.source_schema, s.source_table): s.generation
        for s in ledger.read_table_specs(session, config.place, enabled_only=False)
    }
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
) -> None:
    """REQUEST_EXPORTS: ask the exporter for each table's window above its loaded watermark. Each request
    is recorded in EXPORT_REQUESTS as the graph records it (`stored_procs.orchestration.exports.record_request`); a
    failed one fails the table's LOAD of this run (`stored_procs.orchestration.export_check`). One table's failure
    does not stop the others."""
    generation = _generations(session, config)
    for report in reports:
        progress(f"exporting {report.spec.source}")
        low = watermarks.get_watermark(session, config.place, report.spec)
        spec = replace(report.spec, generation=generation(report.spec))
        report.export = _export(session, config, exporter, spec, export_request(config, spec, low), run_id, report)
        if report.export is not None and ledger.keys_due(session, config.place, spec):  # delete detection
            keys = export_request(config, spec, None, keys=True)
            report.keys_export = _export(session, config, exporter, spec, keys, run_id, report)


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
        return None
    return answer


def take_in(
    session: Any,
    config: SyncConfig,
    reports: list[TableReport],
    run_id: str,
    quarantined: list[dict[str, str]] | None = None,
) -> tuple[bool, str]:
    """INTAKE: new manifests from the stage into the ledger, and the answer that wakes the lanes (here
    every table: the local run loads each one every cycle). False when the step itself failed (then, as
    on Snowflake, the lanes after it are skipped); one table's copy error only marks that table."""
    try:
        taken = handlers.intake_manifests_at(session, config.place, run_id)
    except Exception as err:
        for report in reports:
            report.errors.append(f"intake failed, nothing loaded: {err}")
        return False, graph.intake_answer(0)
    for report in reports:
        if why := taken["errors"].get(report.spec.source):
            report.errors.append(why)
    if quarantined is not None:
        quarantined.extend(taken.get("invalid") or [])
    return True, graph.intake_answer(len(reports))


def load_one(session: Any, config: SyncConfig, report: TableReport, run_id: str) -> bool:
    """LOAD_<table>: its failure is recorded in RUNS and in the report; the other tables go on."""
    try:
        report.load = handlers.load_table_at(
            session, config.place, config.database, report.spec.source_schema, report.spec.source_table, run_id
        )
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


def load_lane(session: Any, config: SyncConfig, node: graph.Node, reports: list[TableReport], run_id: str) -> bool:
    """LANE_<k>: its share of every configured table, one after another (`stored_procs.orchestration.lanes`;
    as before the lanes, each table's line of the report comes from its own load, NO_CHANGE included); a
    table's failure goes to its report and RUNS, the lane goes on."""
    by_source = {r.spec.source: r for r in reports}
    lane, count = (int(a) for a in node.args)

    def load(spec: TableSpec) -> dict[str, Any]:
        report = by_source[spec.source]
        load_one(session, config, report, run_id)
        return report.load or {"status": "FAILED", "error": "; ".join(report.errors)}

    try:
        lanes.load_lane(session, config.place, run_id, lane, count, config.tables, load, every_table=True)
    except Exception as err:  # the lane could not read what to load: its tables say so
        for spec in lanes.share(config.tables, lane, count):
            by_source[spec.source].errors.append(f"load lane {lane} failed: {err}")
        return False
    return True


def finish(session: Any, config: SyncConfig, reports: list[TableReport], run_id: str) -> bool:
    """FINALIZER: the run's summary (RUN_SUMMARIES), and a FAILED RUNS row for a table whose export failed
    or whose manifests were not found when its LOAD did not run (`stored_procs.orchestration.runs.finalize`)."""
    try:
        runs.finalize(session, config.place, run_id, list(config.tables))
    except Exception as err:  # the run's record is incomplete: every table says so
        for report in reports:
            report.errors.append(f"finalizer failed, the run's summary was not written: {err}")
        return False
    return True


def run_cycle(
    session: Any, config: SyncConfig, exporter: Exporter | None, progress: Progress = lambda _: None
) -> CycleReport:
    """One cycle: the Task graph of `stored_procs.orchestration.graph`, executed here in dependency order.
    With `exporter=None` only what is already in the stage is taken in and loaded."""
    started, run_id = time.monotonic(), runs.new_run_id()
    reports = [TableReport(spec) for spec in config.tables]
    intake: dict[str, str] = {}
    quarantined: list[dict[str, str]] = []

    def action(node: graph.Node) -> bool:
        if node.name == graph.ROOT:
            progress("preparing control schema")
            prepare(session, config)
        elif node.name == graph.REQUEST_EXPORTS:
            if exporter is not None:
                request_exports(session, config, exporter, reports, progress, run_id)
        elif node.name == graph.INTAKE:
            progress("intake of manifests")
            taken, answer = take_in(session, config, reports, run_id, quarantined)
            intake["value"] = answer
            return taken
        elif node.procedure == "LOAD_LANE":
            progress(f"loading, {node.name.lower().replace('_', ' ')}")
            return load_lane(session, config, node, reports, run_id)
        elif node.finalizer:
            return finish(session, config, reports, run_id)
        return True

    tasks = graph.run_graph(graph.declare(config.tables), action, lambda: intake.get("value"))
    return CycleReport(run_id, reports, time.monotonic() - started, tasks, quarantined)
