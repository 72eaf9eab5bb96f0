"""The schedule: build, rebuild, resume and suspend the Task graph of the enabled tables.

The graph exists once ENABLE_SCHEDULE has run; from then on adding, configuring or removing a table
rebuilds it (suspended while it changes, resumed only if it was running: a graph Snowflake suspended
after repeated failures stays suspended until ENABLE_SCHEDULE). With an alert integration set, the
watchdog task (`graph.watchdog_ddl`: CORE.CHECK_ALERTS every 15 minutes, its own root) exists while the
schedule is enabled, and is dropped when the schedule is disabled or the integration unset."""

from __future__ import annotations

from typing import Any

from stored_procs import ledger
from stored_procs.configuration import access, app_config
from stored_procs.monitoring.alerts import ALERT_INTEGRATION
from stored_procs.orchestration import graph, lanes, runs
from stored_procs.spec import APP_ADMIN_ROLE, APP_CODE_SCHEMA, Place
from stored_procs.statement import Stmt, run

GRAPH_STATE = "graph_state"  # setting: absent (never built), ENABLED or SUSPENDED
DEPLOYMENT = app_config.DEPLOYMENT  # setting: "plain" when deployed without the Native App (tools/plain_deploy.py)
ENABLED, SUSPENDED = "ENABLED", "SUSPENDED"
SERVERLESS = "SERVERLESS"


def location(place: Place) -> graph.GraphLocation:
    return graph.GraphLocation(place.control_schema, APP_CODE_SCHEMA, place.database)


def enable(
    session: Any, place: Place, schedule: str | None, warehouse: str | None, load_lanes: int | None = None
) -> dict[str, Any]:
    """Build the graph with the given schedule, compute and number of load lanes, and resume it. A value
    not given keeps its current one; WAREHOUSE => 'SERVERLESS' goes back to serverless. The settings
    change only once the graph is built."""
    settings = app_config.read(session, place)
    chosen = graph.GraphSettings(
        schedule=app_config.schedule(schedule) if schedule else settings.schedule,
        warehouse=_warehouse(settings, warehouse),
        lanes=_lanes(settings, load_lanes),
    )
    ready = runs.check_ready(session, place)  # a graph that cannot run is not scheduled
    # after an upgrade, targets loaded before the reader role existed become readable here
    reader_notes = access.let_readers_read_existing(
        session, place, ready["target_database"], ledger.read_table_specs(session, place)
    )
    try:
        summary = _rebuild(session, place, settings, chosen, resume=True)
    except Exception as err:
        raise app_config.NotConfigured(
            f"the Task graph could not be built or resumed ({err}); settings unchanged. {_task_needs(chosen)}"
        ) from err
    app_config.write(
        session,
        place,
        {
            app_config.SCHEDULE: chosen.schedule,
            app_config.WAREHOUSE: chosen.warehouse,
            lanes.LOAD_LANES: str(chosen.lanes),
            GRAPH_STATE: ENABLED,
        },
    )
    return {**summary, "notes": reader_notes} if reader_notes else summary


def disable(session: Any, place: Place) -> dict[str, Any]:
    run(session, graph.suspend_ddl(location(place)))
    if app_config.read(session, place).get(ALERT_INTEGRATION):
        run(session, graph.drop_watchdog_ddl(location(place)))
    app_config.write(session, place, {GRAPH_STATE: SUSPENDED})
    return {"schedule": SUSPENDED, "root_task": location(place).task(graph.ROOT)}


def rebuild_if_built(session: Any, place: Place) -> dict[str, Any] | None:
    """After a table change: rebuild the graph if it exists; resume it only if it is running now."""
    settings = app_config.read(session, place)
    state = settings.get(GRAPH_STATE)
    if state is None:
        return None
    resume = state == ENABLED and _root_started(session, place)
    current = graph.GraphSettings(
        schedule=settings.schedule, warehouse=settings.get(app_config.WAREHOUSE), lanes=_lanes(settings, None)
    )
    summary = _rebuild(session, place, settings, current, resume)
    if not resume and state == ENABLED:
        app_config.write(session, place, {GRAPH_STATE: SUSPENDED})
        summary["note"] = "the graph was suspended (by Snowflake, after failed runs?): CALL CORE.ENABLE_SCHEDULE()"
    return summary


