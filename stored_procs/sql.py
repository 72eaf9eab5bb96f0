"""Snowflake SQL of the load path, from pure functions.

Identifiers pass through `sync_contract.identifiers`; values are `?` binds. The same text runs on
Snowflake and on the emulator (DESIGN.md section 7: `CAST(? AS T)`, every selected expression
aliased, functions computed inside MERGE's USING subquery, FILES as quoted literals).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from stored_procs import datetime_text
from stored_procs.configuration import renames
from stored_procs.loading import overrides, transforms
from stored_procs.loading.errors import ConfigRefused
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt
from sync_contract.identifiers import RESERVED_COLUMN_NAMES, quote_ident
from sync_contract.manifest import Manifest
from sync_contract.types import Kind, TypeMapping, map_type

MAX_FILES_PER_COPY = 1000
ROW_NUMBER_COLUMN = "_AURORA_SYNC_RN"  # numbers the rows of one key in a batch (deduplicated_source)

# PostgreSQL CSV (FORMAT csv, FORCE_QUOTE *): NULL is the only unquoted empty field, `""` is ''.
CSV_FORMAT = (
    "TYPE=CSV FIELD_DELIMITER=',' FIELD_OPTIONALLY_ENCLOSED_BY='\"' EMPTY_FIELD_AS_NULL=TRUE NULL_IF=() "
    "ESCAPE_UNENCLOSED_FIELD=NONE SKIP_HEADER={skip} COMPRESSION={compression}"
)


# --------------------------------------------------------------------------- control objects


def create_stage(place: Place, url: str, storage_integration: str | None, replace: bool = False) -> Stmt:
    """The stage on the export bucket. Never credentials in SQL: a storage integration, or none
    (the emulator reads S3 itself)."""
    if "'" in url or not url.startswith("s3://") or not url.endswith("/"):
        raise ValueError(f"stage URL {url!r} must look like s3://bucket/prefix/")
    integration = f" STORAGE_INTEGRATION = {quote_ident(storage_integration)}" if storage_integration else ""
    create = "CREATE OR REPLACE STAGE" if replace else "CREATE STAGE IF NOT EXISTS"
    return Stmt(f"{create} {place.stage} URL = '{url}'{integration}")


def text_as(text: str, mapping: TypeMapping, *, safe: bool = False) -> str:
    """The VARCHAR expression `text` (a column, or one `?` bind) converted to the mapping's type: a
    date/time type with an explicit format (never the account's *_INPUT_FORMAT), others by CAST;
    `safe`: NULL where it cannot be converted (TRY_)."""
    if datetime_text.is_temporal(mapping):
        return datetime_text.from_text(text, mapping, safe=safe)
    return f"{'TRY_CAST' if safe else 'CAST'}({text} AS {mapping.snowflake_type})"


# --------------------------------------------------------------------------- intake


# --------------------------------------------------------------------------- load


def staging_columns(count: int) -> list[str]:
    """Staging columns are positional (C1..Cn), all VARCHAR: the cast happens in the MERGE source."""
    return [f"C{i}" for i in range(1, count + 1)]


# Staging takes the longest value Snowflake can hold (128 MB), so that a value longer than its target
# column (a VARCHAR holds 16,777,216 characters) reaches the quarantine checks instead of failing the COPY.
STAGING_VARCHAR = "VARCHAR(134217728)"


# Text compared by its UTF-8 bytes whatever the account's DEFAULT_DDL_COLLATION: a case-insensitive
# default ('en-ci') would make 'a' and 'A' one key (rows merged into one, or MERGE's duplicate-row error)
# and a change of case no change ("Collation support": 'utf8' compares the bytes; a COLLATE clause
# overrides the default, "Parameters", DEFAULT_DDL_COLLATION). CREATE TABLE … LIKE keeps it. Only on
# text columns: until the 2026_04 behaviour change bundle the REGEXP functions refuse a collated argument
# ("REGEXP functions: Collated arguments are accepted"), and staged dates, times, JSON and arrays go
# through REGEXP_* checks; they are compared only once converted to their types.
BINARY_COLLATION = "COLLATE 'utf8'"
_TEXT_KINDS = (Kind.TEXT, Kind.TEXT_REPR, Kind.UUID, Kind.MONEY)


def column_type(mapping: TypeMapping) -> str:
    """The type of a target column in DDL: text kinds with BINARY_COLLATION."""
    return f"{mapping.snowflake_type} {BINARY_COLLATION}" if mapping.kind in _TEXT_KINDS else mapping.snowflake_type


def create_staging(place: Place, spec: TableSpec, mappings: Sequence[TypeMapping]) -> Stmt:
    """The staging table of a batch: one VARCHAR per exported column (`mappings`, in manifest order),
    those of text kinds with BINARY_COLLATION, as their target columns."""
    cols = ", ".join(
        f"{quote_ident(c)} {STAGING_VARCHAR}" + (f" {BINARY_COLLATION}" if m.kind in _TEXT_KINDS else "")
        for c, m in zip(staging_columns(len(mappings)), mappings, strict=True)
    )
    # transient and DATA_RETENTION_TIME_IN_DAYS = 0: no Fail-safe, no Time Travel, so a replaced or dropped
    # staging table keeps no storage ("Storage Costs for Time Travel and Fail-safe",
    # https://docs.snowflake.com/en/user-guide/data-cdp-storage-costs: transient tables have no Fail-safe,
    # their Time Travel is 0 or 1 day)
    return Stmt(
        f"CREATE OR REPLACE TRANSIENT TABLE {place.control(spec.staging_name)} ({cols}) DATA_RETENTION_TIME_IN_DAYS = 0"
    )


def copy_data(place: Place, spec: TableSpec, files: Sequence[str], compression: str) -> Stmt:
    if not files or len(files) > MAX_FILES_PER_COPY:
        raise ValueError(f"COPY takes 1..{MAX_FILES_PER_COPY} files, got {len(files)}")
    for f in files:
        if "'" in f or "\\" in f:
            raise ValueError(f"file key {f!r} is not a contract key")
    listed = ", ".join(f"'{f}'" for f in files)
    fmt = CSV_FORMAT.format(skip=0, compression="GZIP" if compression == "gzip" else "NONE")
    return Stmt(
        f"COPY INTO {place.control(spec.staging_name)} FROM {place.stage_path()} FILES=({listed}) "
        f"FILE_FORMAT=({fmt}) ON_ERROR=ABORT_STATEMENT FORCE=TRUE"
    )


def count_rows(table: str) -> Stmt:
    return Stmt(f"SELECT COUNT(*) AS N FROM {table}")


def target_columns(spec: TableSpec, manifest: Manifest) -> list[tuple[str, TypeMapping]]:
    """(target column name, mapping) in manifest order; target names are `spec.column` of the source names
    (a `rename`, else upper-cased)."""
    out = [
        (spec.column(c.name), map_type(c.type, c.name, unbounded_numeric_scale=spec.scale_for(c.name)))
        for c in manifest.columns
    ]
    if spec.type_overrides:
        out = overrides.overridden(spec, manifest, out)
    names = [n for n, _ in out]
    if found := renames.clash(spec.rename, [c.name for c in manifest.columns]):  # the rule: configuration.renames
        raise ConfigRefused(f"rename.{found[0]} of {spec.source}: {found[1]}. Nothing of the batch was loaded")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"columns of {spec.source} collide once upper-cased in Snowflake: {dupes}")
    # every internal column of the load's statements is named under renames.RESERVED_PREFIX (the row number,
    # the full-mode gone flag, transform slots, history's merge columns): no column of the row may be
    if why := renames.internal_refusal(names, f"columns of {spec.source}:"):
        raise ConfigRefused(f"{why}. Nothing of the batch was loaded")
    reserved = {n for n, _ in SOFT_DELETE_COLUMNS} if spec.delete_detection == "soft_delete" else set()
    if spec.history:  # loading.history's columns
        reserved |= set(renames.HISTORY_COLUMNS)
    if taken := sorted(reserved & set(names)):
        raise ValueError(
            f"columns {taken} of {spec.source} have names the sync uses itself (with soft deletes, _DELETED and "
            "_DELETED_AT; with history, _VALID_FROM, _VALID_TO, _IS_CURRENT): rename them "
            '(rename = { column = "OTHER" }), replicate a view that renames them, or leave them out'
        )
    if refused := [c.name for c, n in zip(manifest.columns, names, strict=True) if n in RESERVED_COLUMN_NAMES]:
        raise ValueError(
            f"columns {refused} of {spec.source} are named, once upper-cased, like a keyword Snowflake refuses as a "
            "column name even double-quoted (CURRENT_DATE, CURRENT_TIME, CURRENT_TIMESTAMP, CURRENT_USER, LOCALTIME, "
            "LOCALTIMESTAMP: Snowflake's 'Reserved & limited keywords'). Nothing of the batch was loaded. Replicate a "
            'view that renames them (e.g. SELECT …, "localtime" AS localtime_value FROM …), or leave them out with '
            "`columns` (not possible for the primary key or the watermark column)"
        )
    return out


def staged_keys(spec: TableSpec, manifest: Manifest) -> list[tuple[str, str, TypeMapping]]:
    """(target name, staging column, mapping) of each primary key column, in key order."""
    cols = target_columns(spec, manifest)
    by_name = {name: (stg, m) for stg, (name, m) in zip(staging_columns(len(cols)), cols, strict=True)}
    return [(spec.column(c), *by_name[spec.column(c)]) for c in manifest.primary_key]


def create_target_schema(spec: TableSpec, database: str) -> Stmt:
    return Stmt(f"CREATE SCHEMA IF NOT EXISTS {spec.target_schema_ref(database)}")


def create_target(spec: TableSpec, database: str, columns: Sequence[tuple[str, TypeMapping]]) -> Stmt:
    cols = ", ".join(f"{quote_ident(n)} {column_type(m)}" for n, m in columns)
    return Stmt(f"CREATE TABLE IF NOT EXISTS {spec.target(database)} ({cols})")


def existing_columns(spec: TableSpec, database: str) -> Stmt:
    return Stmt(
        f"SELECT COLUMN_NAME AS NAME FROM {quote_ident(database)}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (spec.target_schema, spec.target_table),
    )


def add_column(spec: TableSpec, database: str, name: str, mapping: TypeMapping) -> Stmt:
    return Stmt(f"ALTER TABLE {spec.target(database)} ADD COLUMN {quote_ident(name)} {column_type(mapping)}")


def widen_column(spec: TableSpec, database: str, name: str, mapping: TypeMapping) -> Stmt:
    """More precision at the same scale, or a longer VARCHAR: Snowflake alters these in place."""
    return Stmt(
        f"ALTER TABLE {spec.target(database)} ALTER COLUMN {quote_ident(name)} SET DATA TYPE {mapping.snowflake_type}"
    )


def rename_column(spec: TableSpec, database: str, old: str, new: str) -> Stmt:
    """A source column renamed (same attribute number): its values stay. "ALTER TABLE", RENAME COLUMN."""
    return Stmt(f"ALTER TABLE {spec.target(database)} RENAME COLUMN {quote_ident(old)} TO {quote_ident(new)}")


def cast_expression(staged: str, mapping: TypeMapping) -> str:
    """Convert one staged VARCHAR to its target type; values it cannot convert exactly were set aside
    before (stored_procs.loading.quarantine)."""
    col = quote_ident(staged)
    kind = mapping.kind
    if kind == Kind.JSON:
        return f"PARSE_JSON({col})"
    if kind == Kind.ARRAY:
        return f"CAST(PARSE_JSON({col}) AS ARRAY)"
    if kind == Kind.BINARY:
        return f"TO_BINARY({col}, 'HEX')"
    if kind in (Kind.TEXT, Kind.TEXT_REPR, Kind.MONEY):
        return col
    if kind == Kind.FLOAT and mapping.snowflake_type.startswith("NUMBER"):  # a lossy override: from the text
        return f"CAST({col} AS {mapping.snowflake_type})"
    if kind == Kind.FLOAT:  # PostgreSQL writes Infinity; Snowflake reads inf (and NaN as it is)
        return f"CAST(CASE {col} WHEN 'Infinity' THEN 'inf' WHEN '-Infinity' THEN '-inf' ELSE {col} END AS FLOAT)"
    return text_as(col, mapping)


def try_cast_expression(staged_sql: str, mapping: TypeMapping) -> str:
    """A staged VARCHAR (an SQL expression) as its target type, or NULL where it cannot be converted."""
    kind = mapping.kind
    if kind in (Kind.JSON, Kind.ARRAY):
        return f"TRY_PARSE_JSON({staged_sql})"
    if kind == Kind.BINARY:
        return f"TRY_TO_BINARY({staged_sql}, 'HEX')"
    if kind in (Kind.TEXT, Kind.TEXT_REPR, Kind.MONEY):
        return staged_sql
    return text_as(staged_sql, mapping, safe=True)


def _typed_columns(spec: TableSpec, manifest: Manifest) -> dict[str, str]:
    """Each target column's conversion of its staged text, by target column name."""
    cols = target_columns(spec, manifest)
    return {name: cast_expression(stg, m) for stg, (name, m) in zip(staging_columns(len(cols)), cols, strict=True)}


def typed_rows(place: Place, spec: TableSpec, manifest: Manifest, extra: str = "") -> str:
    """The staged batch converted to target types, one row per staged row, before any `transform`
    (`extra`: more select items)."""
    items = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in _typed_columns(spec, manifest).items())
    return f"SELECT {items}{extra} FROM {place.control(spec.staging_name)}"


