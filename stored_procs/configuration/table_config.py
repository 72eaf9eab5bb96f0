"""Which tables are replicated, and how: validated table options, and ADD / CONFIGURE / REMOVE /
RESYNC of a table in SYNC_TABLES. `sync.toml` (aurora_sync.config) builds its specs with the same
`build_spec`, so a table is accepted or refused the same way from a file and from a worksheet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from stored_procs import ledger
from stored_procs.configuration import access, app_config, customization, history_changes, schema_map
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.targets import CONTROL_TABLES, target_clash
from stored_procs.loading import quarantine, transforms
from stored_procs.spec import APP_CODE_SCHEMA, Place, TableSpec, customization_options
from stored_procs.sql import drop_staging
from stored_procs.statement import run
from sync_contract.errors import ContractError
from sync_contract.identifiers import join_parts, split_qualified, target_name, validate_identifier
from sync_contract.types import MAX_NUMBER_PRECISION
from sync_contract.watermark import LOOKBACK

T = TypeVar("T")
MODES = ("incremental", "full")
OPTION_KEYS = (
    "source",
    "primary_key",
    "watermark_column",
    "mode",
    "target",
    "numeric_scale",
    "late_row_guard",
    "lookback",
    "delete_detection",
    "keys_interval_hours",
    "max_delete_fraction",
    "bad_values",
    "max_rows_per_invocation",
    "freshness_sla_minutes",
    *customization.KEYS,
)
DELETE_DETECTION = ("off", "delete", "soft_delete")
MAX_SLA_MINUTES = 525_600  # a year


def build_spec(options: dict[str, Any], where: str = "table", schema_map: dict[str, str] | None = None) -> TableSpec:
    """A TableSpec from options; InvalidSetting names `<where>.<key>`, the bad value and what is accepted.
    `schema_map` (source schema -> target schema): the target schema of a table without `target`."""
    if unknown := sorted(set(options) - set(OPTION_KEYS)):
        raise InvalidSetting(f"unknown option; options are {', '.join(OPTION_KEYS)}", f"{where}.{unknown[0]}")
    schema, name = _qualified(options.get("source"), f"{where}.source", "source table")
    mode = options.get("mode") or "incremental"
    if mode not in MODES:
        raise InvalidSetting(f"must be 'incremental' or 'full', got {mode!r}", f"{where}.mode")
    pk = options.get("primary_key")
    if not isinstance(pk, list | tuple) or not pk:
        raise InvalidSetting('must be a non-empty list of column names, e.g. ["id"]', f"{where}.primary_key")
    watermark = options.get("watermark_column")
    if mode == "incremental" and not watermark:
        raise InvalidSetting("is required for mode 'incremental' (or use mode 'full')", f"{where}.watermark_column")
    if mode == "full" and watermark:
        raise InvalidSetting("must be empty for mode 'full'", f"{where}.watermark_column")
    target_schema = target_table = ""
    if options.get("target"):
        target_schema, target_table = _qualified(options["target"], f"{where}.target", "target table")
    elif schema_map and schema in schema_map:
        target_schema = schema_map[schema]
    scales = options.get("numeric_scale") or {}
    if not isinstance(scales, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_NUMBER_PRECISION for v in scales.values()
    ):
        raise InvalidSetting(f"must map column names to scales 0..{MAX_NUMBER_PRECISION}", f"{where}.numeric_scale")
    guard = options.get("late_row_guard", True)
    if not isinstance(guard, bool):
        raise InvalidSetting(f"must be true or false, got {guard!r}", f"{where}.late_row_guard")
    lookback = options.get("lookback")
    if lookback is not None and (
        mode != "incremental" or not isinstance(lookback, str) or not LOOKBACK.match(lookback)
    ):
        raise InvalidSetting(
            "must be a quoted string, for mode 'incremental': a number such as '1000' (a number watermark) or an "
            f"interval such as '10 minutes' (a timestamp watermark); got {lookback!r}",
            f"{where}.lookback",
        )
    deletes = options.get("delete_detection") or "off"
    if deletes not in DELETE_DETECTION or (deletes != "off" and mode != "incremental"):
        raise InvalidSetting(
            f"must be 'off', 'delete' or 'soft_delete' (mode 'incremental' only; a full table applies deletes "
            f"itself), got {deletes!r}",
            f"{where}.delete_detection",
        )
    interval = _number(options.get("keys_interval_hours", 24.0), f"{where}.keys_interval_hours", 0, 24 * 365)
    fraction = _number(options.get("max_delete_fraction", 0.25), f"{where}.max_delete_fraction", 0, 1)
    bad_values = options.get("bad_values") or "quarantine"
    if bad_values not in quarantine.POLICIES:
        raise InvalidSetting(f"must be 'quarantine' or 'fail', got {bad_values!r}", f"{where}.bad_values")
    max_rows = options.get("max_rows_per_invocation")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise InvalidSetting(
            f"must be an integer >= 1 (rows one exporter invocation reads), or null for no fan-out; got {max_rows!r}",
            f"{where}.max_rows_per_invocation",
        )
    sla = options.get("freshness_sla_minutes")
    if sla is not None:  # a minute at most a year; fractions of a minute are kept (a test's tiny SLA)
        sla = _number(sla, f"{where}.freshness_sla_minutes", 0, MAX_SLA_MINUTES)
        if sla <= 0:
            raise InvalidSetting(f"must be above 0 (minutes), got {sla!r}", f"{where}.freshness_sla_minutes")
    return TableSpec(
        source_schema=schema,
        source_table=name,
        primary_key=tuple(_ident(c, f"{where}.primary_key") for c in pk),
        mode=mode,
        watermark_column=_ident(watermark, f"{where}.watermark_column") if watermark else None,
        target_schema=target_schema,
        target_table=target_table,
        numeric_scale={_ident(k, f"{where}.numeric_scale"): v for k, v in scales.items()},
        late_row_guard=guard,
        lookback=lookback,
        delete_detection=deletes,
        keys_interval_hours=interval,
        max_delete_fraction=fraction,
        bad_values=bad_values,
        max_rows_per_invocation=max_rows,
        freshness_sla_minutes=sla,
        **customization.parse(options, where),
    )


def spec_options(spec: TableSpec) -> dict[str, Any]:
    return {
        "source": join_parts(spec.source_schema, spec.source_table),
        "primary_key": list(spec.primary_key),
        "watermark_column": spec.watermark_column,
        "mode": spec.mode,
        "target": join_parts(spec.target_schema, spec.target_table),
        "numeric_scale": dict(spec.numeric_scale),
        "late_row_guard": spec.late_row_guard,
        "lookback": spec.lookback,
        "delete_detection": spec.delete_detection,
        "keys_interval_hours": spec.keys_interval_hours,
        "max_delete_fraction": spec.max_delete_fraction,
        "bad_values": spec.bad_values,
        "max_rows_per_invocation": spec.max_rows_per_invocation,
        "freshness_sla_minutes": spec.freshness_sla_minutes,
        **customization_options(spec),
    }


def add_table(session: Any, place: Place, options: dict[str, Any]) -> dict[str, Any]:
    """Replicate a table; for one already configured (even removed) this updates and enables it.
    Without a `target`, a new table goes to its source schema's entry of the schema map (CORE.SET_SCHEMA_MAP,
    configuration.schema_map), else to `access.default_target_schema` (`public.orders` -> PG_PUBLIC.ORDERS),
    and a configured one keeps its target (one added by an earlier release: PUBLIC) and every option not
    given (`kept_options`: a dropped `rename` would restart the table, a dropped `history` be refused)."""
    spec = build_spec(options)
    existing = _find(session, place, spec.source_schema, spec.source_table)
    if existing is not None:
        spec = build_spec({**kept_options(existing, spec.mode), **options})
    key = "target"  # what a clash names: the map's entry when the target schema came from it
    if not options.get("target"):  # a table configured before keeps its target (moving it restarts it)
        settings = app_config.read(session, place)
        schema = existing.target_schema if existing else schema_map.target_schema(settings, spec.source_schema)
        if existing is None and spec.source_schema in schema_map.read(settings):
            key = f"schema_map.{spec.source_schema}"
        spec = replace(
            spec, target_schema=schema, target_table=existing.target_table if existing else spec.target_table
        )
    if existing is not None:
        spec = replace(spec, generation=existing.generation)
    _check_target(session, place, spec, key)
    _check_transforms(session, place, spec)
    notes = _check_privileges(session, place, spec)
    restarted = save(session, place, existing, spec, enabled=True)
    summary = {"table": spec.source, "action": "updated" if existing else "added", **spec_options(spec)}
    return {**summary, "enabled": True, **restarted, **({"notes": notes} if notes else {})}


# ADD_TABLE's own arguments (stored_procs.handlers.add_table): always given, never kept from before
ADD_TABLE_ARGUMENTS = ("source", "primary_key", "watermark_column", "mode", "target")
# options only an incremental table may have (build_spec): not kept when ADD_TABLE makes the table full
_INCREMENTAL_ONLY = ("lookback", "delete_detection")


def kept_options(existing: TableSpec, mode: str) -> dict[str, Any]:
    """The options of a configured table that ADD_TABLE of it again keeps unless it gives them (as
    CONFIGURE_TABLE keeps those it is not given): all but its own arguments, and, for a table it makes
    full, the incremental-only ones."""
    dropped = ADD_TABLE_ARGUMENTS + (_INCREMENTAL_ONLY if mode == "full" else ())
    return {k: v for k, v in spec_options(existing).items() if k not in dropped}


def configure_table(session: Any, place: Place, source: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some options of a configured table; the others keep their values, and so does whether
    it is enabled. Switching to mode 'full' drops the watermark column (a full table has none)."""
    current = require_table(session, place, source)
    if "source" in changes:
        raise InvalidSetting("cannot be changed; remove the table and add the new one", "source")
    if changes.get("mode") == "full":
        changes = {"watermark_column": None, **changes}
    spec = replace(build_spec({**spec_options(current), **changes}), generation=current.generation)
    if "target" in changes and not changes["target"]:  # back to the default: the one ADD_TABLE gives
        spec = replace(
            spec, target_schema=schema_map.target_schema(app_config.read(session, place), spec.source_schema)
        )
    _check_target(session, place, spec)
    _check_transforms(session, place, spec)
    notes = _check_privileges(session, place, spec) if spec.target_schema != current.target_schema else []
    enabled = _is_enabled(session, place, current)
    restarted = save(session, place, current, spec, enabled)
    summary = {"table": spec.source, "action": "configured", **spec_options(spec), "enabled": enabled}
    return {**summary, **restarted, **({"notes": notes} if notes else {})}


