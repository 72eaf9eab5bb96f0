"""The staged batch's primary key, checked before the MERGE (SQL from pure functions; loading.batch runs it).

One statement reads what the load needs of the keys: how many key values repeat (a key not unique in the
source fails the batch) and the range of the first key column, which bounds the MERGE on the target
(`sql.merge`). Keys are compared as the MERGE compares them: converted to the target's types, rows whose
key is NULL or does not convert left out (set aside as bad values, stored_procs.loading.quarantine).
"""

from __future__ import annotations

from typing import Any

from stored_procs.spec import Place, TableSpec
from stored_procs.sql import number_literal, staged_keys, try_cast_expression
from stored_procs.statement import Stmt
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Manifest
from sync_contract.types import Kind

# first key column kinds whose range bounds the MERGE: numbers compare as numbers on both sides and bind
# exactly (a text key's order depends on the target's collation, which an older target may not share)
RANGE_KINDS = (Kind.INTEGER, Kind.NUMBER)


def _typed_keys(spec: TableSpec, manifest: Manifest) -> tuple[str, str]:
    """(select list, condition) of the staged primary key parts as the MERGE compares them (converted to
    the target's types: '1.0' and '1.00' are one numeric key), rows whose key is NULL or does not convert
    left out."""
    parts = [
        (try_cast_expression(quote_ident(stg), mapping), quote_ident(f"K{i}"))
        for i, (_, stg, mapping) in enumerate(staged_keys(spec, manifest))
    ]
    select = ", ".join(f"{expr} AS {alias}" for expr, alias in parts)
    present = " AND ".join(f"{expr} IS NOT NULL" for expr, _ in parts)
    return select, present


def duplicate_keys(place: Place, spec: TableSpec, manifest: Manifest) -> Stmt:
    """(KEYS, SURPLUS, LO, HI): how many primary key values the staged batch holds more than once, how many
    rows beyond one per key they bring, and the least and greatest first key column (NULL: no row). One
    pass over staging: the keys grouped once, the range read from the groups."""
    select, present = _typed_keys(spec, manifest)
    aliases = ", ".join(quote_ident(f"K{i}") for i in range(len(manifest.primary_key)))
    grouped = (
        f'SELECT {aliases}, COUNT(*) AS "N" FROM (SELECT {select} FROM {place.control(spec.staging_name)} '
        f"WHERE {present}) AS k GROUP BY {aliases}"
    )
    return Stmt(
        'SELECT COALESCE(SUM(CASE WHEN d."N" > 1 THEN 1 ELSE 0 END), 0) AS "KEYS", '
        'COALESCE(SUM(CASE WHEN d."N" > 1 THEN d."N" - 1 ELSE 0 END), 0) AS "SURPLUS", '
        f'MIN(d."K0") AS "LO", MAX(d."K0") AS "HI" FROM ({grouped}) AS d'
    )


def repeated_keys(place: Place, spec: TableSpec, manifest: Manifest, limit: int) -> Stmt:
    """The `limit` primary key values the staged batch repeats most: (key parts…, N)."""
    select, present = _typed_keys(spec, manifest)
    aliases = ", ".join(quote_ident(f"K{i}") for i in range(len(manifest.primary_key)))
    return Stmt(
        f'SELECT {aliases}, COUNT(*) AS "N" FROM (SELECT {select} FROM {place.control(spec.staging_name)} '
        f'WHERE {present}) AS k GROUP BY {aliases} HAVING COUNT(*) > 1 ORDER BY "N" DESC, {aliases} LIMIT {int(limit)}'
    )


def key_range(spec: TableSpec, manifest: Manifest, lo: Any, hi: Any) -> tuple[Any, Any] | None:
    """The MERGE's bound from `duplicate_keys`' LO and HI: only for a first key column of RANGE_KINDS, and
    only when the batch has a row."""
    if staged_keys(spec, manifest)[0][2].kind not in RANGE_KINDS:
        return None
    try:  # what sql.merge will write: an int or a finite Decimal (None: the batch has no row)
        number_literal(lo), number_literal(hi)
    except TypeError:
        return None
    return lo, hi
