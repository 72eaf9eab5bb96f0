"""The table's `type_overrides` applied to its target columns at load, where the exported column
types are known (sync_contract.type_overrides holds the rules; docs/CUSTOMIZATION.md, "Type overrides")."""

from __future__ import annotations

from stored_procs.spec import TableSpec
from sync_contract import type_overrides
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest
from sync_contract.types import TypeMapping


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
            raise ValueError(
                f"type_overrides.{source}: the export of {spec.source} has no column {source!r} (overrides name "
                f"source columns: {', '.join(by_name)}); nothing of the batch was loaded"
            )
        column, i = by_name[source]
        name, mapping = out[i]
        try:
            found = type_overrides.resolve(column.type, mapping, text, source)
        except ContractError as err:
            raise ValueError(f"type_overrides.{source}: {err}; nothing of the batch was loaded") from err
        if found.lossy and (not spec.allow_lossy or source in driving):
            why = (
                "a key or watermark column is never loaded lossily (its values decide matches and windows)"
                if spec.allow_lossy
                else "set allow_lossy = true to accept it (values that do not fit then follow bad_values)"
            )
            raise ValueError(
                f"type_overrides.{source}: {found.mapping.snowflake_type} cannot hold every {column.source_type} "
                f"value ({found.lossy}); {why}. Nothing of the batch was loaded"
            )
        out[i] = (name, found.mapping)
    return out