def typed_source(
    place: Place, spec: TableSpec, manifest: Manifest, extra: str = "", extra_columns: Sequence[str] = ()
) -> str:
    """The rows a MERGE writes: the staged batch converted to target types, one row per staged row,
    each `transform` applied (stored_procs.loading.transforms.applied). `extra`: more select items over
    the staged row (`, <expr> AS "NAME"`), whose names `extra_columns` must list (kept beside the
    transformed columns)."""
    names = [name for name, _ in target_columns(spec, manifest)]
    return transforms.applied(typed_rows(place, spec, manifest, extra), names, spec.transform, extra_columns)


def deduplicated_source(place: Place, spec: TableSpec, manifest: Manifest) -> str:
    """The staged batch converted to target types, one row per primary key (the newest watermark wins),
    each `transform` applied.

    A nested SELECT with ROW_NUMBER instead of QUALIFY: the emulator cannot run QUALIFY inside MERGE.
    """
    exprs = _typed_columns(spec, manifest)
    partition = ", ".join(exprs[spec.column(c)] for c in manifest.primary_key)
    wm = spec.column(manifest.window.column) if manifest.mode == "incremental" and manifest.window.column else None
    # deterministic: the newest watermark, then the greatest row text (a key repeated with equal watermarks)
    staged = staging_columns(len(exprs))
    order = ", ".join(([f"{exprs[wm]} DESC"] if wm else []) + [f"{quote_ident(c)} DESC" for c in staged])
    rn = quote_ident(ROW_NUMBER_COLUMN)
    numbered = typed_rows(
        place, spec, manifest, f", ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order}) AS {rn}"
    )
    newest = f"SELECT {', '.join(quote_ident(name) for name in exprs)} FROM ({numbered}) AS d WHERE {rn} = 1"
    return transforms.applied(newest, list(exprs), spec.transform)