def sync_watchdog(session: Any, place: Place) -> dict[str, Any] | None:
    """After SET_ALERT_INTEGRATION: the watchdog task exists exactly when an integration is set and the
    schedule is enabled. None when the graph was never built (nothing to watch, nothing to drop)."""
    settings = app_config.read(session, place)
    state = settings.get(GRAPH_STATE)
    if state is None:
        return None
    where = location(place)
    if not (settings.get(ALERT_INTEGRATION) and state == ENABLED):
        run(session, graph.drop_watchdog_ddl(where))
        return {"watchdog": "dropped"}
    chosen = graph.GraphSettings(schedule=settings.schedule, warehouse=settings.get(app_config.WAREHOUSE))
    try:
        for stmt in graph.watchdog_ddl(where, chosen, operator=_operator(settings)):
            run(session, stmt)
    except Exception as err:
        raise app_config.NotConfigured(
            f"the watchdog task {where.task(graph.WATCHDOG)} could not be built ({err}); alerts still go out "
            f"after each graph run. {_task_needs(chosen)}"
        ) from err
    return {"watchdog": where.task(graph.WATCHDOG), "every": graph.WATCHDOG_SCHEDULE}


def _task_needs(chosen: graph.GraphSettings) -> str:
    """What the app must be granted to create and run its tasks (serverless, or on the chosen warehouse)."""
    needs = f"USAGE on warehouse {chosen.warehouse!r}" if chosen.warehouse else "EXECUTE MANAGED TASK"
    return f"The app needs EXECUTE TASK and {needs} (docs/snowflake/consumer_setup.sql)"


def _operator(settings: app_config.AppSettings) -> str | None:
    # Inside the app the tasks belong to the app: its admin role may watch and run them. A plain
    # deployment grants that with FUTURE grants on the schema instead (tools/plain_deploy.py).
    return None if settings.get(DEPLOYMENT) == "plain" else f"APPLICATION ROLE {APP_ADMIN_ROLE}"


def _warehouse(settings: app_config.AppSettings, given: str | None) -> str | None:
    if given is None:
        return settings.get(app_config.WAREHOUSE)
    if given.strip().upper() == SERVERLESS:
        return None
    return app_config.object_name(given, "warehouse")


def _lanes(settings: app_config.AppSettings, given: int | None) -> int:
    """The lane count given, else the one the graph was built with, else the default."""
    value = given if given is not None else settings.get(lanes.LOAD_LANES) or graph.DEFAULT_LANES
    try:
        return graph.check_lanes(value)
    except ValueError as err:
        raise app_config.InvalidSetting(str(err), "LOAD_LANES") from err


def _root_started(session: Any, place: Place) -> bool:
    """The root task's own state (SHOW TASKS' `state`: started or suspended)."""
    where = location(place)
    schema = place.schema
    rows = run(session, Stmt(f"SHOW TASKS LIKE '{where.prefix}_{graph.ROOT}' IN SCHEMA {schema}"))
    return any(str(row.as_dict().get("state", "")).lower() == "started" for row in rows)


def _rebuild(
    session: Any, place: Place, settings: app_config.AppSettings, chosen: graph.GraphSettings, resume: bool
) -> dict[str, Any]:
    tables = ledger.read_table_specs(session, place)
    every = ledger.read_table_specs(session, place, enabled_only=False)
    removed = [t for t in every if t not in tables]
    where = location(place)
    operator = _operator(settings)
    for stmt in graph.rebuild_ddl(tables, removed, where, chosen, resume, operator):
        run(session, stmt)
    watched = settings.get(ALERT_INTEGRATION) and (resume or settings.get(GRAPH_STATE) == ENABLED)
    for stmt in graph.watchdog_ddl(where, chosen, operator=operator) if watched else []:
        run(session, stmt)  # a graph Snowflake suspended keeps its watchdog
    if not resume:
        app_config.write(session, place, {GRAPH_STATE: SUSPENDED})
    return {
        "schedule": ENABLED if resume else SUSPENDED,
        "every": chosen.schedule,
        "compute": chosen.warehouse or "serverless",
        "root_task": where.task(graph.ROOT),
        "load_lanes": [where.task(n.name) for n in graph.declare(tables, chosen.lanes) if n.procedure == "LOAD_LANE"],
    }
