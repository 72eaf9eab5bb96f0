"""A table's customization options (docs/CUSTOMIZATION.md): `rename`, `transform`, `type_overrides`,
`allow_lossy` and `history`, validated the same way from `sync.toml` and from ADD_TABLE /
CONFIGURE_TABLE. Every refusal is an InvalidSetting naming `<where>.<option>.<entry>` and what is
accepted; checks that need the exported columns (a rename onto another column's name, an override of
a column's type) run again at load against the manifest (stored_procs.sql.target_columns)."""

from __future__ import annotations

from typing import Any

from stored_procs.configuration.app_config import InvalidSetting
from sync_contract.errors import ContractError
from sync_contract.identifiers import collision_key, validate_identifier

KEYS = ("rename", "transform", "type_overrides", "allow_lossy", "history")


def parse(options: dict[str, Any], where: str) -> dict[str, Any]:
    """The TableSpec fields of the customization options in `options` (absent ones get their defaults):
    {"rename": {source column: target column}, "transform": {target column: SQL expression},
    "type_overrides": {source column: Snowflake type}, "allow_lossy": bool, "history": bool}."""
    rename = _names(options.get("rename"), f"{where}.rename", "source column names to target column names")
    targets: dict[str, str] = {}
    for source, target in rename.items():
        if (seen := targets.setdefault(collision_key(target), source)) != source:
            raise InvalidSetting(
                f"{seen!r} and {source!r} are both renamed to {target!r}: two columns cannot share a target column",
                f"{where}.rename.{source}",
            )
    transform = _strings(options.get("transform"), f"{where}.transform", "target column names to SQL expressions")
    overrides = _strings(
        options.get("type_overrides"), f"{where}.type_overrides", "source column names to Snowflake types"
    )
    return {
        "rename": rename,
        "transform": transform,
        "type_overrides": overrides,
        "allow_lossy": _flag(options.get("allow_lossy", False), f"{where}.allow_lossy"),
        "history": _flag(options.get("history", False), f"{where}.history"),
    }


def options(spec: Any) -> dict[str, Any]:
    """The customization options of a TableSpec, as `parse` reads them back (SYNC_TABLES.OPTIONS)."""
    return {
        "rename": dict(spec.rename),
        "transform": dict(spec.transform),
        "type_overrides": dict(spec.type_overrides),
        "allow_lossy": spec.allow_lossy,
        "history": spec.history,
    }


def _mapping(value: Any, key: str, expected: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSetting(f"must be a table mapping {expected}, got {value!r}", key)
    return value


def _names(value: Any, key: str, expected: str) -> dict[str, str]:
    out = {}
    for name, target in _mapping(value, key, expected).items():
        out[_identifier(name, key)] = _identifier(target, f"{key}.{name}")
    return out


def _strings(value: Any, key: str, expected: str) -> dict[str, str]:
    out = {}
    for name, text in _mapping(value, key, expected).items():
        if not isinstance(text, str) or not text.strip():
            raise InvalidSetting(f"must be a non-empty string, got {text!r}", f"{key}.{name}")
        out[_identifier(name, key)] = text.strip()
    return out


def _identifier(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSetting(f"must be a non-empty column name, got {value!r}", key)
    try:
        return validate_identifier(value, key)
    except ContractError as err:
        raise InvalidSetting(str(err), key) from err


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidSetting(f"must be true or false, got {value!r}", key)
    return value
