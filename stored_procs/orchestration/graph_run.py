"""Run the Task graph in one session, in dependency order, as Snowflake runs its tasks: SYNC_ALL,
SYNC_TABLE and LOAD_PENDING from a worksheet, and the local runner on the embedded stack.

Each node calls the same function its task's procedure calls; a node whose parent failed is skipped,
a lane whose WHEN is false too; the lanes run one after another (one session); the finalizer always
runs and its summary is the result.
"""

from __future__ import annotations

from typing import Any

from stored_procs import ledger
from stored_procs.configuration import app_config, table_config
from stored_procs.handlers import intake_manifests_at, load_lane_at, settle_answers
from stored_procs.orchestration import exports, graph, lanes, runs
from stored_procs.orchestration.exports import Invoke
from stored_procs.spec import Place


def sync(
    session: Any, place: Place, only: str | None = None, export: bool = True, invoke: Invoke | None = None
) -> dict[str, Any]:
    run_id = runs.new_run_id()
    specs = ledger.read_table_specs(session, place)
    if only is not None:
        chosen = table_config.require_table(session, place, only)
        specs = [s for s in specs if s == chosen]
        if not specs:
            raise app_config.InvalidSetting(f"table {chosen.source} is removed; add it again first", "source")
    results: dict[str, Any] = {}
    settings = app_config.read(session, place)

    def step(node: graph.Node) -> dict[str, Any]:
        if node.procedure == "CHECK_READY":
            return runs.check_ready(session, place)
        if node.procedure == "REQUEST_EXPORTS":
            if not export:
                return {"skipped": "LOAD_PENDING requests no exports"}
            if invoke is None and app_config.pushes(settings):
                return exports.push_skipped()
            return exports.request_exports(session, place, invoke or _registered(session, place), run_id, specs)
        if node.procedure == "INTAKE_MANIFESTS":  # answers of the graph's asynchronous requests first
            settled = settle_answers(session, place, run_id)
            return {**intake_manifests_at(session, place, run_id), "answers": settled}
        if node.procedure == "LOAD_LANE":
            target = settings.require(app_config.TARGET_DATABASE)
            lane, count = (int(a) for a in node.args)
            return load_lane_at(session, place, target, lane, count, run_id, specs)
        return runs.finalize(session, place, run_id, specs)

    def action(node: graph.Node) -> bool:
        try:
            results[node.name] = step(node)
        except Exception as err:  # as a failed task: recorded, its dependents skipped, the others go on
            results[node.name] = {"status": "FAILED", "error": f"{type(err).__name__}: {err}"}
        return bool(results[node.name].get("status") != "FAILED")

    def intake_value() -> str | None:  # INTAKE's return value, counting only the tables of this call
        taken = results.get(graph.INTAKE, {})
        if "tables_to_load" not in taken:
            return None
        return graph.intake_answer(len(set(taken["tables_to_load"]) & {s.source for s in specs}))

    count = settings.get(lanes.LOAD_LANES) or graph.DEFAULT_LANES
    tasks = graph.run_graph(graph.declare(specs, graph.check_lanes(count)), action, intake_value)
    summary = results.get(graph.FINALIZER, {})
    failed_tasks = sorted(name for name, outcome in tasks.items() if outcome == "FAILED")
    if failed_tasks:  # e.g. CHECK_READY: no table failed, because none ran
        summary = {**summary, "status": "FAILED", "failed_tasks": failed_tasks}
    return {**summary, "run_id": run_id, "tasks": tasks, "steps": results}


def _registered(session: Any, place: Place) -> Invoke:
    from stored_procs.orchestration import lambda_invoke

    return lambda_invoke.from_settings(app_config.read(session, place))
