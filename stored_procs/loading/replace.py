"""Replace a whole table atomically: a full-mode snapshot, or the first export after a resync.

The staged batch goes into a shadow table beside the target (`CREATE TABLE … LIKE`, grants copied),
the shadow is checked, then `ALTER TABLE … SWAP WITH` exchanges the two in one statement: a reader
sees the old table or the new one, never a half-loaded one. Rows the snapshot cannot speak for are
carried into the shadow first: rows newer than an incremental export's high (the next window brings
them), and, with soft deletes, the rows that are gone (flagged `_DELETED`). Every step can be re-run:
the shadow is rebuilt from staging each time and the swap happens once per successful check.

A full-mode snapshot that changes a small share of a target with rows is merged in place instead
(stored_procs.loading.full_merge): no copy of the whole table, none kept by Time Travel or Fail-safe.
"""

from __future__ import annotations

from typing import Any

from stored_procs import datetime_text, sql
from stored_procs.configuration import access
from stored_procs.loading import full_merge
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract import failpoints
from sync_contract.identifiers import quote_ident, quote_qualified
from sync_contract.manifest import Manifest

SHADOW_SUFFIX = "__AURORA_SYNC_SHADOW"


def replaces(spec: TableSpec, manifest: Manifest) -> bool:
    """Full snapshots, and incremental exports from the very beginning (first load, resync, a new
    watermark column), replace the table; later windows are merged."""
    return spec.mode == "full" or (manifest.mode == "incremental" and manifest.window.low is None)


def shadow(spec: TableSpec, database: str) -> str:
    return quote_qualified(database, spec.target_schema, spec.target_table + SHADOW_SUFFIX)


def create_shadow(spec: TableSpec, database: str) -> Stmt:
    """LIKE keeps every column of the target (also those no longer exported); COPY GRANTS copies the
    target's grants (not OR REPLACE: that would copy those of a shadow a crash left behind)."""
    return Stmt(f"CREATE TABLE {shadow(spec, database)} LIKE {spec.target(database)} COPY GRANTS")


def _kept_columns(spec: TableSpec, manifest: Manifest, existing: list[str]) -> list[str]:
    """Target columns the export does not carry (no longer exported): their values stay."""
    exported = {n for n, _ in sql.target_columns(spec, manifest)}
    flags = {n for n, _ in sql.SOFT_DELETE_COLUMNS}
    return [c for c in existing if c not in exported and c not in flags]


def fill_shadow(place: Place, spec: TableSpec, manifest: Manifest, database: str, existing: list[str]) -> Stmt:
    """The snapshot's rows; a column the export no longer carries keeps the key's value in the target."""
    names = [n for n, _ in sql.target_columns(spec, manifest)]
    kept = _kept_columns(spec, manifest, existing)
    cols = ", ".join(quote_ident(n) for n in names + kept)
    values = ", ".join([f"s.{quote_ident(n)}" for n in names] + [f"t.{quote_ident(n)}" for n in kept])
    source = f"({sql.deduplicated_source(place, spec, manifest)}) AS s"
    if kept:
        source += f" LEFT JOIN {spec.target(database)} AS t ON {sql.key_match(spec, manifest, 's', 't')}"
    return Stmt(f"INSERT INTO {shadow(spec, database)} ({cols}) SELECT {values} FROM {source}")


def _newer(spec: TableSpec, manifest: Manifest) -> tuple[str, tuple[Any, ...]] | None:
    """(condition on target row t, binds): rows written after the export's snapshot, kept as they are."""
    if manifest.mode != "incremental" or not manifest.window.column or manifest.window.high is None:
        return None
    wm = spec.column(manifest.window.column)
    high = sql.text_as("?", dict(sql.target_columns(spec, manifest))[wm])
    return f"t.{quote_ident(wm)} > {high}", (manifest.window.high,)


