"""`aurora-sync status`: the state of each configured table, read from the monitoring views the app reads.

The views are the app's own definitions (`stored_procs.monitoring.views`), created in the control schema
by the local runner's control DDL step (`aurora_sync.cycle.local_ddl`: it runs only when the definitions
change, never in every cycle), or here when they are missing from a control schema a run has created (its
SYNC_TABLES exists). `status` never creates a control schema: when SYNC_TABLES cannot be found (a typo in
`database` or `control_schema`, or no run yet) it raises NoRunRecorded (exit 2), naming the schema.

A table's state, the first that holds (TABLE_STATUS.STATE, plus BUSY from LEASES):

  FAILED       its last run (newest RUNS row) FAILED; the row's ERROR says why (`last_run_error`;
               `last_error` is the newest error of any run, at `last_error_at`).
  QUARANTINED  a manifest of the table is QUARANTINED (failed 3 times or invalid, not retried until an
               operator retries or discards it), or its last run set rows aside (RUNS.ROWS_QUARANTINED > 0:
               the run loaded, those rows are in QUARANTINED_ROWS, not in the target). The next run that
               sets none aside clears the second.
  BUSY         another run holds the table's load lease now (LEASES: a holder, EXPIRES_AT not passed;
               `stored_procs.orchestration.lease`): it is loading the table.
  WAITING      manifests to load (NEW, or FAILED and retried next run), or an export request not
               answered yet (EXPORT_REQUESTS.STATUS REQUESTED: the app's asynchronous exports).
A table's last run is its newest SUCCEEDED, NO_CHANGE or FAILED RUNS row (`views.last_runs`): a run that
found the table BUSY did nothing to it, so a FAILED table stays FAILED (and its RUN_FAILED alert open).
  NEVER_RUN    no RUNS row and nothing waiting (also a table of sync.toml no run has saved yet).
  SUCCEEDED    its last run loaded batches.
  NO_CHANGE    its last run had nothing new (and its export succeeded).

Exit status (`exit_status`): 1 when any table is FAILED or QUARANTINED, else 0 (a BUSY, WAITING or
NEVER_RUN table is not a failure). Times are UTC (RUNS is written with UTC times: `ledger.now`); the lag
is minutes from the loaded watermark to now, for timestamp watermarks only (NULL otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aurora_sync.config import ConfigError, SyncConfig
from stored_procs import ledger
from stored_procs.datetime_text import timestamp_ntz
from stored_procs.monitoring.views import view_ddl
from stored_procs.orchestration import cycle_state
from stored_procs.orchestration.lease import table_lease
from stored_procs.spec import Place
from stored_procs.statement import Stmt, run

FAILING = frozenset({"FAILED", "QUARANTINED"})
STATES = ("FAILED", "QUARANTINED", "BUSY", "WAITING", "NEVER_RUN", "SUCCEEDED", "NO_CHANGE")

# TABLE_STATUS columns read, in order (the view: stored_procs.monitoring.views)
_STATUS_COLUMNS = (
    "SOURCE_SCHEMA",
    "SOURCE_TABLE",
    "STATE",
    "LAST_RUN_ID",
    "LAST_RUN_STATUS",
    "LAST_RUN_AT",
    "ROWS_LAST_RUN",
    "ROWS_SET_ASIDE_LAST_RUN",
    "LAST_RUN_ERROR",
    "LAST_SUCCESS_AT",
    "LAST_ERROR",
    "LAST_ERROR_AT",
    "QUARANTINED_MANIFESTS",
    "FAILED_MANIFESTS",
    "PENDING_MANIFESTS",
    "OPEN_EXPORT_REQUESTS",
    "QUARANTINED_ROWS",
    "WATERMARK",
    "WATERMARK_LAG_MINUTES",
)
_HISTORY_COLUMNS = (
    "SOURCE_SCHEMA",
    "SOURCE_TABLE",
    "RUN_ID",
    "STARTED_AT",
    "FINISHED_AT",
    "STATUS",
    "ROWS_LOADED",
    "ROWS_QUARANTINED",
    "DURATION_S",
    "WATERMARK",
    "WATERMARK_LAG_MINUTES",
    "ERROR",
)


@dataclass
class TableStatus:
    """One configured table's line. Times are ISO 8601 UTC text (`iso`), counts ints, `lag_minutes` an int
    or None (not a timestamp watermark, or none loaded). `busy`: who holds the load lease and until when."""

    table: str  # schema.table, as in sync.toml
    state: str
    last_run_id: str | None = None
    last_run_status: str | None = None
    last_run_at: str | None = None
    rows_last_run: int | None = None
    rows_set_aside_last_run: int = 0
    last_run_error: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    quarantined_manifests: int = 0
    failed_manifests: int = 0
    pending_manifests: int = 0
    open_export_requests: int = 0
    quarantined_rows: int = 0
    watermark: str | None = None
    lag_minutes: int | None = None
    busy: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` object: these keys, always, in this order (`history` empty without --history)."""
        return dict(self.__dict__)


