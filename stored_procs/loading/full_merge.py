"""A full-mode snapshot that differs from the target by a small share, applied in place.

A swap (stored_procs.loading.replace) writes every row of the table again and drops the old table:
Time Travel and Fail-safe then keep the whole old table ("Storage Costs for Time Travel and
Fail-safe", https://docs.snowflake.com/en/user-guide/data-cdp-storage-costs: "Full copies of tables
are only maintained when tables are dropped or truncated"; otherwise only the changed rows' history is
kept). When few rows changed, the snapshot is applied as ONE MERGE instead: rows that differ are
updated, new keys inserted, and target keys the snapshot no longer holds deleted (a full table applies
deletes itself: it has no soft deletes). One statement, so a reader sees the old table or the new one,
never half of it, and a crash leaves the target as it was or as the snapshot says; running it again
changes nothing.

The typed, deduplicated snapshot is written once to a transient table with
DATA_RETENTION_TIME_IN_DAYS = 0 (transient: no Fail-safe; 0: no Time Travel, "CREATE TABLE",
https://docs.snowflake.com/en/sql-reference/sql/create-table, and the storage-costs page above), so
it costs no retained storage, and the count of differences and the MERGE read it instead of
converting staging again. The swap stays for large changes (FULL_MERGE_MAX_SHARE) and empty targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stored_procs import sql
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract import failpoints
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Manifest

# Swap instead of MERGE when more than this share of the target's rows change (new, changed or gone).
# Past it a MERGE is no cheaper: changes rarely cluster so well that most micro-partitions (each holds
# tens of thousands of rows or more) escape a rewrite, so the MERGE rewrites about as much as a swap
# writes, and Time Travel keeps about as much, while it costs a join and per-row updates more than the
# swap's plain INSERT. Below it, clustered changes (new and recently changed rows, the usual pattern)
# rewrite only the partitions they touch.
FULL_MERGE_MAX_SHARE = 0.5

GONE = "_AURORA_SYNC_GONE"  # the MERGE source's flag: a target key the snapshot no longer holds (a reserved
# name: configuration.renames.RESERVED_PREFIX; no column of the row may have it)


@dataclass(frozen=True)
class Difference:
    """The snapshot against the target (counts of rows)."""

    staged_keys: int  # distinct staged key texts
    snapshot_rows: int  # rows of the typed, deduplicated snapshot
    target_rows: int  # target rows
    new_keys: int  # snapshot keys absent from the target (MERGE inserts them)
    changed: int  # snapshot rows whose target row differs (MERGE updates them)
    gone: int  # target rows whose key the snapshot lacks (MERGE deletes them)

    @property
    def share(self) -> float:
        return (self.new_keys + self.changed + self.gone) / max(self.target_rows, 1)

    def small(self, max_share: float = FULL_MERGE_MAX_SHARE) -> bool:
        """Worth a MERGE: a target with rows, and at most `max_share` of them changing."""
        return self.target_rows > 0 and self.share <= max_share


def snapshot_table(place: Place, spec: TableSpec) -> str:
    return place.control(spec.staging_name + "_SNAPSHOT")


def create_snapshot(place: Place, spec: TableSpec, manifest: Manifest) -> Stmt:
    return Stmt(
        f"CREATE OR REPLACE TRANSIENT TABLE {snapshot_table(place, spec)} DATA_RETENTION_TIME_IN_DAYS = 0 AS "
        f"{sql.deduplicated_source(place, spec, manifest)}"
    )


def drop_snapshot(place: Place, spec: TableSpec) -> Stmt:
    return Stmt(f"DROP TABLE IF EXISTS {snapshot_table(place, spec)}")


def _kept(kept_keys: str | None, spec: TableSpec, manifest: Manifest, alias: str) -> str:
    """Target row `alias` whose key is kept as it is (its new row was quarantined)."""
    if kept_keys is None:
        return "FALSE"
    keys = [spec.column(c) for c in manifest.primary_key]
    on = " AND ".join(f"q.{quote_ident(f'K{i}')} = {alias}.{quote_ident(k)}" for i, k in enumerate(keys))
    return f"EXISTS (SELECT 1 AS X FROM {kept_keys} AS q WHERE {on})"


def _gone_rows(place: Place, spec: TableSpec, manifest: Manifest, database: str, kept_keys: str | None) -> str:
    """Target rows (alias g) whose key the snapshot lacks and that are not kept."""
    match = sql.key_match(spec, manifest, "s", "g")
    absent = f"NOT EXISTS (SELECT 1 AS X FROM {snapshot_table(place, spec)} AS s WHERE {match})"
    return f"FROM {spec.target(database)} AS g WHERE {absent} AND NOT {_kept(kept_keys, spec, manifest, 'g')}"


def _differs(spec: TableSpec, manifest: Manifest) -> str:
    keys = {spec.column(c) for c in manifest.primary_key}
    non_key = [n for n, _ in sql.target_columns(spec, manifest) if n not in keys]
    return " OR ".join(f"t.{quote_ident(c)} IS DISTINCT FROM s.{quote_ident(c)}" for c in non_key) or "FALSE"


def difference(place: Place, spec: TableSpec, manifest: Manifest, database: str, kept_keys: str | None) -> Stmt:
    """One row: the Difference's counts, in its field order."""
    snap, target = snapshot_table(place, spec), spec.target(database)
    keys = ", ".join(quote_ident(stg) for _, stg, _ in sql.staged_keys(spec, manifest))
    match = sql.key_match(spec, manifest, "s", "t")
    return Stmt(
        f"SELECT (SELECT COUNT(*) AS N FROM (SELECT DISTINCT {keys} FROM {place.control(spec.staging_name)}) AS d) "
        f"AS STAGED_KEYS, (SELECT COUNT(*) AS N FROM {snap}) AS SNAPSHOT_ROWS, "
        f"(SELECT COUNT(*) AS N FROM {target}) AS TARGET_ROWS, "
        f"(SELECT COUNT(*) AS N FROM {snap} AS s WHERE NOT EXISTS "
        f"(SELECT 1 AS X FROM {target} AS t WHERE {match})) AS NEW_KEYS, "
        f"(SELECT COUNT(*) AS N FROM {snap} AS s JOIN {target} AS t ON {match} WHERE {_differs(spec, manifest)}) "
        f"AS CHANGED, (SELECT COUNT(*) AS N {_gone_rows(place, spec, manifest, database, kept_keys)}) AS GONE"
    )