def kept_keys_table(place: Place, spec: TableSpec) -> str:
    """Staged key texts of the rows quarantined from a replacing batch (stored_procs.loading.quarantine)."""
    return place.control(spec.staging_name + "_KEPT")


def carry_over(
    place: Place, spec: TableSpec, manifest: Manifest, database: str, at: str, existing: list[str], kept: bool = False
) -> Stmt | None:
    """Target rows whose key is not in the snapshot and that must survive the swap, every column: as
    they are (newer than the export, or their new row was quarantined: keys in kept_keys_table), or
    flagged `_DELETED` (soft deletes). A backfill (`window.backfill`: every row again for columns the
    loaded rows lack) replaces values, never rows: all of them are carried as they are (deletes are the
    key sets' job, with their guard)."""
    as_is: list[tuple[str, tuple[Any, ...]]] = [("TRUE", ())] if manifest.window.backfill else []
    if (newer := _newer(spec, manifest)) is not None:
        as_is.append(newer)
    joined = ""
    if kept:
        keys = [spec.column(c) for c in manifest.primary_key]
        on = " AND ".join(f"q.{quote_ident(f'K{i}')} = t.{quote_ident(k)}" for i, k in enumerate(keys))
        joined = f" LEFT JOIN {kept_keys_table(place, spec)} AS q ON {on}"
        as_is.append(('q."K0" IS NOT NULL', ()))
    soft = spec.delete_detection == "soft_delete"
    if not as_is and not soft:
        return None
    keep = " OR ".join(f"({c})" for c, _ in as_is) or "FALSE"
    keep_binds = tuple(b for _, bs in as_is for b in bs)
    flags = [n for n, _ in sql.SOFT_DELETE_COLUMNS]
    names = [c for c in existing if not (soft and c in flags)]
    values = [f"t.{quote_ident(n)}" for n in names]
    match = sql.key_match(spec, manifest, "s", "t")
    absent = f"NOT EXISTS (SELECT 1 AS X FROM {shadow(spec, database)} AS s WHERE {match})"
    if soft:  # gone from the snapshot: flagged, with the time it was first seen gone
        names += flags
        values += [
            f'IFF({keep}, t."_DELETED", TRUE)',
            f'IFF({keep} OR t."_DELETED", t."_DELETED_AT", {datetime_text.timestamp_ntz()})',
        ]
        where, binds = absent, (*keep_binds, *keep_binds, at)
    else:
        where, binds = f"{absent} AND ({keep})", keep_binds
    cols = ", ".join(quote_ident(n) for n in names)
    return Stmt(
        f"INSERT INTO {shadow(spec, database)} ({cols}) SELECT {', '.join(values)} "
        f"FROM {spec.target(database)} AS t{joined} WHERE {where}",
        binds,
    )


def distinct_staged_keys(place: Place, spec: TableSpec, manifest: Manifest) -> Stmt:
    keys = ", ".join(quote_ident(stg) for _, stg, _ in sql.staged_keys(spec, manifest))
    return Stmt(f"SELECT COUNT(*) AS N FROM (SELECT DISTINCT {keys} FROM {place.control(spec.staging_name)}) AS d")