def _check_target(session: Any, place: Place, spec: TableSpec, key: str = "target") -> None:
    """Refuse a target another configured table has (enabled or removed: a removed table keeps its
    target table and ADD_TABLE resumes it), or one inside the app's own schemas (stored_procs.configuration.targets).
    Both schemas are refused in any target database: SET_TARGET_DATABASE may later name the database
    that holds them (the plain deployment's)."""
    configured = ledger.read_table_specs(session, place, enabled_only=False)
    enabled = {(s.source_schema, s.source_table) for s in ledger.read_table_specs(session, place)}
    reserved = {place.control_schema: CONTROL_TABLES, APP_CODE_SCHEMA: "the app's procedures and views"}
    removed = {(s.source_schema, s.source_table) for s in configured} - enabled
    if clash := target_clash(spec, configured, reserved, removed):
        mapped = "" if key == "target" else " (its target schema comes from the schema map: CORE.SET_SCHEMA_MAP)"
        raise InvalidSetting(clash + mapped, key)


def _check_privileges(session: Any, place: Place, spec: TableSpec) -> list[str]:
    """Once the target database is set: the target schema exists and the app can create tables there
    (NotConfigured names the GRANT, and nothing is saved). Before that, CHECK_READY checks it."""
    database = app_config.read(session, place).get(app_config.TARGET_DATABASE)
    return access.prepare_schema(session, place, database, spec.target_schema) if database else []