def merge(place: Place, spec: TableSpec, manifest: Manifest, database: str, kept_keys: str | None) -> Stmt:
    """The snapshot's rows, plus one row per gone target key (flag GONE), merged on the key: gone keys
    deleted, differing rows updated, new keys inserted.
    Columns the export does not carry are never written: they keep their values, as the swap keeps them."""
    cols = [n for n, _ in sql.target_columns(spec, manifest)]
    keys = [spec.column(c) for c in manifest.primary_key]
    non_key = [c for c in cols if c not in keys]
    snapshot_side = ", ".join(quote_ident(c) for c in cols)
    gone_side = ", ".join(f"g.{quote_ident(c)}" if c in keys else f"NULL AS {quote_ident(c)}" for c in cols)
    source = (
        f"SELECT {snapshot_side}, FALSE AS {quote_ident(GONE)} FROM {snapshot_table(place, spec)} UNION ALL "
        f"SELECT {gone_side}, TRUE AS {quote_ident(GONE)} {_gone_rows(place, spec, manifest, database, kept_keys)}"
    )
    sets = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in non_key)
    update = f"WHEN MATCHED AND ({_differs(spec, manifest)}) THEN UPDATE SET {sets} " if non_key else ""
    names = ", ".join(quote_ident(c) for c in cols)
    values = ", ".join(f"s.{quote_ident(c)}" for c in cols)
    return Stmt(
        f"MERGE INTO {spec.target(database)} AS t USING ({source}) AS s ON {sql.key_match(spec, manifest, 't', 's')} "
        f"WHEN MATCHED AND s.{quote_ident(GONE)} THEN DELETE {update}"
        f"WHEN NOT MATCHED AND NOT s.{quote_ident(GONE)} THEN INSERT ({names}) VALUES ({values})"
    )


def merge_counts(row: Any, kinds: tuple[str, ...]) -> dict[str, int]:
    """The MERGE's result row by kind of action: Snowflake returns one column per kind the statement
    has, in the order inserted, updated, deleted ("MERGE", https://docs.snowflake.com/en/sql-reference/sql/merge,
    output); `kinds` names them."""
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    counts.update({k: int(v) for k, v in zip(kinds, row, strict=True)})
    return counts


def merge_kinds(spec: TableSpec, manifest: Manifest) -> tuple[str, ...]:
    """The kinds of action merge() has, in Snowflake's output order."""
    keys = {spec.column(c) for c in manifest.primary_key}
    updates = any(n not in keys for n, _ in sql.target_columns(spec, manifest))
    return ("inserted",) + (("updated",) if updates else ()) + ("deleted",)


def prepare(
    session: Any, place: Place, spec: TableSpec, manifest: Manifest, database: str, kept_keys: str | None
) -> Difference:
    """Write the snapshot table and count how it differs from the target."""
    run(session, create_snapshot(place, spec, manifest))
    row = run(session, difference(place, spec, manifest, database, kept_keys))[0]
    return Difference(*(int(v) for v in row))


def apply(
    session: Any,
    place: Place,
    spec: TableSpec,
    manifest: Manifest,
    database: str,
    diff: Difference,
    kept_keys: str | None,
) -> tuple[int, int, int]:
    """Merge the snapshot (prepare) into the target. Returns (rows inserted, rows changed, rows deleted or
    flagged); raises ValueError before any change when the snapshot does not hold one row per staged
    key, and after the MERGE when it did other than the counts said (the batch fails, the watermark
    stays; the next attempt merges the same snapshot again)."""
    if diff.snapshot_rows != diff.staged_keys:
        raise ValueError(
            f"the snapshot table {snapshot_table(place, spec)} holds {diff.snapshot_rows} rows for "
            f"{diff.staged_keys} staged keys; the target was not changed"
        )
    failpoints.reached("load:after_shadow")
    merged = run(session, merge(place, spec, manifest, database, kept_keys))
    counts = merge_counts(merged[0], merge_kinds(spec, manifest))
    inserted, updated, deleted = counts["inserted"], counts["updated"], counts["deleted"]
    if (inserted, updated, deleted) != (diff.new_keys, diff.changed, diff.gone):
        raise ValueError(
            f"the MERGE into {spec.target(database)} inserted {inserted}, updated {updated} and removed {deleted} "
            f"rows, but the snapshot differs by {diff.new_keys} new, {diff.changed} changed and {diff.gone} gone "
            "rows; the watermark did not move"
        )
    return inserted, updated, deleted