def merge(
    place: Place, spec: TableSpec, manifest: Manifest, database: str, key_range: tuple[Any, Any] | None = None
) -> Stmt:
    """Upsert the batch, whose primary key values the load has found unique (loading.batch.check_unique_keys
    fails the batch otherwise), so the source is the typed staged rows as they are, with no ROW_NUMBER
    pass over them. That check is the guard: Snowflake refuses a MERGE that would update one existing
    target row from two source rows (ERROR_ON_NONDETERMINISTIC_MERGE, TRUE by default:
    https://docs.snowflake.com/en/sql-reference/sql/merge, "Duplicate join behavior"), but would insert
    a repeated key the target lacks twice.
    An existing row is updated only by a row at least as new as it
    (by watermark) and only when a value differs, so re-running a batch changes nothing. `key_range`, the
    batch's least and greatest first key column (loading.key_checks.key_range), bounds the target: every
    row the batch can match lies in it, and Snowflake prunes the micro-partitions outside it ("Micro-
    partitions & data clustering": query pruning by the min/max of each column), so the MERGE reads what
    the change touches rather than the whole target."""
    cols = [name for name, _ in target_columns(spec, manifest)]
    pk = [spec.column(c) for c in manifest.primary_key]
    wm = spec.column(manifest.window.column) if manifest.mode == "incremental" and manifest.window.column else None
    on = key_match(spec, manifest, "t", "s")
    if key_range is not None:  # numbers only (key_checks.key_range), written as plain numeric literals
        on += f" AND t.{quote_ident(pk[0])} BETWEEN {number_literal(key_range[0])} AND {number_literal(key_range[1])}"
    non_key = [c for c in cols if c not in pk]
    differs = " OR ".join(f"t.{quote_ident(c)} IS DISTINCT FROM s.{quote_ident(c)}" for c in non_key)
    newer = f"s.{quote_ident(wm)} >= t.{quote_ident(wm)}" if wm else ""
    sets = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in non_key)
    if spec.delete_detection == "soft_delete":  # a key that comes back is live again
        differs = f'{differs} OR t."_DELETED"' if differs else 't."_DELETED"'
        sets += ', "_DELETED" = FALSE, "_DELETED_AT" = NULL'
    condition = " AND ".join(f"({part})" for part in (newer, differs) if part)
    names = ", ".join(quote_ident(c) for c in cols)
    values = ", ".join(f"s.{quote_ident(c)}" for c in cols)
    matched = f"WHEN MATCHED AND {condition} THEN UPDATE SET {sets} " if non_key else ""
    return Stmt(
        f"MERGE INTO {spec.target(database)} AS t USING ({typed_source(place, spec, manifest)}) AS s ON {on} "
        f"{matched}WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )


def number_literal(value: Any) -> str:
    """An int or Decimal as a SQL numeric literal (plain notation); raises TypeError for anything else, so
    no text ever reaches SQL this way."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"not a number: {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError(f"not a finite number: {value}")
    return format(value, "f") if isinstance(value, Decimal) else str(value)


SOFT_DELETE_COLUMNS = (
    ("_DELETED", TypeMapping(Kind.BOOLEAN, "BOOLEAN")),
    ("_DELETED_AT", TypeMapping(Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)")),
)


def live_row(alias: str = "") -> str:
    """A target row not flagged `_DELETED` (soft deletes)."""
    flag = f'{alias}."_DELETED"' if alias else '"_DELETED"'
    return f"({flag} IS NULL OR NOT {flag})"


def live_rows_only(spec: TableSpec, alias: str = "") -> str | None:
    """The condition of the rows that exist in the target: with soft deletes, the unflagged ones; in a
    history table (loading.history), the current versions."""
    if spec.history:
        return f'{alias + "." if alias else ""}"_IS_CURRENT"'
    return live_row(alias) if spec.delete_detection == "soft_delete" else None


def key_match(spec: TableSpec, manifest: Manifest, a: str, b: str) -> str:
    """Rows of `a` and `b` (aliases of tables with the target's columns) with the same primary key."""
    keys = (quote_ident(spec.column(c)) for c in manifest.primary_key)
    return " AND ".join(f"{a}.{k} = {b}.{k}" for k in keys)


def drop_staging(place: Place, spec: TableSpec) -> Stmt:
    return Stmt(f"DROP TABLE IF EXISTS {place.control(spec.staging_name)}")
