"""A table's customization options (docs/CUSTOMIZATION.md): `rename`, `transform`, `type_overrides`,
`allow_lossy` and `history`, validated the same way from `sync.toml` and from ADD_TABLE /
CONFIGURE_TABLE. Every refusal is an InvalidSetting naming `<where>.<option>.<entry>` and what is
accepted; checks that need the exported columns (a rename onto another column's name, an override of
a column's type) run again at load against the manifest (stored_procs.sql.target_columns)."""

from __future__ import annotations

from typing import Any

from stored_procs.configuration import renames
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.loading import transforms
from sync_contract import type_overrides
from sync_contract.errors import ContractError
from sync_contract.identifiers import collision_key, target_name, validate_identifier

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
        if why := renames.refused_target(target):
            raise InvalidSetting(why, f"{where}.rename.{source}")
    known = [c for c in [*(options.get("primary_key") or []), options.get("watermark_column")] if isinstance(c, str)]
    if found := renames.clash(rename, known):  # the other exported columns are checked at load
        raise InvalidSetting(found[1], f"{where}.rename.{found[0]}")
    for column in known:  # a key or watermark column under the reserved prefix must be renamed (the rest at load)
        if column not in rename and (why := renames.internal_refusal([target_name(column)], "column")):
            raise InvalidSetting(why, f"{where}.rename")
    transform = _strings(options.get("transform"), f"{where}.transform", "target column names to SQL expressions")
    _check_transforms(transform, options, rename, where)
    overrides = _strings(
        options.get("type_overrides"), f"{where}.type_overrides", "source column names to Snowflake types"
    )
    for column, text in overrides.items():
        try:
            type_overrides.canonical(text)
        except ContractError as err:
            raise InvalidSetting(str(err), f"{where}.type_overrides.{column}") from err
    history = _flag(options.get("history", False), f"{where}.history")
    if history and options.get("delete_detection") == "soft_delete":  # docs/CUSTOMIZATION.md, History
        raise InvalidSetting(
            "history keeps a deleted row as a closed version (_VALID_TO set, _IS_CURRENT false), so it takes "
            "delete_detection = 'delete' (a key set closes the current version, never removes history) or 'off', "
            "not 'soft_delete'",
            f"{where}.history",
        )
    return {
        "rename": rename,
        "transform": transform,
        "type_overrides": overrides,
        "allow_lossy": _flag(options.get("allow_lossy", False), f"{where}.allow_lossy"),
        "history": history,
    }


def _check_transforms(transform: dict[str, str], options: dict[str, Any], rename: dict[str, str], where: str) -> None:
    """What can be checked without the table's columns (the rest at load, and with a session:
    loading.transforms): not a key or watermark column (they decide which row a change matches, the
    windows and the deletes), and an expression `transforms.problem` accepts."""
    keys = [c for c in options.get("primary_key") or () if isinstance(c, str)]
    watermark = options.get("watermark_column")
    driving = {
        rename.get(c) or target_name(c): c for c in [*keys, *([watermark] if isinstance(watermark, str) else [])]
    }
    for column, expression in transform.items():
        key = f"{where}.transform.{column}"
        if renames.internal(column):
            raise InvalidSetting(
                f"{column} starts with {renames.RESERVED_PREFIX}, the prefix of the sync's own columns: no column "
                "of the row has such a name; transform one of the row's target columns",
                key,
            )
        hit = driving.get(transforms.target_of(column, driving))  # the one rule for transform keys
        if hit is not None:
            role = "primary key" if hit in keys else "watermark"
            raise InvalidSetting(
                f"{column} is the {role} column {hit!r}: keys and watermarks decide which target row a change "
                "matches, the windows and the deletes, so they are loaded as exported; transform another column",
                key,
            )
        if why := transforms.problem(expression):
            raise InvalidSetting(f"{expression!r} {why}", key)


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
    if not isinstance(value, str) or not value.strip():
        raise InvalidSetting(f"must be a column name with a visible character, got {value!r}", key)
    try:
        return validate_identifier(value, key)
    except ContractError as err:
        raise InvalidSetting(str(err), key) from err


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidSetting(f"must be true or false, got {value!r}", key)
    return value
