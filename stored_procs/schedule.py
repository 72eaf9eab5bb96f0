"""The schedule: build, rebuild, resume and suspend the Task graph of the enabled tables.

The graph exists once ENABLE_SCHEDULE has run; from then on adding, configuring or removing a table
rebuilds it (suspended while it changes, resumed again if it was running)."""

from __future__ import annotations

from typing import Any

from stored_procs import app_config, graph, ledger, runs
from stored_procs.spec import APP_CODE_SCHEMA, Place
from stored_procs.statement import run

GRAPH_STATE = "graph_state"  # setting: absent (never built), ENABLED or SUSPENDED
ENABLED, SUSPENDED = "ENABLED", "SUSPENDED"


def location(place: Place) -> graph.GraphLocation:
    return graph.GraphLocation(place.control_schema, APP_CODE_SCHEMA, place.database)


def graph_settings(settings: app_config.AppSettings) -> graph.GraphSettings:
    return graph.GraphSettings(schedule=settings.schedule, warehouse=settings.get(app_config.WAREHOUSE))


def enable(session: Any, place: Place, schedule: str | None, warehouse: str | None) -> dict[str, Any]:
    changes: dict[str, str | None] = {app_config.WAREHOUSE: None}
    if schedule:
        changes[app_config.SCHEDULE] = app_config.schedule(schedule)
    if warehouse:
        changes[app_config.WAREHOUSE] = app_config.identifier(warehouse, "warehouse")
    runs.check_ready(session, place)  # a graph that cannot run is not scheduled
    app_config.write(session, place, changes)
    return _rebuild(session, place, resume=True)


def disable(session: Any, place: Place) -> dict[str, Any]:
    run(session, graph.suspend_ddl(location(place)))
    app_config.write(session, place, {GRAPH_STATE: SUSPENDED})
    return {"schedule": SUSPENDED, "root_task": location(place).task(graph.ROOT)}


def rebuild_if_built(session: Any, place: Place) -> dict[str, Any] | None:
    """After a table change: rebuild the graph if it exists, keeping it running or suspended."""
    state = app_config.read(session, place).get(GRAPH_STATE)
    if state is None:
        return None
    return _rebuild(session, place, resume=state == ENABLED)


def _rebuild(session: Any, place: Place, resume: bool) -> dict[str, Any]:
    settings = app_config.read(session, place)
    tables = ledger.read_table_specs(session, place)
    every = ledger.read_table_specs(session, place, enabled_only=False)
    removed = [t for t in every if t not in tables]
    where = location(place)
    for stmt in graph.rebuild_ddl(tables, removed, where, graph_settings(settings), resume):
        run(session, stmt)
    app_config.write(session, place, {GRAPH_STATE: ENABLED if resume else SUSPENDED})
    return {
        "schedule": ENABLED if resume else SUSPENDED,
        "every": settings.schedule,
        "compute": settings.get(app_config.WAREHOUSE) or "serverless",
        "root_task": where.task(graph.ROOT),
        "load_tasks": [where.task(graph.load_node_name(t)) for t in tables],
    }