def change_counts(spec: TableSpec, manifest: Manifest, database: str) -> Stmt:
    """(rows in the shadow, keys new to the target, live target keys the swap removes or flags, rows
    whose values the swap changes)."""
    live = sql.live_rows_only(spec, "t")
    target, shadow_ref = spec.target(database), shadow(spec, database)
    removed = (
        f"SELECT COUNT(*) AS N FROM {target} AS t JOIN {shadow_ref} AS s ON {sql.key_match(spec, manifest, 's', 't')} "
        f'WHERE s."_DELETED" AND {live}'
        if live
        else f"SELECT COUNT(*) AS N FROM {target} AS t WHERE NOT EXISTS "
        f"(SELECT 1 AS X FROM {shadow_ref} AS s WHERE {sql.key_match(spec, manifest, 's', 't')})"
    )
    keys = {spec.column(c) for c in manifest.primary_key}
    non_key = [n for n, _ in sql.target_columns(spec, manifest) if n not in keys]
    differs = " OR ".join(f"s.{quote_ident(c)} IS DISTINCT FROM t.{quote_ident(c)}" for c in non_key) or "FALSE"
    return Stmt(
        f"SELECT (SELECT COUNT(*) AS N FROM {shadow_ref}) AS ROWS_AFTER, "
        f"(SELECT COUNT(*) AS N FROM {shadow_ref} AS s WHERE NOT EXISTS "
        f"(SELECT 1 AS X FROM {target} AS t WHERE {sql.key_match(spec, manifest, 's', 't')})) AS NEW_KEYS, "
        f"({removed}) AS REMOVED, "
        f"(SELECT COUNT(*) AS N FROM {shadow_ref} AS s JOIN {target} AS t ON {sql.key_match(spec, manifest, 's', 't')} "
        f"WHERE {differs}) AS CHANGED"
    )


def swap(spec: TableSpec, database: str) -> Stmt:
    return Stmt(f"ALTER TABLE {spec.target(database)} SWAP WITH {shadow(spec, database)}")


def drop_kept_keys(place: Place, spec: TableSpec) -> Stmt:
    return Stmt(f"DROP TABLE IF EXISTS {kept_keys_table(place, spec)}")


def drop_shadow(spec: TableSpec, database: str) -> Stmt:
    return Stmt(f"DROP TABLE IF EXISTS {shadow(spec, database)}")


def apply(
    session: Any,
    place: Place,
    database: str,
    spec: TableSpec,
    manifest: Manifest,
    at: str,
    kept: bool = False,
    notes: list[str] | None = None,
) -> tuple[int, int, int]:
    """Merge a small full-mode change in place (full_merge), else fill, check and swap. Returns (rows
    inserted, rows changed, rows deleted or flagged); raises
    ValueError naming the counts when the shadow does not hold what staging says. `kept`: some rows
    were quarantined, and their keys' previous versions stay (kept_keys_table). `notes` receives what
    the run should say (a reader grant the schema's owner must make)."""
    notes = [] if notes is None else notes
    if spec.mode == "full" and spec.delete_detection != "soft_delete":  # full mode has no soft deletes
        kept_keys = kept_keys_table(place, spec) if kept else None
        try:
            diff = full_merge.prepare(session, place, spec, manifest, database, kept_keys)
            if diff.small():
                return full_merge.apply(session, place, spec, manifest, database, diff, kept_keys)
        finally:
            run(session, full_merge.drop_snapshot(place, spec))
    existing = [r[0] for r in run(session, sql.existing_columns(spec, database))]
    run(session, drop_shadow(spec, database))
    run(session, create_shadow(spec, database))
    try:
        run(session, fill_shadow(place, spec, manifest, database, existing))
        expected = int(run(session, distinct_staged_keys(place, spec, manifest))[0][0])
        carried = carry_over(place, spec, manifest, database, at, existing, kept)
        carried_rows = int(run(session, carried)[0][0]) if carried is not None else 0
        rows_after, new_keys, removed, changed = (
            int(v) for v in run(session, change_counts(spec, manifest, database))[0]
        )
        if rows_after != expected + carried_rows:
            raise ValueError(
                f"the shadow table {shadow(spec, database)} holds {rows_after} rows, expected {expected} snapshot "
                f"keys and {carried_rows} carried rows; the target was not replaced"
            )
        failpoints.reached("load:after_shadow")
        # SWAP WITH exchanges the two tables' grants: the shadow's SELECT for readers becomes the
        # target's in the same statement (https://docs.snowflake.com/en/sql-reference/sql/alter-table)
        notes += access.let_readers_select(session, place, shadow(spec, database))
        run(session, swap(spec, database))
    finally:
        run(session, drop_shadow(spec, database))
    return new_keys, changed, removed
