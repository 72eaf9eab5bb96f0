"""Values Snowflake cannot hold exactly: found in the staged batch before anything is merged.

Per column kind (DESIGN.md section 5): ±infinity and BC or five-digit-year dates and timestamps;
NaN / ±Infinity or out-of-range values where a NUMBER is expected, and unbounded numerics that would
need rounding at the configured scale; text longer than a VARCHAR holds (16,777,216 characters);
binary longer than a BINARY holds (8 MB); 24:00:00 where a TIME is expected (Snowflake's TIME ends at
23:59:59.999999999, https://docs.snowflake.com/en/sql-reference/data-types-datetime#time); where a
VARIANT or ARRAY is expected, text that is not JSON and whatever PARSE_JSON would change (numbers it
would round, repeated keys, array bounds, dates no DATE holds: stored_procs/loading/semistructured.py); any
value the target type refuses (TRY_CAST; dates and times by TRY_TO_* with the export's format,
stored_procs/datetime_text.py). FLOAT holds NaN and ±Infinity itself, so those load.

The table's `bad_values` policy decides: `quarantine` (default) moves each such row, and every other
row of its primary key in the batch (so an older version never stands in for a newer one), from
staging into STATE.QUARANTINE with its key, the reasons and its values; `fail` fails the batch
closed, naming the columns. Either way the batch's counts account for every row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stored_procs import datetime_text, sql
from stored_procs.loading import semistructured
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Manifest
from sync_contract.types import Kind, TypeMapping

POLICIES = ("quarantine", "fail")
VARCHAR_MAX_CHARS = 16_777_216  # a VARCHAR column's default (and our targets') length
BINARY_MAX_BYTES = 8_388_608  # a BINARY column's default length
MAX_STORED_VALUE_CHARS = 4096  # values kept in QUARANTINE.ROW_VALUES are cut to this length
_DATETIME = (Kind.DATE, Kind.TIMESTAMP_NTZ, Kind.TIMESTAMP_TZ)


@dataclass(frozen=True)
class Check:
    column: str  # target column name
    condition: str  # on the staged VARCHAR, qualified by the alias given to `checks`
    reason: str  # bound as a value, never spliced into SQL


def _column_checks(column: str, source_type: str, staged: str, mapping: TypeMapping) -> list[Check]:
    c = staged
    present = f"{c} IS NOT NULL"
    target = mapping.snowflake_type
    out: list[Check] = []

    def add(condition: str, why: str) -> None:
        out.append(Check(column, f"({present} AND ({condition}))", f"{column} ({source_type}): {why}"))

    if mapping.kind in _DATETIME:
        add(
            f"LOWER({c}) LIKE '%infinity%'",
            f"±infinity has no {target} value",
        )
        add(
            f"{c} LIKE '% BC%' OR LENGTH(SPLIT_PART({c}, '-', 1)) > 4",
            f"a BC date or a year past 9999 is outside {target}",
        )
    if mapping.kind == Kind.NUMBER:
        add(f"LOWER({c}) IN ('nan', 'infinity', '-infinity')", f"NaN or ±Infinity has no {target} value")
    if mapping.unbounded_scale is not None:
        s = mapping.unbounded_scale
        frac = f"RTRIM(SPLIT_PART({c}, '.', 2), '0')"
        whole = f"LTRIM(REPLACE(SPLIT_PART({c}, '.', 1), '-', ''), '0')"
        add(
            f"LENGTH({frac}) > {s} OR LENGTH({whole}) > {38 - s}",
            f"does not fit {target} without rounding (raise numeric_scale for the column)",
        )
    if mapping.kind in (Kind.TEXT, Kind.TEXT_REPR, Kind.UUID):
        add(f"LENGTH({c}) > {VARCHAR_MAX_CHARS}", f"longer than {VARCHAR_MAX_CHARS} characters")
    if mapping.kind == Kind.BINARY:
        add(f"LENGTH({c}) > {2 * BINARY_MAX_BYTES}", f"longer than {BINARY_MAX_BYTES} bytes")
    for condition, why in _override_checks(c, mapping):
        add(condition, why)
    for condition, why in semistructured.checks(c, mapping):
        add(condition, why)
    midnight = f"LEFT({c}, 2) = '24'"
    if mapping.kind == Kind.TIME:  # PostgreSQL's time ends at 24:00:00
        add(midnight, f"24:00:00 is past the end of {target} (23:59:59.999999999)")
    if mapping.kind in (Kind.INTEGER, Kind.NUMBER, Kind.DATE, Kind.TIMESTAMP_NTZ, Kind.TIMESTAMP_TZ, Kind.TIME):
        refused = f"{sql.text_as(c, mapping, safe=True)} IS NULL"
        add(f"NOT ({midnight}) AND {refused}" if mapping.kind == Kind.TIME else refused, f"not a {target} value")
    return out


def _override_checks(c: str, mapping: TypeMapping) -> list[tuple[str, str]]:
    """A `type_overrides` type accepted with allow_lossy (sync_contract.type_overrides): the staged values
    it cannot hold as they are, which a CAST would round, refuse or cut: more integer or fractional digits
    than NUMBER(p,s) holds ("Numeric data types", https://docs.snowflake.com/en/sql-reference/data-types-numeric),
    a float no NUMBER(p,s) holds exactly, a number whose FLOAT is not the number read back, text longer than
    VARCHAR(n), more fractional digits of a second than TIMESTAMP_*(p) / TIME(p) keep. A timestamptz as
    TIMESTAMP_NTZ fits (it keeps the wall-clock time)."""
    if mapping.override_of is None:
        return []
    target = mapping.snowflake_type
    why = f"does not fit {target} (its type_overrides entry) without rounding or cutting"
    number = re.match(r"^NUMBER\((\d+),(\d+)\)$", target)
    if number and mapping.kind in (Kind.INTEGER, Kind.NUMBER):
        p, s = int(number[1]), int(number[2])
        frac = f"RTRIM(SPLIT_PART({c}, '.', 2), '0')"
        whole = f"LTRIM(REPLACE(SPLIT_PART({c}, '.', 1), '-', ''), '0')"
        return [(f"LENGTH({frac}) > {s} OR LENGTH({whole}) > {p - s}", why)]
    if target == "FLOAT" and mapping.kind in (Kind.INTEGER, Kind.NUMBER) and mapping.override_of:
        # a double keeps about 15 significant digits (same page): a value is loaded only when the FLOAT
        # read back at the source's exact type (`override_of`: NUMBER(38,0), NUMBER(p,s)) is the value
        # (2^53 + 1 as a FLOAT is 2^53; numeric(38,10) 0.1234567890123456789 loses digits); a value too
        # large to read back counts as not fitting
        exact = f"TRY_CAST({c} AS {mapping.override_of})"
        back = f"TRY_CAST(TRY_CAST({c} AS FLOAT) AS {mapping.override_of})"
        return [(f"{exact} IS NOT NULL AND ({back} IS NULL OR {back} <> {exact})", why)]
    if number and mapping.kind == Kind.FLOAT:
        exact = f"TRY_CAST({c} AS {target})"
        return [(f"{exact} IS NULL OR CAST({exact} AS FLOAT) <> TRY_CAST({c} AS FLOAT)", why)]
    length = re.match(r"^VARCHAR\((\d+)\)$", target)
    if length and int(length[1]) < VARCHAR_MAX_CHARS:
        return [(f"LENGTH({c}) > {int(length[1])}", why)]
    precision = re.match(r"^(?:TIMESTAMP_\w+|TIME)\((\d)\)$", target)
    if precision and int(precision[1]) < 6:
        fraction = f"SPLIT_PART(SPLIT_PART(SPLIT_PART(SPLIT_PART({c}, '.', 2), '+', 1), '-', 1), ' ', 1)"
        return [(f"LENGTH(RTRIM({fraction}, '0')) > {int(precision[1])}", why)]
    return []


def checks(spec: TableSpec, manifest: Manifest, alias: str) -> list[Check]:
    staged = sql.staging_columns(len(manifest.columns))
    keys = {spec.column(c) for c in manifest.primary_key}
    out: list[Check] = []
    for col, stg, (name, mapping) in zip(manifest.columns, staged, sql.target_columns(spec, manifest), strict=True):
        value = f"{alias}.{quote_ident(stg)}"
        if name in keys:  # a NULL key part identifies no row: MERGE would insert it again every time
            out.append(Check(name, f"({value} IS NULL)", f"{name} ({col.source_type}): primary key value is NULL"))
        out += _column_checks(name, col.source_type, value, mapping)
    return out


def _affected(place: Place, spec: TableSpec, manifest: Manifest) -> str:
    """Rows (alias r) with a bad value, or sharing a primary key with a row (alias b) that has one."""
    keys = " AND ".join(f"b.{quote_ident(s)} = r.{quote_ident(s)}" for _, s, _ in sql.staged_keys(spec, manifest))
    bad_r = " OR ".join(c.condition for c in checks(spec, manifest, "r"))
    bad_b = " OR ".join(c.condition for c in checks(spec, manifest, "b"))
    return (
        f"(({bad_r}) OR EXISTS (SELECT 1 AS X FROM {place.control(spec.staging_name)} AS b WHERE {keys} AND ({bad_b})))"
    )


def count_bad(place: Place, spec: TableSpec, manifest: Manifest) -> Stmt | None:
    """Per check: how many staged rows fail it (one statement; columns named C0, C1, …)."""
    found = checks(spec, manifest, "r")
    if not found:
        return None
    sums = ", ".join(f"SUM(IFF({c.condition}, 1, 0)) AS {quote_ident(f'C{i}')}" for i, c in enumerate(found))
    return Stmt(f"SELECT {sums} FROM {place.control(spec.staging_name)} AS r")


def forget(place: Place, export_ids: list[str]) -> Stmt:
    """A batch re-applied after a crash records its rows once."""
    marks = ", ".join("?" for _ in export_ids)
    return Stmt(f"DELETE FROM {place.control('QUARANTINE')} WHERE EXPORT_ID IN ({marks})", tuple(export_ids))


def record(place: Place, spec: TableSpec, manifest: Manifest, export_id: str, run_id: str, at: str) -> Stmt:
    """Copy the affected staged rows into QUARANTINE: key and values as JSON (names bound, values cut to
    MAX_STORED_VALUE_CHARS), and every reason that applies."""
    found = checks(spec, manifest, "r")
    names = [n for n, _ in sql.target_columns(spec, manifest)]
    staged = sql.staging_columns(len(names))
    keys = sql.staged_keys(spec, manifest)
    key_pairs = ", ".join(f"CAST(? AS VARCHAR), r.{quote_ident(s)}" for _, s, _ in keys)
    row_pairs = ", ".join(f"CAST(? AS VARCHAR), LEFT(r.{quote_ident(s)}, {MAX_STORED_VALUE_CHARS})" for s in staged)
    by_column: dict[str, list[Check]] = {}
    for c in found:  # one reason per column: the first of its checks that applies
        by_column.setdefault(c.column, []).append(c)
    pieces = " || ".join(
        "CASE " + " ".join(f"WHEN {c.condition} THEN CAST(? AS VARCHAR)" for c in column) + " ELSE '' END"
        for column in by_column.values()
    )
    empty = "''"  # no check (never recorded: a row is affected only by one)
    reasons = f"SUBSTR({pieces or empty}, 3)"  # each reason bound as '; <reason>': the first separator cut
    return Stmt(
        f"INSERT INTO {place.control('QUARANTINE')} (EXPORT_ID, RUN_ID, SOURCE_SCHEMA, SOURCE_TABLE, PRIMARY_KEY, "
        "REASON, ROW_VALUES, QUARANTINED_AT) "
        f"SELECT ?, ?, ?, ?, TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL({key_pairs})), "
        f"COALESCE(NULLIF({reasons}, ''), ?), TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL({row_pairs})), "
        f"{datetime_text.timestamp_ntz()} FROM {place.control(spec.staging_name)} AS r "
        f"WHERE {_affected(place, spec, manifest)}",
        (
            export_id,
            run_id,
            spec.source_schema,
            spec.source_table,
            *[n for n, _, _ in keys],
            *[f"; {c.reason}" for column in by_column.values() for c in column],
            "another row of this primary key in the batch has a value that cannot be loaded",
            *names,
            at,
        ),
    )


def set_aside(place: Place, spec: TableSpec, manifest: Manifest) -> Stmt:
    return Stmt(f"DELETE FROM {place.control(spec.staging_name)} AS r WHERE {_affected(place, spec, manifest)}")


class BadValues(ValueError):
    """The batch holds values the target cannot hold and the table's policy is `fail`."""


def keep_keys(place: Place, spec: TableSpec, manifest: Manifest, table: str) -> Stmt:
    """The keys of the rows about to be set aside, typed as the target's (K0, K1, …; NULL where the
    key itself cannot be converted), for a replacing batch (stored_procs.loading.replace)."""
    keys = ", ".join(
        f"{sql.try_cast_expression(f'r.{quote_ident(stg)}', mapping)} AS {quote_ident(f'K{i}')}"
        for i, (_, stg, mapping) in enumerate(sql.staged_keys(spec, manifest))
    )
    return Stmt(
        f"CREATE OR REPLACE TRANSIENT TABLE {table} DATA_RETENTION_TIME_IN_DAYS = 0 AS SELECT DISTINCT {keys} "
        f"FROM {place.control(spec.staging_name)} AS r WHERE {_affected(place, spec, manifest)}"
    )


def apply(
    session: Any,
    place: Place,
    spec: TableSpec,
    manifest: Manifest,
    export_ids: list[str],
    run_id: str,
    at: str,
    keys_table: str | None = None,
    counted: tuple[Any, ...] | None = None,
) -> int:
    """Find bad values in the staged batch; quarantine their rows (returns how many) or raise BadValues.
    `keys_table`: also keep the keys of the rows set aside there. `counted`: `count_bad`'s result when
    already read (loading.staged_checks)."""
    stmt = count_bad(place, spec, manifest)
    if stmt is None:
        return 0
    row = counted if counted is not None else run(session, stmt)[0]
    found = checks(spec, manifest, "r")
    failing = {c.reason: int(v) for c, v in zip(found, row, strict=True) if v}
    if not failing:
        return 0
    summary = "; ".join(f"{reason} ({n} rows)" for reason, n in failing.items())
    if spec.bad_values == "fail":
        raise BadValues(
            f"values the target cannot hold exactly: {summary}. Nothing was merged; set bad_values = 'quarantine' "
            f"for the table to load the other rows and keep these in {place.control('QUARANTINE')}"
        )
    before = int(run(session, sql.count_rows(place.control(spec.staging_name)))[0][0])
    run(session, forget(place, export_ids))
    run(session, record(place, spec, manifest, export_ids[0], run_id, at))
    if keys_table is not None:
        run(session, keep_keys(place, spec, manifest, keys_table))
    run(session, set_aside(place, spec, manifest))
    after = int(run(session, sql.count_rows(place.control(spec.staging_name)))[0][0])
    recorded = run(
        session,
        Stmt(
            f"SELECT COUNT(*) AS N FROM {place.control('QUARANTINE')} WHERE EXPORT_ID = ?",
            (export_ids[0],),
        ),
    )
    moved = before - after
    if int(recorded[0][0]) != moved:
        raise BadValues(
            f"{moved} rows were set aside but {recorded[0][0]} are recorded in QUARANTINE; nothing was merged"
        )
    return moved
