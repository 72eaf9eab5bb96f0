"""The app's schema map (CORE.SET_SCHEMA_MAP, docs/CUSTOMIZATION.md "Schema map"): source schema -> target
schema, the target schema ADD_TABLE gives a table added without `target` (the `[target] schema_map` of
sync.toml, aurora_sync.config). Kept in STATE.SETTINGS as JSON text under `schema_map`.

Changing the map moves no configured table: a table's target holds its loaded rows, and moving it means
filling the new target from the beginning. `set_map` lists the configured tables the new map would place
elsewhere and the call that moves one (CONFIGURE_TABLE(target => …), which restarts that table).
"""

from __future__ import annotations

import json
from typing import Any

from stored_procs import ledger
from stored_procs.configuration import access, app_config
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.targets import read_only_schema
from stored_procs.spec import APP_CODE_SCHEMA, Place
from stored_procs.statement import literal
from sync_contract.errors import ContractError
from sync_contract.identifiers import collision_key, join_parts, quote_ident, validate_identifier

SETTING = "schema_map"


def parse(value: Any) -> dict[str, str]:
    """{source schema: target schema} from the procedure's OBJECT (None or {}: no map). Keys are source
    schemas as PostgreSQL names them (exact: `public`); values are Snowflake names as Snowflake resolves them
    (app_config.object_name: `raw` is RAW, `"Raw"` keeps its case). InvalidSetting names `schema_map.<key>`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSetting(
            f"must be an OBJECT of source schema -> target schema, e.g. {{'public': 'RAW'}}; got {value!r}",
            "schema_map",
        )
    out = {}
    for source, target in value.items():
        key = f"schema_map.{source}"
        try:
            name = validate_identifier(source, "source schema") if isinstance(source, str) and source else None
        except ContractError as err:
            raise InvalidSetting(str(err), key) from err
        if name is None:
            raise InvalidSetting("a source schema name must be a non-empty string", "schema_map")
        if not isinstance(target, str):
            raise InvalidSetting(f"must be a target schema name, got {target!r}", key)
        try:
            out[name] = target_schema_name(target)
        except InvalidSetting as err:
            raise InvalidSetting(err.reason, key) from err
    return out


def target_schema_name(value: str) -> str:
    """A schema map's value as Snowflake resolves it (app_config.object_name: `raw` is RAW, `"Raw"` keeps its
    case); InvalidSetting (no key) for text that is not a name or names a read-only schema
    (targets.read_only_schema: INFORMATION_SCHEMA). The one rule of sync.toml's [target] schema_map
    (aurora_sync.config) and CORE.SET_SCHEMA_MAP."""
    name = app_config.object_name(value, "target schema")
    if why := read_only_schema(name):
        raise InvalidSetting(why)
    return name


def read(settings: app_config.AppSettings) -> dict[str, str]:
    text = settings.get(SETTING)
    return dict(json.loads(text)) if text else {}


def target_schema(settings: app_config.AppSettings, source_schema: str) -> str:
    """The target schema of a table added without `target`: the map's entry for its source schema, else
    the default rule (access.default_target_schema: `public` -> PG_PUBLIC, `sales` -> SALES)."""
    return read(settings).get(source_schema) or access.default_target_schema(source_schema)


def move_call(source: str, target: str) -> str:
    """The CONFIGURE_TABLE call that moves table `source` to `target` (`schema.table`), names quoted as
    string literals (quotes doubled, backslashes escaped: statement.literal), so a name holding a quote
    stays one argument of a call that can be copied and run."""
    return f"CALL {APP_CODE_SCHEMA}.CONFIGURE_TABLE({literal(source)}, {{'target': {literal(target)}}})"


def set_map(session: Any, place: Place, value: Any) -> dict[str, Any]:
    """Validate and store the map (None or {} clears it). A target schema may not be one of the app's own
    (STATE, CORE: `configuration.targets`). Returns the map and the configured tables that keep a target
    the map would now place elsewhere, with the call that moves each."""
    mapping = parse(value)
    reserved = {collision_key(place.control_schema): "the sync's own tables", collision_key(APP_CODE_SCHEMA): ""}
    for source, target in mapping.items():
        if collision_key(target) in reserved:
            raise InvalidSetting(
                f"{quote_ident(target)} is one of the app's own schemas (STATE, CORE); map {source} to another schema",
                f"schema_map.{source}",
            )
    app_config.write(session, place, {SETTING: json.dumps(mapping, sort_keys=True) if mapping else None})
    kept = []
    specs = ledger.read_table_specs(session, place, enabled_only=False)
    unmatched = case_mismatches(mapping, [spec.source_schema for spec in specs])
    for spec in specs:
        mapped = mapping.get(spec.source_schema)
        if mapped is not None and mapped != spec.target_schema:
            target = join_parts(mapped, spec.target_table)
            kept.append(
                {
                    "table": spec.source,
                    "target": join_parts(spec.target_schema, spec.target_table),
                    "mapped": target,
                    "move": move_call(spec.source, target),
                }
            )
    return {
        "schema_map": mapping,
        "applies_to": "tables added from now on without a target (ADD_TABLE)",
        "kept_their_target": kept,
        **(
            {
                "note": "configured tables keep their target and its rows; CONFIGURE_TABLE(target => …) moves one, "
                "which restarts it (its export from the beginning fills the new target; the old table stays)"
            }
            if kept
            else {}
        ),
        **({"warning": "; ".join(unmatched)} if unmatched else {}),
    }


def case_mismatches(mapping: dict[str, str], schemas: list[str]) -> list[str]:
    """A warning for each map key that is no configured table's source schema but matches one in another
    case (`PUBLIC` for tables in `public`): keys match PostgreSQL's names exactly, so the tables would not
    get the mapped schema. Only a warning: the tables the key is meant for may be added later (sync.toml
    refuses such a key outright: aurora_sync.config)."""
    known = sorted(set(schemas))
    out = []
    for key in sorted(mapping):
        same = [s for s in known if s != key and s.casefold() == key.casefold()]
        if key not in known and same:
            out.append(
                f"schema_map key {key!r} matches no configured table's source schema; did you mean {same[0]!r}? "
                "(keys are source schemas exactly as PostgreSQL names them)"
            )
    return out
