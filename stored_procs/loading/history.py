"""History (SCD type 2, `history = true`): every version of a row is kept (docs/CUSTOMIZATION.md).

A history table has the source's columns and three more: `_VALID_FROM` (TIMESTAMP_TZ: when the version
began), `_VALID_TO` (TIMESTAMP_TZ: when the next version began or the key was found gone; NULL while
current) and `_IS_CURRENT` (BOOLEAN). Logically its primary key is (key columns, `_VALID_FROM`).

Valid-from is the row's watermark when the watermark column is a timestamptz or a timestamp (read as
UTC); otherwise (full mode, a number watermark) it is the load time. A row
opens a version only when it differs from the key's current version and is not older than it (by
watermark); a row identical to the current version (a re-export, a lookback, a resync) adds nothing,
and a row older than the key's current version (a late arrival) does not reorder history. A key with no
current version whose row a batch holds is in the source, so the row opens a version whatever its watermark
(a key closed by a key set and restored as it was, e.g. from a backup, is current again).
A row whose valid-from equals the current version's (the same watermark, other values) corrects that
version in place. A key that comes back after being closed opens a new version from the later of its
watermark and the closed version's end, so versions never overlap.

Every change of a batch is ONE MERGE (`merge`): its source is the changed rows twice, once with the
merge key set (matching the key's current version: closed, or corrected in place) and once with the
merge key NULL (never matching: inserted as the new version), plus, for a batch that replaces the
table (a full snapshot, an export from the beginning), the current versions whose key the snapshot
lacks (closed at the load time). One statement is applied whole or not at all ("MERGE",
https://docs.snowflake.com/en/sql-reference/sql/merge: several WHEN MATCHED / WHEN NOT MATCHED clauses,
each with AND <case_predicate>; "Transactions", autocommit: a DML statement commits or rolls back as a
whole), and running it again finds every row identical to its current version: nothing duplicated,
nothing lost. It matches only current versions, at most one per key, from source rows whose keys the
load found unique, so no target row is matched twice (ERROR_ON_NONDETERMINISTIC_MERGE).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stored_procs import datetime_text, sql
from stored_procs.configuration import access
from stored_procs.configuration.renames import HISTORY_COLUMNS
from stored_procs.loading import transforms
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, quote_qualified
from sync_contract.manifest import Manifest
from sync_contract.types import Kind, TypeMapping

VALID_FROM, VALID_TO, IS_CURRENT = HISTORY_COLUMNS  # the one spelling (configuration.renames)
_TZ = TypeMapping(Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)")
COLUMNS = ((VALID_FROM, _TZ), (VALID_TO, _TZ), (IS_CURRENT, TypeMapping(Kind.BOOLEAN, "BOOLEAN")))
NAMES = HISTORY_COLUMNS
VIEW_SUFFIX = "_CURRENT"  # the view over the current versions: <TARGET>_CURRENT
_FROM, _RAW, _ACTION = "_AURORA_SYNC_FROM", "_AURORA_SYNC_RAW_FROM", "_AURORA_SYNC_ACTION"
# the per-key aggregate's columns: reserved names (sql.target_columns refuses _AURORA_SYNC_* columns in a
# history table), as a key column may be named anything else (F, T)
_LAST_TO, _AT = "_AURORA_SYNC_LAST_TO", "_AURORA_SYNC_AT"
# a staged date or timestamp as text that TO_TIMESTAMP_TZ reads with datetime_text's format: UTC
_AS_UTC = {Kind.TIMESTAMP_TZ: "", Kind.TIMESTAMP_NTZ: " || '+00:00'"}


def _q(name: str) -> str:
    return quote_ident(name)


def current_view(spec: TableSpec, database: str) -> str:
    return quote_qualified(database, spec.target_schema, spec.target_table + VIEW_SUFFIX)


def shown(columns: Collection[str]) -> list[str]:
    """The current view's columns: the target's (`columns`, in order) but `_VALID_TO` and `_IS_CURRENT`."""
    return [c for c in columns if c not in (VALID_TO, IS_CURRENT)]


def create_current_view(spec: TableSpec, database: str, columns: list[str]) -> Stmt:
    """`<TARGET>_CURRENT`: the current versions, every column but `_VALID_TO` and `_IS_CURRENT`
    (`columns`: the target's, in order). The view names its columns, so it is rebuilt whenever the target's
    columns change or differ from the view's (schema_drift). COPY GRANTS keeps the grants consumers made
    on the view through a rebuild (without it, CREATE OR REPLACE drops them): "CREATE VIEW",
    https://docs.snowflake.com/en/sql-reference/sql/create-view (`COPY GRANTS`, before AS), and the
    2026_08 behaviour change bundle that makes it the default ("CREATE OR REPLACE: Grants on the replaced
    object are copied by default", https://docs.snowflake.com/en/release-notes/bcr-bundles/2026_08/bcr-2433)."""
    listed = ", ".join(_q(c) for c in shown(columns))
    return Stmt(
        f"CREATE OR REPLACE VIEW {current_view(spec, database)} COPY GRANTS AS SELECT {listed} "
        f"FROM {spec.target(database)} WHERE {_q(IS_CURRENT)}"
    )


def columns_statement(spec: TableSpec, database: str) -> Stmt:
    """Rows (TABLE_NAME, COLUMN_NAME) of the target and of its current view, in one statement (the
    COLUMNS view lists a view's columns too: "COLUMNS view", TABLE_NAME "Table or view that the column
    belongs to", https://docs.snowflake.com/en/sql-reference/info-schema/columns)."""
    return Stmt(
        f"SELECT TABLE_NAME AS T, COLUMN_NAME AS NAME FROM {_q(database)}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?) ORDER BY ORDINAL_POSITION",
        (spec.target_schema, spec.target_table, spec.target_table + VIEW_SUFFIX),
    )


def read_columns(session: Any, spec: TableSpec, database: str) -> tuple[set[str], set[str]]:
    """(the target's columns, its current view's: empty when there is no view), one statement."""
    target: set[str] = set()
    view: set[str] = set()
    for table, column in run(session, columns_statement(spec, database)):
        (target if table == spec.target_table else view).add(column)
    return target, view


def refusal(spec: TableSpec, existing: set[str], exported: Collection[str] = ()) -> str | None:
    """Why a batch cannot merge into the existing target (`existing`: its columns; empty: none yet):
    history turned on for a target loaded without it, or off for a history table. None when it can.
    `exported`: the batch's target column names (a table without history may replicate source columns
    with these names)."""
    if not existing:
        return None
    has = set(NAMES) <= existing and not set(NAMES) <= set(exported)
    if spec.history == has:
        return _unmatched(spec, existing) if has else None
    what = (  # the table is not named: the run's summary and CONFIGURE_TABLE's caller name it
        "history = true, but the target was loaded without history: its rows are plain rows, and they cannot "
        "be turned into versions in place"
        if spec.history
        else "history is off, but the target is a history table (it has _VALID_FROM, _VALID_TO, _IS_CURRENT): "
        "its versions cannot be turned back into plain rows in place"
    )
    return (
        f"{what}. Nothing was merged: give the table a new target (target = ..., which restarts it) or drop "
        f"{spec.target_schema}.{spec.target_table} and resync the table ({spec.resync_hint}), or set history back"
    )


def _unmatched(spec: TableSpec, existing: set[str]) -> str | None:
    """Why a batch cannot merge into the history table whose columns are `existing`: it lacks the table's
    key or watermark column (their target names changed: rename, primary_key, watermark_column; refused
    when configured, configuration.history_changes; this is the load's own check). None: it has both."""
    wm = spec.watermark_column if spec.mode == "incremental" else None
    wanted = [spec.column(c) for c in (*spec.primary_key, *([wm] if wm else []))]
    if not (missing := [c for c in wanted if c not in existing]):
        return None
    return (
        f"{spec.source}: the history table {spec.target_schema}.{spec.target_table} has no column "
        f"{', '.join(missing)} (the table's key or watermark column, by rename, primary_key and "
        "watermark_column): its versions could not be matched (every key would get a second current version). "
        "Nothing was merged: set the changed option back (rename, primary_key or watermark_column), or give the "
        "table a new target (target = ..., which restarts it into a new history table)"
    )


def ensure_view(session: Any, place: Place, spec: TableSpec, database: str) -> list[str]:
    """Create or rebuild the current view; its readers get SELECT. Returns notes: a view the app may not
    create (no CREATE VIEW on the target schema) or grant is a note, never a failed load: every load of
    the table finds the view missing and tries again (schema_drift)."""
    columns = [r[0] for r in run(session, sql.existing_columns(spec, database))]
    view = current_view(spec, database)
    try:
        run(session, create_current_view(spec, database, columns))
    except Exception as err:
        return [
            f"{spec.source}: the view {view} over the current versions was not created ({str(err).splitlines()[0]}):"
            f" GRANT CREATE VIEW ON SCHEMA {spec.target_schema_ref(database)} to the app; the table's next load "
            "creates it"
        ]
    grantee = access.reader(session, place)
    if grantee is None:
        return []
    try:
        run(session, Stmt(f"GRANT SELECT ON VIEW {view} TO {grantee}"))
    except Exception as err:
        return [f"SELECT on {view} not granted to {grantee} ({str(err).splitlines()[0]}): the schema's owner grants it"]
    return []


def valid_from(spec: TableSpec, manifest: Manifest, at: str) -> tuple[str, tuple[Any, ...]]:
    """(expression over the staging columns, binds): a row's valid-from as TIMESTAMP_TZ(6). The
    watermark when it is a timestamp (one without a time zone read as UTC: the exporter's session runs
    in UTC, lambda_exporter/query.py), else `at` (the load time, ledger.now(): UTC)."""
    cols = sql.target_columns(spec, manifest)
    staged = dict(zip((n for n, _ in cols), sql.staging_columns(len(cols)), strict=True))
    wm = spec.column(manifest.window.column) if manifest.mode == "incremental" and manifest.window.column else None
    kind = dict(cols)[wm].kind if wm else None
    if wm is not None and kind in _AS_UTC:
        return datetime_text.from_text(f"{_q(staged[wm])}{_AS_UTC[kind]}", _TZ), ()
    return datetime_text.from_text("?", _TZ), (f"{at}+00:00",)


def _watermark(spec: TableSpec, manifest: Manifest) -> str | None:
    if manifest.mode == "incremental" and manifest.window.column:
        return spec.column(manifest.window.column)
    return None


def _bound(spec: TableSpec, manifest: Manifest, alias: str, key_range: tuple[Any, Any] | None) -> str:
    """` AND <alias>.<first key> BETWEEN lo AND hi` (numeric literals, sql.number_literal), or nothing:
    every version the batch can touch lies in its key range, and Snowflake prunes the micro-partitions
    outside it (sql.merge)."""
    if key_range is None:
        return ""
    first = f"{alias + '.' if alias else ''}{_q(spec.column(manifest.primary_key[0]))}"
    return f" AND {first} BETWEEN {sql.number_literal(key_range[0])} AND {sql.number_literal(key_range[1])}"


def _changes(
    place: Place, spec: TableSpec, manifest: Manifest, database: str, at: str, key_range: tuple[Any, Any] | None
) -> tuple[str, tuple[Any, ...]]:
    """The staged rows that open or correct a version, each with its valid-from and action: OPEN (no
    current version), CHANGE (closes the current one) or CORRECT (same valid-from: in place).
    A row of a key with no current version always opens one, whatever its watermark: the export holds the
    row, so the key is in the source (a key closed by a key set and restored as it was, with its old
    watermark, e.g. from a backup); it opens from the later of its watermark and the key's last _VALID_TO
    (`start`), so versions never overlap."""
    cols = [n for n, _ in sql.target_columns(spec, manifest)]
    keys = [spec.column(c) for c in manifest.primary_key]
    raw, binds = valid_from(spec, manifest, at)
    # the typed row with each `transform` applied (sql.typed_source's rows), carrying its valid-from
    extra = f", {raw} AS {_q(_RAW)}"
    typed = transforms.applied(sql.typed_rows(place, spec, manifest, extra), [*cols, _RAW], spec.transform)
    target = spec.target(database)
    differs = " OR ".join(f"c.{_q(n)} IS DISTINCT FROM s.{_q(n)}" for n in cols if n not in keys) or "FALSE"
    wm = _watermark(spec, manifest)
    newer = f" AND s.{_q(wm)} >= c.{_q(wm)}" if wm else ""
    r, vf, vt, cur = f"s.{_q(_RAW)}", _q(VALID_FROM), _q(VALID_TO), _q(IS_CURRENT)
    start = f"GREATEST({r}, COALESCE(h.{_q(_LAST_TO)}, {r}), COALESCE(c.{vf}, {r}))"
    action = f"CASE WHEN c.{cur} IS NULL THEN 'OPEN' WHEN {start} = c.{vf} THEN 'CORRECT' ELSE 'CHANGE' END"
    key_list = ", ".join(_q(k) for k in keys)
    history = (
        f"(SELECT {key_list}, MAX({vt}) AS {_q(_LAST_TO)} FROM {target} "
        f"WHERE TRUE{_bound(spec, manifest, '', key_range)} GROUP BY {key_list})"
    )
    selected = ", ".join(f"s.{_q(n)}" for n in cols)
    return (
        f"SELECT {selected}, {start} AS {_q(_FROM)}, {action} AS {_q(_ACTION)} FROM ({typed}) AS s "
        f"LEFT JOIN {target} AS c ON {sql.key_match(spec, manifest, 'c', 's')} AND c.{cur}"
        f"{_bound(spec, manifest, 'c', key_range)} "
        f"LEFT JOIN {history} AS h ON {sql.key_match(spec, manifest, 'h', 's')} "
        f"WHERE c.{cur} IS NULL OR (({differs}){newer})",
        binds,
    )


def _merge_key(i: int) -> str:
    return f"_AURORA_SYNC_MK{i}"


def gone_condition(
    place: Place, spec: TableSpec, manifest: Manifest, kept_keys: str | None
) -> tuple[str, tuple[Any, ...]]:
    """(condition on current version g, binds): its key is not in the staged snapshot, not kept (its new
    row was quarantined), and, for an incremental export from the beginning, its watermark is at or below
    the export's high (a row written after the snapshot is the next window's)."""
    match = " AND ".join(f"{sql.cast_expression(s, m)} = g.{_q(k)}" for k, s, m in sql.staged_keys(spec, manifest))
    parts = [f"g.{_q(IS_CURRENT)}", f"NOT EXISTS (SELECT 1 AS X FROM {place.control(spec.staging_name)} WHERE {match})"]
    if kept_keys is not None:
        on = " AND ".join(f"q.{_q(f'K{i}')} = g.{_q(spec.column(c))}" for i, c in enumerate(manifest.primary_key))
        parts.append(f"NOT EXISTS (SELECT 1 AS X FROM {kept_keys} AS q WHERE {on})")
    binds: tuple[Any, ...] = ()
    wm = _watermark(spec, manifest)
    if wm is not None and manifest.window.high is not None:
        parts.append(f"g.{_q(wm)} <= {sql.text_as('?', dict(sql.target_columns(spec, manifest))[wm])}")
        binds = (manifest.window.high,)
    return " AND ".join(parts), binds


def merge(
    place: Place,
    spec: TableSpec,
    manifest: Manifest,
    database: str,
    at: str,
    replacing: bool = False,
    kept_keys: str | None = None,
    key_range: tuple[Any, Any] | None = None,
) -> Stmt:
    """The batch's versions in one MERGE (module docstring); `replacing`: also close the current versions
    whose key the snapshot lacks (valid-to `at`). `key_range` (loading.key_checks.key_range): the batch's
    first-key range, bounding what the MERGE reads of the target (not for a replacing batch: a gone key
    may lie outside it). Output: (versions inserted, versions updated: closed or corrected)."""
    key_range = None if replacing else key_range
    cols = [n for n, _ in sql.target_columns(spec, manifest)]
    keys = [spec.column(c) for c in manifest.primary_key]
    changes, binds = _changes(place, spec, manifest, database, at, key_range)
    names = [*cols, _FROM, _ACTION]
    plain = ", ".join(f"ch.{_q(n)}" for n in names)
    matched = ", ".join(f"ch.{_q(k)} AS {_q(_merge_key(i))}" for i, k in enumerate(keys))
    unmatched = ", ".join(f"NULL AS {_q(_merge_key(i))}" for i in range(len(keys)))
    source = (
        f"SELECT {plain}, {matched} FROM ({changes}) AS ch WHERE ch.{_q(_ACTION)} <> 'OPEN' UNION ALL "
        f"SELECT {', '.join(f'ch.{_q(n)}' for n in [*cols, _FROM])}, 'INSERT' AS {_q(_ACTION)}, {unmatched} "
        f"FROM ({changes}) AS ch WHERE ch.{_q(_ACTION)} <> 'CORRECT'"
    )
    binds = binds + binds
    if replacing:
        gone, gone_binds = gone_condition(place, spec, manifest, kept_keys)
        values = ", ".join(f"g.{_q(n)}" if n in keys else f"NULL AS {_q(n)}" for n in cols)
        ends = f"GREATEST(n.{_q(_AT)}, g.{_q(VALID_FROM)})"
        gone_keys = ", ".join(f"g.{_q(k)} AS {_q(_merge_key(i))}" for i, k in enumerate(keys))
        source += (
            f" UNION ALL SELECT {values}, {ends} AS {_q(_FROM)}, 'GONE' AS {_q(_ACTION)}, {gone_keys} "
            f"FROM {spec.target(database)} AS g CROSS JOIN {_load_time()} WHERE {gone}"
        )
        binds = (*binds, f"{at}+00:00", *gone_binds)
    on = " AND ".join(f"t.{_q(k)} = s.{_q(_merge_key(i))}" for i, k in enumerate(keys))
    non_key = [c for c in cols if c not in keys]
    correct = (
        f"WHEN MATCHED AND s.{_q(_ACTION)} = 'CORRECT' THEN UPDATE SET "
        + ", ".join(f"{_q(c)} = s.{_q(c)}" for c in non_key)
        + " "
        if non_key
        else ""
    )
    inserted = ", ".join(_q(c) for c in [*cols, *NAMES])
    values = ", ".join([f"s.{_q(c)}" for c in cols] + [f"s.{_q(_FROM)}", "NULL", "TRUE"])
    return Stmt(
        f"MERGE INTO {spec.target(database)} AS t USING ({source}) AS s ON {on} AND t.{_q(IS_CURRENT)}"
        f"{_bound(spec, manifest, 't', key_range)} "
        f"{correct}WHEN MATCHED THEN UPDATE SET {_q(VALID_TO)} = s.{_q(_FROM)}, {_q(IS_CURRENT)} = FALSE "
        f"WHEN NOT MATCHED AND s.{_q(_ACTION)} = 'INSERT' THEN INSERT ({inserted}) VALUES ({values})",
        binds,
    )


def count_gone(place: Place, spec: TableSpec, manifest: Manifest, database: str, kept_keys: str | None) -> Stmt:
    """How many current versions a replacing batch closes (the MERGE reports them among its updates)."""
    gone, binds = gone_condition(place, spec, manifest, kept_keys)
    return Stmt(f"SELECT COUNT(*) AS N FROM {spec.target(database)} AS g WHERE {gone}", binds)


def _load_time() -> str:
    """A one-row relation `n` whose column _AURORA_SYNC_AT is the load time (one bind: `at` + '+00:00'). A bind inside
    GREATEST would be sent twice by the emulator's translation (sqlglot writes Snowflake's GREATEST, NULL
    when any argument is, as a CASE repeating its arguments), so it is read from here."""
    return f"(SELECT {datetime_text.from_text('?', _TZ)} AS {_q(_AT)}) AS n"


def close_by_key_set(condition: str, spec: TableSpec, database: str) -> str:
    """Delete detection on a history table: the current versions whose keys a key set lacks (`condition`
    on target row t) are closed at the load time (never before they began), never removed. Binds: the
    load time (`at` + '+00:00'), then the condition's. UPDATE … FROM: "UPDATE",
    https://docs.snowflake.com/en/sql-reference/sql/update."""
    return (
        f"UPDATE {spec.target(database)} AS t SET {_q(VALID_TO)} = GREATEST(n.{_q(_AT)}, t.{_q(VALID_FROM)}), "
        f"{_q(IS_CURRENT)} = FALSE FROM {_load_time()} WHERE t.{_q(IS_CURRENT)} AND {condition}"
    )


def apply(
    session: Any,
    place: Place,
    database: str,
    spec: TableSpec,
    manifest: Manifest,
    at: str,
    replacing: bool,
    kept_keys: str | None,
    key_range: tuple[Any, Any] | None = None,
) -> tuple[int, int, int]:
    """Merge the staged batch into the history table. Returns (versions opened, versions closed by a
    change or corrected, current versions closed because the snapshot lacks their key)."""
    gone = int(run(session, count_gone(place, spec, manifest, database, kept_keys))[0][0]) if replacing else 0
    merged = run(session, merge(place, spec, manifest, database, at, replacing, kept_keys, key_range))
    inserted, updated = int(merged[0][0]), int(merged[0][1]) if len(merged[0]) > 1 else 0
    return inserted, updated - gone, gone