def _check_transforms(session: Any, place: Place, spec: TableSpec) -> None:
    """Once the target database is set and the target table exists: each `transform` compiles over its
    columns (loading.transforms.check_compiles; else the first load checks it over the batch)."""
    database = app_config.read(session, place).get(app_config.TARGET_DATABASE) if spec.transform else None
    if database:
        try:
            transforms.check_compiles(session, spec, database)
        except ValueError as err:
            raise InvalidSetting(str(err)) from err


def save(
    session: Any, place: Place, before: TableSpec | None, after: TableSpec, enabled: bool, database: str | None = None
) -> dict[str, Any]:
    """Save the table's new options. A loaded watermark belongs to one column and mode, and the loaded
    rows to one target and its column names: with another, the next window would start from the wrong
    `low` (rows skipped, or the export refused), fill a new target with only the rows changed since, or
    (another `rename`) fill new columns only for the rows changed since while the old ones stop changing,
    so such a change restarts the table like a resync (its export from the beginning replaces the target
    whole, in one swap, with the new columns: docs/CUSTOMIZATION.md "Rename"). A history table is never
    swapped, so the changes it cannot take in place while its target stays are refused, InvalidSetting
    naming the option (configuration.history_changes; `database`: the target database, None: the app's)."""
    if before is not None and (refused := history_changes.refusal(session, place, before, after, database)):
        raise InvalidSetting(refused[1], refused[0])
    if before is None or _restart_key(before) == _restart_key(after):
        ledger.save_table_spec(session, place, after, enabled)
        return {}
    superseded = _restart(session, place, after, enabled, f"reconfigured-{after.slug}")
    renamed = "" if _renamed(before) == _renamed(after) else f", rename {_renamed(before)} -> {_renamed(after)}"
    return {
        "resync": "the watermark column, mode, target, rename or history changed "
        f"({before.mode}/{before.watermark_column}/{before.target_schema}.{before.target_table} -> "
        f"{after.mode}/{after.watermark_column}/"
        f"{after.target_schema}.{after.target_table}{renamed}): {superseded} manifests superseded, the next "
        "export starts from the beginning of the table"
    }


