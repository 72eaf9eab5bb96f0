"""Where things live in Snowflake, and what is configured for each replicated table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync_contract.errors import IdentifierError
from sync_contract.identifiers import quote_qualified, slug, split_parts, target_name
from sync_contract.types import DEFAULT_UNBOUNDED_NUMERIC_SCALE

APP_STATE_SCHEMA = "STATE"  # control tables and the export stage (non-versioned: survives upgrades)
APP_CODE_SCHEMA = "CORE"  # procedures and views (versioned)
APP_ADMIN_ROLE, APP_VIEWER_ROLE = "AURORA_SYNC_ADMIN", "AURORA_SYNC_VIEWER"  # application roles
APP_READER_ROLE = "AURORA_SYNC_READER"  # application role: USAGE/SELECT on what the app creates


@dataclass(frozen=True)
class Place:
    """The control schema (state) and the external stage the exports are read from.

    `database` None means the session's current database: inside the Native App, where names are
    two-part (`STATE.MANIFESTS`) and resolve in the application. `grants_readers`: the app and the
    plain deployment grant readers SELECT on what they create (stored_procs.configuration.access);
    the local runner does not."""

    database: str | None
    control_schema: str
    stage_schema: str
    stage_name: str
    grants_readers: bool = False

    @classmethod
    def app(cls, database: str | None = None) -> Place:
        """Where the Native App (and the plain deployment) keep their state: schema STATE."""
        return cls(database, APP_STATE_SCHEMA, APP_STATE_SCHEMA, "EXPORT_STAGE", grants_readers=True)

    @classmethod
    def create(cls, database: str | None, control_schema: str, stage: str | None = None) -> Place:
        if stage is None:
            return cls(database, control_schema, control_schema, "EXPORT_STAGE")
        parts = split_parts(stage, "stage")
        if len(parts) == 3 and parts[0] == database:
            parts = parts[1:]
        if len(parts) != 2:
            raise IdentifierError(f"stage {stage!r} must be SCHEMA.NAME or {database}.SCHEMA.NAME")
        return cls(database, control_schema, parts[0], parts[1])

    def _qualified(self, *parts: str) -> str:
        return quote_qualified(*parts) if self.database is None else quote_qualified(self.database, *parts)

    def control(self, name: str) -> str:
        return self._qualified(self.control_schema, name)

    @property
    def schema(self) -> str:
        return self._qualified(self.control_schema)

    @property
    def stage(self) -> str:
        return self._qualified(self.stage_schema, self.stage_name)

    def stage_path(self, relative: str = "") -> str:
        """`@"DB"."S"."STAGE"/relative`: relative paths come from `sync_contract.manifest` (no quotes)."""
        if "'" in relative or " " in relative or ".." in relative:
            raise ValueError(f"stage path {relative!r} is not a contract path")
        return f"@{self.stage}/{relative}" if relative else f"@{self.stage}"


@dataclass(frozen=True)
class TableSpec:
    source_schema: str
    source_table: str
    primary_key: tuple[str, ...]
    mode: str = "incremental"
    watermark_column: str | None = None
    target_schema: str = ""
    target_table: str = ""
    numeric_scale: dict[str, int] = field(default_factory=dict)  # unbounded numeric columns
    default_numeric_scale: int = DEFAULT_UNBOUNDED_NUMERIC_SCALE
    late_row_guard: bool = True  # timestamp watermarks: high stays below the oldest open transaction
    lookback: str | None = None  # also re-export this much below the loaded watermark
    delete_detection: str = "off"  # incremental tables: "delete" or "soft_delete" from key-set exports
    keys_interval_hours: float = 24.0  # how often a key-set export is requested
    max_delete_fraction: float = 0.25  # a key set that would delete more of the target is refused
    generation: int = 0  # resyncs so far: part of the table's export ids
    bad_values: str = "quarantine"  # a value Snowflake cannot hold: quarantine its row, or fail the batch
    # an initial or full export of more rows is split over several exporter invocations (fan-out); None: never
    max_rows_per_invocation: int | None = None
    # minutes a table may go without a successful run before an alert goes out (None: no freshness alert)
    freshness_sla_minutes: float | None = None
    # customization (docs/CUSTOMIZATION.md): source column -> target column name; target column -> Snowflake
    # SQL expression over the row's target columns; source column -> Snowflake type; keep every version
    rename: dict[str, str] = field(default_factory=dict)
    transform: dict[str, str] = field(default_factory=dict)
    type_overrides: dict[str, str] = field(default_factory=dict)
    allow_lossy: bool = False  # type_overrides that cannot hold every source value are accepted
    history: bool = False  # SCD type 2: each change closes the current version and opens a new one

    def __post_init__(self) -> None:
        if not self.target_schema:
            object.__setattr__(self, "target_schema", target_name(self.source_schema))
        if not self.target_table:
            object.__setattr__(self, "target_table", target_name(self.source_table))

    def column(self, source_column: str) -> str:
        """The target column of a source column: its `rename`, else the default rule (upper-cased,
        sync_contract.identifiers.target_name)."""
        return self.rename.get(source_column) or target_name(source_column)

    @property
    def key(self) -> tuple[str, str]:
        """(schema, table): what identifies the table. `source` is for people: `a.b`.`c` and `a`.`b.c`
        read alike, so state is never keyed by it."""
        return (self.source_schema, self.source_table)

    @property
    def source(self) -> str:
        return f"{self.source_schema}.{self.source_table}"

    @property
    def resync_hint(self) -> str:
        """How a user resyncs the table, in the app and with the local runner (for error messages)."""
        return (
            f"CALL CORE.RESYNC_TABLE('{self.source}'), or aurora-sync resync --config sync.toml --table {self.source}"
        )

    @property
    def slug(self) -> str:
        return slug(self.source_schema, self.source_table)

    def target(self, database: str) -> str:
        return quote_qualified(database, self.target_schema, self.target_table)

    def target_schema_ref(self, database: str) -> str:
        return quote_qualified(database, self.target_schema)

    def scale_for(self, column: str) -> int:
        return self.numeric_scale.get(column, self.default_numeric_scale)

    @property
    def staging_name(self) -> str:
        return "_STG_" + self.slug.upper().replace("-", "_")


def customization_options(spec: TableSpec) -> dict[str, Any]:
    """A table's customization options as configuration.customization.parse reads them back (ADD_TABLE's
    summary, SYNC_TABLES.OPTIONS): {"rename", "transform", "type_overrides", "allow_lossy", "history"}."""
    return {
        "rename": dict(spec.rename),
        "transform": dict(spec.transform),
        "type_overrides": dict(spec.type_overrides),
        "allow_lossy": spec.allow_lossy,
        "history": spec.history,
    }