def iso(value: Any) -> str | None:
    """A TIMESTAMP_NTZ (UTC) as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; an aware one converted to UTC first."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return str(value.isoformat(timespec="microseconds")) + "Z"
    return str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(Decimal(str(value)))


def status_query(place: Place) -> Stmt:
    """TABLE_STATUS of the control schema, every table it holds."""
    return Stmt(f"SELECT {', '.join(_STATUS_COLUMNS)} FROM {place.control('TABLE_STATUS')}")


def history_query(place: Place, runs: int) -> Stmt:
    """RUN_HISTORY's newest `runs` rows per table, newest first."""
    columns = ", ".join(_HISTORY_COLUMNS)
    return Stmt(
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY SOURCE_SCHEMA, SOURCE_TABLE "
        f"ORDER BY FINISHED_AT DESC) AS RN FROM {place.control('RUN_HISTORY')}) AS h WHERE RN <= ? "
        "ORDER BY SOURCE_SCHEMA, SOURCE_TABLE, FINISHED_AT DESC",
        (runs,),
    )


def live_leases(place: Place) -> Stmt:
    """Leases held now (a holder, and EXPIRES_AT not passed: `lease._take` takes an expired one)."""
    return Stmt(
        f"SELECT NAME, HOLDER, EXPIRES_AT FROM {place.control('LEASES')} "
        f"WHERE HOLDER IS NOT NULL AND EXPIRES_AT >= {timestamp_ntz()}",
        (ledger.now(),),
    )


def table_status(row: Any) -> TableStatus:
    """A TABLE_STATUS row (`_STATUS_COLUMNS`, in order) as a TableStatus."""
    r = dict(zip(_STATUS_COLUMNS, row, strict=True))
    return TableStatus(
        table=f"{r['SOURCE_SCHEMA']}.{r['SOURCE_TABLE']}",
        state=str(r["STATE"]),
        last_run_id=r["LAST_RUN_ID"],
        last_run_status=r["LAST_RUN_STATUS"],
        last_run_at=iso(r["LAST_RUN_AT"]),
        rows_last_run=_int(r["ROWS_LAST_RUN"]),
        rows_set_aside_last_run=_int(r["ROWS_SET_ASIDE_LAST_RUN"]) or 0,
        last_run_error=r["LAST_RUN_ERROR"],
        last_success_at=iso(r["LAST_SUCCESS_AT"]),
        last_error=r["LAST_ERROR"],
        last_error_at=iso(r["LAST_ERROR_AT"]),
        quarantined_manifests=_int(r["QUARANTINED_MANIFESTS"]) or 0,
        failed_manifests=_int(r["FAILED_MANIFESTS"]) or 0,
        pending_manifests=_int(r["PENDING_MANIFESTS"]) or 0,
        open_export_requests=_int(r["OPEN_EXPORT_REQUESTS"]) or 0,
        quarantined_rows=_int(r["QUARANTINED_ROWS"]) or 0,
        watermark=r["WATERMARK"],
        lag_minutes=_int(r["WATERMARK_LAG_MINUTES"]),
    )


