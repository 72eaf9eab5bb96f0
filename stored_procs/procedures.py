"""Every procedure the app registers, declared once: its SQL signature, its handler, who may call it.

`tools/gen_app_sql.py` writes one `CREATE PROCEDURE` file per entry into `snowflake_app/sql/procedures/`
(the Native App's setup script and the plain deployment both run those files); the local runner and
the tests call the same handlers. A contract test reads the generated SQL back and checks every
handler exists with the declared parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stored_procs import handlers

ADMIN, VIEWER = "ADMIN", "VIEWER"  # the application roles AURORA_SYNC_ADMIN / AURORA_SYNC_VIEWER
RUNTIME_VERSION = "3.11"
BASE_PACKAGES = ("snowflake-snowpark-python",)
CODE_ARCHIVE = "python/aurora_sync_procs.zip"  # in the app stage; built by tools/build_app_code.py


@dataclass(frozen=True)
class Arg:
    name: str
    sql_type: str  # VARCHAR, NUMBER (a whole number), ARRAY, OBJECT
    default: str | None = None  # SQL literal, e.g. NULL or 'incremental'


@dataclass(frozen=True)
class Procedure:
    name: str
    handler: Callable[..., dict[str, Any]]
    args: tuple[Arg, ...]
    role: str
    comment: str
    external_access: bool = False  # REQUEST_EXPORTS: the exporter Lambda, through the bound integration
    # takes manifests in: reads the manifest signing key from the bound secret (stored_procs.loading.manifest_keys)
    manifest_key: bool = False
    extra_packages: tuple[str, ...] = ()

    @property
    def handler_path(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__name__}"

    @property
    def packages(self) -> tuple[str, ...]:
        return BASE_PACKAGES + self.extra_packages

    @property
    def arg_types(self) -> str:
        """The signature as GRANT / ALTER PROCEDURE name it: `(VARCHAR, VARCHAR)`."""
        return "(" + ", ".join(a.sql_type for a in self.args) + ")"


RUN_ID = Arg("RUN_ID", "VARCHAR", "NULL")
SOURCE = Arg("SOURCE", "VARCHAR")

PROCEDURES: tuple[Procedure, ...] = (
    # the Task graph
    Procedure("CHECK_READY", handlers.check_ready, (), ADMIN, "Root task: is everything configured?"),
    Procedure(
        "REQUEST_EXPORTS",
        handlers.request_exports,
        (RUN_ID, Arg("WAIT", "BOOLEAN", "FALSE")),
        ADMIN,
        "Invoke the exporter Lambda for every enabled table, from its watermark (asynchronously unless WAIT)",
        external_access=True,
        manifest_key=True,  # verifies the exporter's signed answers first (orchestration.answers.settle)
        extra_packages=("boto3",),
    ),
    Procedure(
        "INTAKE_MANIFESTS",
        handlers.intake_manifests,
        (),
        ADMIN,
        "Copy new manifests into the ledger",
        manifest_key=True,
    ),
    Procedure(
        "LOAD_TABLE",
        handlers.load_table,
        (Arg("SOURCE_SCHEMA", "VARCHAR"), Arg("SOURCE_TABLE", "VARCHAR"), RUN_ID),
        ADMIN,
        "Load one table's pending exports: COPY, check counts, MERGE, advance the watermark",
    ),
    Procedure(
        "LOAD_LANE",
        handlers.load_lane,
        (Arg("LANE", "NUMBER"), Arg("LANES", "NUMBER"), RUN_ID),
        ADMIN,
        "Load task LANE of LANES: its share of the tables with pending exports, one after another",
    ),
    Procedure("FINALIZE_RUN", handlers.finalize_run, (RUN_ID,), ADMIN, "Finalizer: write the run summary"),
    # configuration
    Procedure(
        "REGISTER_STAGE",
        handlers.register_stage,
        (
            Arg("STAGE_URL", "VARCHAR"),
            Arg("STORAGE_INTEGRATION", "VARCHAR"),
            Arg("AWS_REGION", "VARCHAR"),
            Arg("S3_ENDPOINT_URL", "VARCHAR", "NULL"),
        ),
        ADMIN,
        "Create the export stage on the consumer's storage integration",
    ),
    Procedure(
        "REGISTER_EXPORTER",
        handlers.register_exporter,
        (
            Arg("FUNCTION_NAME", "VARCHAR"),
            Arg("AWS_REGION", "VARCHAR"),
            Arg("ENDPOINT_URL", "VARCHAR", "NULL"),
            Arg("ANSWER_TIMEOUT_MINUTES", "FLOAT", "NULL"),
        ),
        ADMIN,
        "Name the exporter Lambda REQUEST_EXPORTS invokes",
    ),
    Procedure(
        "SET_EXPORT_MODE",
        handlers.set_export_mode,
        (Arg("MODE", "VARCHAR"),),
        ADMIN,
        "pull: the graph invokes the exporter; push: the exporter's own schedule exports, the graph loads",
    ),
    Procedure(
        "SET_TARGET_DATABASE",
        handlers.set_target_database,
        (Arg("DATABASE_NAME", "VARCHAR"),),
        ADMIN,
        "Choose the database the replicated tables are created in",
    ),
    Procedure(
        "SET_ALERT_INTEGRATION",
        handlers.set_alert_integration,
        (Arg("INTEGRATION_NAME", "VARCHAR", "NULL"),),
        ADMIN,
        "Send alerts (a failed run, a quarantine, a stale table; once per incident) to this notification "
        "integration; NULL stops them",
    ),
    Procedure(
        "CHECK_ALERTS",
        handlers.check_alerts,
        (),
        ADMIN,
        "Evaluate alerts without a graph run (a stale table, a graph that stopped running) and notify once per "
        "incident; the watchdog task calls it",
    ),
    Procedure(
        "ADD_TABLE",
        handlers.add_table,
        (
            SOURCE,
            Arg("PRIMARY_KEY", "ARRAY"),
            Arg("WATERMARK_COLUMN", "VARCHAR", "NULL"),
            Arg("MODE", "VARCHAR", "'incremental'"),
            Arg("TARGET", "VARCHAR", "NULL"),
            Arg("FRESHNESS_SLA_MINUTES", "FLOAT", "NULL"),  # alerts: stale after this long without success
            # any other option (rename, transform, type_overrides, allow_lossy, history, delete_detection, …)
            Arg("OPTIONS", "OBJECT", "NULL"),
        ),
        ADMIN,
        "Replicate a table (or update its settings)",
    ),
    Procedure(
        "SET_SCHEMA_MAP",
        handlers.set_schema_map,
        # not MAP: a Snowflake type keyword (the structured MAP type)
        (Arg("SCHEMA_MAP", "OBJECT", "NULL"),),
        ADMIN,
        "Give tables added without a target the target schema of their source schema; NULL clears the map",
    ),
    Procedure(
        "CONFIGURE_TABLE",
        handlers.configure_table,
        (SOURCE, Arg("OPTIONS", "OBJECT")),
        ADMIN,
        "Change some options of a replicated table",
    ),
    Procedure("REMOVE_TABLE", handlers.remove_table, (SOURCE,), ADMIN, "Stop replicating a table"),
    Procedure("RESYNC_TABLE", handlers.resync_table, (SOURCE,), ADMIN, "Re-export a table from the beginning next run"),
    Procedure(
        "RECONCILE_TABLE",
        handlers.reconcile_table,
        (SOURCE,),
        ADMIN,
        "Compare a table with its source: bucket fingerprints, then key by key where they differ",
        external_access=True,
        extra_packages=("boto3",),
    ),
    Procedure(
        "RETRY_MANIFEST",
        handlers.retry_manifest,
        (Arg("EXPORT_ID", "VARCHAR"),),
        ADMIN,
        "Load a failed or quarantined export again, after fixing its cause",
        manifest_key=True,
    ),
    Procedure(
        "DISCARD_MANIFEST",
        handlers.discard_manifest,
        (Arg("EXPORT_ID", "VARCHAR"), Arg("REASON", "VARCHAR")),
        ADMIN,
        "Never load an export (NEW, failed or quarantined, or still in the inbox): recorded with who, when, why",
    ),
    Procedure(
        "ENABLE_SCHEDULE",
        handlers.enable_schedule,
        (
            Arg("SCHEDULE_TEXT", "VARCHAR", "NULL"),
            Arg("WAREHOUSE", "VARCHAR", "NULL"),
            Arg("LOAD_LANES", "NUMBER", "NULL"),
        ),
        ADMIN,
        "Build the Task graph for the enabled tables and resume it",
    ),
    Procedure("DISABLE_SCHEDULE", handlers.disable_schedule, (), ADMIN, "Suspend the Task graph"),
    Procedure("SHOW_CONFIG", handlers.show_config, (), VIEWER, "Settings and tables"),
    # run now
    Procedure(
        "SYNC_TABLE",
        handlers.sync_table,
        (SOURCE,),
        ADMIN,
        "Export, take in and load one table now",
        external_access=True,
        manifest_key=True,
        extra_packages=("boto3",),
    ),
    Procedure(
        "SYNC_ALL",
        handlers.sync_all,
        (),
        ADMIN,
        "Run the whole graph once now, in this session",
        external_access=True,
        manifest_key=True,
        extra_packages=("boto3",),
    ),
    Procedure(
        "LOAD_PENDING",
        handlers.load_pending,
        (),
        ADMIN,
        "Take in and load what is in the stage now",
        manifest_key=True,
    ),
)


def by_name() -> dict[str, Procedure]:
    return {p.name: p for p in PROCEDURES}