def _restart_key(spec: TableSpec) -> tuple[Any, ...]:
    """What the loaded rows and watermark belong to: a change of any of it restarts the table (`save`)."""
    return (spec.mode, spec.watermark_column, spec.target_schema, spec.target_table, _renamed(spec), spec.history)


def _renamed(spec: TableSpec) -> dict[str, str]:
    """The renames that give a column another name than its default (a rename to it changes nothing)."""
    return {s: t for s, t in sorted(spec.rename.items()) if t != target_name(s)}


def remove_table(session: Any, place: Place, source: str) -> dict[str, Any]:
    """Stop replicating the table. Its ledger, watermark and target table stay: ADD_TABLE resumes it."""
    spec = require_table(session, place, source)
    ledger.set_enabled(session, place, spec, False)
    run(session, drop_staging(place, spec))  # a small staged batch left for the next load (loading.apply)
    return {"table": spec.source, "action": "removed", "kept": ["target table", "ledger", "watermark"]}


def resync_table(session: Any, place: Place, source: str, run_id: str) -> dict[str, Any]:
    spec = require_table(session, place, source)
    superseded = _restart(session, place, spec, _is_enabled(session, place, spec), run_id)
    return {
        "table": spec.source,
        "action": "resync",
        "manifests_superseded": superseded,
        "next": "the next export starts from the beginning of the table; "
        + (
            "it is merged into the history table (never swapped): a row that differs from its current version "
            "gets a new version, a key no longer in the source has its current version closed, and every "
            "earlier version stays"
            if spec.history
            else "it replaces the target in one swap"
        ),
    }


def _restart(session: Any, place: Place, spec: TableSpec, enabled: bool, run_id: str) -> int:
    """Save `spec` as a new generation (the exports from the beginning get new ids, not those of the
    superseded ones) and supersede its history; the number of manifests superseded."""
    ledger.save_table_spec(session, place, replace(spec, generation=spec.generation + 1), enabled)
    run(session, drop_staging(place, spec))  # a small staged batch left for the next load (loading.apply)
    return ledger.supersede_history(session, place, spec, run_id)


def _is_enabled(session: Any, place: Place, spec: TableSpec) -> bool:
    return spec in ledger.read_table_specs(session, place)


def _find(session: Any, place: Place, schema: str, table: str) -> TableSpec | None:
    for spec in ledger.read_table_specs(session, place, enabled_only=False):
        if (spec.source_schema, spec.source_table) == (schema, table):
            return spec
    return None


def require_table(session: Any, place: Place, source: str) -> TableSpec:
    schema, table = _qualified(source, "source", "source table")
    spec = _find(session, place, schema, table)
    if spec is None:
        known = ", ".join(s.source for s in ledger.read_table_specs(session, place, enabled_only=False)) or "none"
        raise InvalidSetting(
            f"table {schema}.{table} is not configured (configured: {known}); add it with CORE.ADD_TABLE", "source"
        )
    return spec


def _number(value: Any, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidSetting(f"must be a number from {low} to {high}, got {value!r}", key)
    return float(value)


def _qualified(value: Any, key: str, what: str) -> tuple[str, str]:
    return _checked(value, key, "'schema.table' string", lambda v: split_qualified(v, what))


def _ident(value: Any, key: str) -> str:
    return _checked(value, key, "column name", lambda v: validate_identifier(v, key))


def _checked(value: Any, key: str, expected: str, check: Callable[[str], T]) -> T:
    """`check(value)` for a non-empty string; any refusal becomes an InvalidSetting naming `key`."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidSetting(f"must be a non-empty {expected}, got {value!r}", key)
    try:
        return check(value)
    except ContractError as err:
        raise InvalidSetting(str(err), key) from err