def history_run(row: Any) -> dict[str, Any]:
    """A RUN_HISTORY row (`_HISTORY_COLUMNS`) as the `history` entries of `--json`: lower-case keys."""
    r = dict(zip(_HISTORY_COLUMNS, row, strict=True))
    return {
        "run_id": r["RUN_ID"],
        "started_at": iso(r["STARTED_AT"]),
        "finished_at": iso(r["FINISHED_AT"]),
        "status": r["STATUS"],
        "rows_loaded": _int(r["ROWS_LOADED"]),
        "rows_quarantined": _int(r["ROWS_QUARANTINED"]),
        "duration_s": None if r["DURATION_S"] is None else float(r["DURATION_S"]),
        "watermark": r["WATERMARK"],
        "lag_minutes": _int(r["WATERMARK_LAG_MINUTES"]),
        "error": r["ERROR"],
    }


class NoRunRecorded(ConfigError):
    """The configured control schema holds no SYNC_TABLES: a wrong `database` / `control_schema`, or no
    run yet. Nothing is created (the CLI exits 2 with this message)."""

    def __init__(self, place: Place) -> None:
        where = f"{place.database}.{place.control_schema}" if place.database else place.control_schema
        super().__init__(
            "snowflake.control_schema",
            f"no run recorded in {where}; check control_schema (and database) or run `aurora-sync run` first",
        )


def require_control(session: Any, place: Place) -> None:
    """Raises NoRunRecorded when the control schema has no SYNC_TABLES (the error says it does not exist:
    Snowflake's "Object ... does not exist or not authorized"); any other failure is raised as it is."""
    try:
        run(session, Stmt(f"SELECT COUNT(*) AS N FROM {place.control('SYNC_TABLES')}"))
    except Exception as err:
        if "does not exist" in str(err).lower():
            raise NoRunRecorded(place) from None
        raise


def _read(session: Any, config: SyncConfig, stmt: Stmt) -> list[Any]:
    """`stmt` over the views; when it fails, the views are created (only in a control schema a run made:
    `require_control`) and it runs again. When they cannot be created, the first error is raised (it names
    what the read lacked: a privilege, the connection), else the second read's."""
    try:
        return run(session, stmt)
    except Exception as first:
        require_control(session, config.place)
        try:
            ensure_views(session, config)
        except Exception:
            raise first from None
    return run(session, stmt)


def ensure_views(session: Any, config: SyncConfig) -> None:
    """The monitoring views in the control schema. When they cannot be created (no control tables yet),
    the control DDL runs as `aurora-sync run` runs it (`cycle_state.ensure_and_read` with the same
    statements, so the next run does not run it again), which creates them too."""
    from aurora_sync.cycle import local_ddl

    place = config.place
    try:
        for stmt in view_ddl(place, place.control_schema).values():
            run(session, stmt)
    except Exception:
        cycle_state.ensure_and_read(session, place, local_ddl(config))


def read_status(session: Any, config: SyncConfig, history: int = 0) -> list[TableStatus]:
    """One TableStatus per table of sync.toml, in its order: TABLE_STATUS's row, BUSY where another run
    holds the table's load lease (unless FAILED or QUARANTINED, which say more), and with `history` > 0
    its last `history` runs (RUN_HISTORY, newest first). A table no run has saved is NEVER_RUN.
    Two statements (three with history) when the views exist."""
    place = config.place
    rows = {(r[0], r[1]): table_status(r) for r in _read(session, config, status_query(place))}
    held = {str(r[0]): (str(r[1]), iso(r[2])) for r in run(session, live_leases(place))}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if history > 0:
        for r in _read(session, config, history_query(place, history)):
            runs.setdefault((r[0], r[1]), []).append(history_run(r))
    found = []
    for spec in config.tables:
        status = rows.get(spec.key) or TableStatus(table=spec.source, state="NEVER_RUN")
        status.table = spec.source
        lease = held.get(table_lease(spec.source_schema, spec.source_table))
        if lease is not None:
            status.busy = f"held by {lease[0]} until {lease[1]}"
            if status.state not in FAILING:
                status.state = "BUSY"
        status.history = runs.get(spec.key, [])
        found.append(status)
    return found


def exit_status(tables: list[TableStatus]) -> int:
    """1 when any table is FAILED or QUARANTINED (cron and CI act on it), else 0."""
    return 1 if any(t.state in FAILING for t in tables) else 0
