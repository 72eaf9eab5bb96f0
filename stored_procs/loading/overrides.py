"""The table's `type_overrides` applied to its target columns at load, where the exported column
types are known (sync_contract.type_overrides holds the rules; docs/CUSTOMIZATION.md, "Type overrides")."""

from __future__ import annotations

from typing import Any

from stored_procs.configuration.suggest import did_you_mean
from stored_procs.loading.errors import ConfigRefused
from stored_procs.spec import TableSpec
from stored_procs.statement import Stmt, run
from sync_contract import type_overrides
from sync_contract.errors import ContractError
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Manifest
from sync_contract.types import INCOMPATIBLE, WIDEN, TypeMapping, classify_change


def overridden(
    spec: TableSpec, manifest: Manifest, columns: list[tuple[str, TypeMapping]]
) -> list[tuple[str, TypeMapping]]:
    """`columns` with the table's `type_overrides` (sync_contract.type_overrides). Raises ValueError
    naming `type_overrides.<column>`: a column the export lacks, a type of another family, an override
    that cannot hold every source value without `allow_lossy`, or a lossy one of a key or watermark column."""
    by_name = {c.name: (c, i) for i, c in enumerate(manifest.columns)}
    driving = {*manifest.primary_key, *([manifest.window.column] if manifest.window.column else [])}
    out = list(columns)
    for source, text in spec.type_overrides.items():
        if source not in by_name:
            if manifest.mode == "keys":  # a key set carries the key (and watermark) columns only
                continue
            raise ConfigRefused(
                f"type_overrides.{source}: the export of {spec.source} has no column {source!r}"
                f"{did_you_mean(source, by_name)} (overrides name source columns: {', '.join(by_name)}); nothing of "
                "the batch was loaded"
            )
        column, i = by_name[source]
        name, mapping = out[i]
        try:
            found = type_overrides.resolve(column.type, mapping, text, source)
        except ContractError as err:
            raise ConfigRefused(f"type_overrides.{source}: {err}; nothing of the batch was loaded") from err
        if found.lossy and (not spec.allow_lossy or source in driving):
            why = (
                "a key or watermark column is never loaded lossily (its values decide matches and windows)"
                if spec.allow_lossy
                else "set allow_lossy = true to accept it (values that do not fit then follow bad_values)"
            )
            raise ConfigRefused(
                f"type_overrides.{source}: {found.mapping.snowflake_type} cannot hold every {column.source_type} "
                f"value ({found.lossy}); {why}. Nothing of the batch was loaded"
            )
        out[i] = (name, found.mapping)
    return out


def of_columns(spec: TableSpec, columns: set[str]) -> dict[str, str]:
    """The table's `type_overrides` of the source columns in `columns` only: applied to an export loaded
    before a column was added (or renamed), whose manifest lacks the column an override names now."""
    return {c: t for c, t in spec.type_overrides.items() if c in columns}


def plan(
    existing: dict[str, str], new: list[tuple[str, TypeMapping]]
) -> tuple[list[tuple[str, TypeMapping]], list[tuple[str, str, TypeMapping]]]:
    """The one rule deciding an existing target column's type against the type a batch loads into it
    (sync_contract.types.classify_change; schema drift and overrides both use it): `existing` {target
    column: its Snowflake type}; `new` the batch's (name, mapping). Returns the columns to widen in place
    first, and (name, existing type, mapping) of those whose values the column cannot hold exactly. A
    column `existing` lacks is new (added by schema_drift), one that holds every value stays."""
    widen: list[tuple[str, TypeMapping]] = []
    refused: list[tuple[str, str, TypeMapping]] = []
    for name, mapping in new:
        if name not in existing:
            continue
        change = classify_change(existing[name], mapping.snowflake_type)
        if change == WIDEN:
            widen.append((name, mapping))
        elif change == INCOMPATIBLE:
            refused.append((name, existing[name], mapping))
    return widen, refused


def _declared(row: Any, target: str) -> str:
    """A column's type from INFORMATION_SCHEMA.COLUMNS (DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE,
    CHARACTER_MAXIMUM_LENGTH) spelled as sync_contract.type_overrides.canonical spells it: TEXT(16777216)
    -> VARCHAR(16777216), NUMBER(20,4); a timestamp or time by its family only (`mapping`'s type when of
    the same family: PostgreSQL keeps 6 fractional digits, so any precision kept before holds what an
    override of the family loads)."""
    kind, precision, scale, length = (row[1] or "").upper(), row[2], row[3], row[4]
    if kind in ("NUMBER", "DECIMAL", "NUMERIC") and precision is not None:
        return f"NUMBER({int(precision)},{int(scale or 0)})"
    if kind in ("TEXT", "VARCHAR", "STRING"):
        return f"VARCHAR({int(length)})" if length else "VARCHAR"
    if kind in ("TIMESTAMP_NTZ", "TIMESTAMP_TZ", "TIMESTAMP_LTZ", "TIME") and target.startswith(f"{kind}("):
        return target
    if kind == "TIMESTAMP_TZ" and target.startswith("TIMESTAMP_LTZ("):  # an instant and its offset hold an instant
        return target
    return "FLOAT" if kind in ("FLOAT", "DOUBLE", "REAL") else kind


def check_target(
    session: Any, spec: TableSpec, manifest: Manifest, database: str, columns: list[tuple[str, TypeMapping]]
) -> list[tuple[str, TypeMapping]]:
    """The overridden columns of an existing target against their overrides: the loaded rows were
    written with the type the column has, which an override added or changed later does not change. A
    column that holds every value of the override stays; one Snowflake can widen in place (more
    precision at the same scale, a longer VARCHAR) is returned to widen (schema_drift's rule,
    sync_contract.types.classify_change); another fails the batch naming `type_overrides.<column>`.
    `columns`: sql.target_columns of the manifest."""
    overridden = {n: m for n, m in columns if m.override_of is not None}
    if not overridden:
        return []
    rows = run(
        session,
        Stmt(
            "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH "
            f"FROM {quote_ident(database)}.INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (spec.target_schema, spec.target_table),
        ),
    )
    sources = {spec.column(c.name): c.name for c in manifest.columns}
    declared = {str(r[0]): _declared(r, overridden[str(r[0])].snowflake_type) for r in rows if str(r[0]) in overridden}
    widen, refused = plan(declared, list(overridden.items()))
    if refused:
        raise ConfigRefused(
            "; ".join(
                f"type_overrides.{sources[name]}: the target column {name} is {have}, which cannot hold every "
                f"{mapping.snowflake_type} value"
                for name, have, mapping in refused
            )
            + ". Nothing was merged: ALTER the column yourself, or drop the target table and "
            f"resync the table ({spec.resync_hint}), which creates it with the override's type and every row"
        )
    return widen
