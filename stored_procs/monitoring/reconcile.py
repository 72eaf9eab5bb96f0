"""RECONCILE_TABLE: compare one table's target with its source by bucket fingerprints, then key by key
in the buckets that differ (sync_contract.reconcile). The source side is asked of the exporter; the
report goes into STATE.RECONCILIATIONS and back to the caller.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stored_procs import ledger, watermarks
from stored_procs.loading import transforms
from stored_procs.row_sql import insert_row
from stored_procs.spec import Place, TableSpec
from stored_procs.sql import existing_columns, live_rows_only
from stored_procs.statement import Stmt, run
from sync_contract import type_overrides
from sync_contract.errors import ContractError
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import parse_manifest_json
from sync_contract.reconcile import (
    MAX_KEYS_REPORTED,
    NUMERIC_KINDS,
    Differences,
    Fingerprints,
    ReconcileRequest,
    RowHashes,
    batches,
    bucket_digits,
    child_path,
    diff_rows,
    differing_buckets,
    is_document,
    is_hashed,
    is_key_hashable,
    joined,
    node_hash,
    node_text,
    presence,
    strip_zeros,
)
from sync_contract.types import Kind, map_type

AskSource = Callable[[dict[str, Any]], dict[str, Any]]
MAX_ROW_COMPARISONS = 20  # groups of differing buckets compared key by key per call (one source scan each)

REPORT_COLUMNS = (
    ("run_id", "VARCHAR"),
    ("source_schema", "VARCHAR"),
    ("source_table", "VARCHAR"),
    ("started_at", "TIMESTAMP_NTZ"),
    ("finished_at", "TIMESTAMP_NTZ"),
    ("status", "VARCHAR"),
    ("source_rows", "NUMBER"),
    ("target_rows", "NUMBER"),
    ("buckets", "NUMBER"),
    ("differing_buckets", "NUMBER"),
    ("missing", "NUMBER"),
    ("extra", "NUMBER"),
    ("different", "NUMBER"),
    ("watermark", "VARCHAR"),
    ("report", "VARCHAR"),
    ("error", "VARCHAR"),
)


TARGET = "T"  # the target table's alias: every column reference is qualified (no clash with the walk's columns)
# the walk's relations and columns: under the reserved prefix of every internal name (configuration.renames)
NODES, DOCS = '"_AURORA_SYNC_RECON_NODES"', '"_AURORA_SYNC_RECON_DOCS"'
ROW, COL, PATH, VALUE, HASH = (
    '"_AURORA_SYNC_RECON_R"',
    '"_AURORA_SYNC_RECON_C"',
    '"_AURORA_SYNC_RECON_P"',
    '"_AURORA_SYNC_RECON_V"',
    '"_AURORA_SYNC_RECON_H"',
)


def canonical(name: str | None, pg_type: str, document: int | None = None, as_type: str | None = None) -> str:
    """Snowflake SQL for a target value's canonical text (lambda_exporter.reconcile computes the same
    text from the source value). `name` None: the target has no such column yet. `document`: the number
    of this json/array column in the documents' walk (`documents`), whose hash is the text. `as_type`:
    the column's exact mapping, read back from a FLOAT `type_overrides` type (`_exact_type`)."""
    if name is None:
        return "CAST(NULL AS VARCHAR)"
    c = f"{TARGET}.{quote_ident(name)}"
    if as_type is not None:
        c = f"CAST({c} AS {as_type})"
    kind = map_type(pg_type, name).kind
    if is_document(pg_type, name) and document is not None:
        return f"D{int(document)}.{HASH}"
    if not is_hashed(pg_type, name):
        return presence(c)
    if kind == Kind.MONEY:
        return strip_zeros(c)
    if kind in NUMERIC_KINDS:
        return strip_zeros(f"TO_VARCHAR({c})")
    if kind == Kind.BOOLEAN:
        return f"TO_VARCHAR({c})"
    if kind == Kind.DATE:
        return f"TO_VARCHAR({c}, 'YYYY-MM-DD')"
    if kind in (Kind.TIMESTAMP_NTZ, Kind.TIMESTAMP_TZ):  # microseconds since the epoch (UTC)
        return f"TO_VARCHAR(DATE_PART(EPOCH_MICROSECOND, {c}))"
    # microseconds since midnight: for TIME values DATEDIFF('microsecond') uses the first six fractional
    # digits, unrounded (https://docs.snowflake.com/en/sql-reference/functions/datediff)
    if kind == Kind.TIME:
        return f"TO_VARCHAR(DATEDIFF('microsecond', TO_TIME('00:00:00', 'HH24:MI:SS'), {c}))"
    if kind == Kind.BINARY:
        return f"LOWER(HEX_ENCODE({c}))"
    return c  # VARCHAR as loaded


def node_typed_text(v: str) -> str:
    """Snowflake SQL of a document node's `<type letter><text>` (sync_contract.reconcile.node_text) from
    its VARIANT. TYPEOF names the stored type (https://docs.snowflake.com/en/sql-reference/functions/typeof);
    PARSE_JSON keeps 123.45 as NUMBER(5,2) and stores a number with an exponent or beyond NUMBER(38) as
    DOUBLE (https://docs.snowflake.com/en/sql-reference/functions/parse_json), which has no letter of its
    own: it never equals the source's exact number. AS_VARCHAR is a string's characters, unquoted
    (https://docs.snowflake.com/en/sql-reference/functions/as); TO_VARCHAR of a VARIANT number or boolean
    is its JSON text (https://docs.snowflake.com/en/sql-reference/functions/to_char). A JSON null is a
    null node whether the walk holds it as a VARIANT null or as a SQL NULL."""
    t = f"TYPEOF({v})"
    by_type = {
        "OBJECT": node_text("object", ""),
        "ARRAY": node_text("array", ""),
        "VARCHAR": node_text("string", f"AS_VARCHAR({v})"),
        "INTEGER": node_text("number", f"TO_VARCHAR({v})"),
        "DECIMAL": node_text("number", f"TO_VARCHAR({v})"),
        "BOOLEAN": node_text("boolean", f"TO_VARCHAR({v})"),
        "NULL_VALUE": node_text("null", ""),
    }
    cases = " ".join(f"WHEN '{name}' THEN {text}" for name, text in by_type.items())
    other = f"'x' || {t} || ':' || COALESCE(TO_VARCHAR({v}), '')"
    return f"CASE WHEN {v} IS NULL THEN {node_text('null', '')} ELSE CASE {t} {cases} ELSE {other} END END"


def documents(table: str, key: str, columns: list[str], where: str) -> str:
    """WITH clause hashing the target's json/array columns: NODES walks every document (a recursive CTE,
    https://docs.snowflake.com/en/sql-reference/constructs/with, over FLATTEN of each object or array,
    https://docs.snowflake.com/en/sql-reference/functions/flatten: KEY for an object member, INDEX for an
    array element), one row per node: the row's key text, the column's number, the node's path
    (sync_contract.reconcile.child_path) and value; DOCS is each document's hash (MD5 of its node hashes
    in sorted order), joined to the rows by key text (a key held by two target rows gets the hash of both
    documents: a difference, as it should be). The source computes the same per value
    (lambda_exporter.reconcile.document); Snowflake takes no correlated subquery of this shape."""
    anchors = " UNION ALL ".join(
        f"SELECT {key} AS {ROW}, {i} AS {COL}, CAST('' AS VARCHAR) AS {PATH}, CAST({c} AS VARIANT) AS {VALUE} "
        f"FROM {table} AS {TARGET}{_where(f'{c} IS NOT NULL', where)}"
        for i, c in enumerate(columns)
    )
    v = f"N.{VALUE}"
    # FLATTEN of NULL gives no rows: scalars are not expanded
    compound = f"IFF(TYPEOF({v}) IN ('OBJECT', 'ARRAY'), {v}, NULL)"
    walk = (
        f"SELECT N.{ROW}, N.{COL}, {child_path(f'N.{PATH}', 'F.KEY', 'F.INDEX')}, F.VALUE "
        f"FROM {NODES} AS N, LATERAL FLATTEN(INPUT => {compound}) AS F"
    )
    hashes = f"SELECT {ROW}, {COL}, {node_hash(PATH, node_typed_text(VALUE))} AS {HASH} FROM {NODES}"
    return (
        f"WITH RECURSIVE {NODES} ({ROW}, {COL}, {PATH}, {VALUE}) AS (SELECT * FROM ({anchors}) UNION ALL {walk}), "
        f"{DOCS} AS (SELECT {ROW}, {COL}, MD5(LISTAGG({HASH}, '') WITHIN GROUP (ORDER BY {HASH})) AS {HASH} "
        f"FROM ({hashes}) GROUP BY {ROW}, {COL}) "
    )


def _texts(spec: TableSpec, columns: list[dict[str, str]], present: set[str]) -> tuple[list[str], str, str, list[str]]:
    """(key texts, key text, row text, json/array target columns) over the target, in the source's
    column order; the row text refers to D<i> for the i-th json/array column (see `_from`). A column a
    `transform` replaces is compared by presence (ReconcileRequest.presence asks the source the same)."""
    docs: list[str] = []
    by_presence = transforms.transformed_sources(spec, [c["name"] for c in columns])

    def text(col: dict[str, str]) -> str:
        name = spec.column(col["name"])
        if col["name"] in by_presence and name in present:
            return presence(f"{TARGET}.{quote_ident(name)}")
        if name in present and is_document(col["type"], col["name"]):
            docs.append(f"{TARGET}.{quote_ident(name)}")
            return canonical(name, col["type"], len(docs) - 1)
        return canonical(name if name in present else None, col["type"], as_type=_exact_type(spec, col))

    by_name = {c["name"]: c for c in columns}
    keys = [text(by_name[k]) for k in spec.primary_key]
    row = joined([text(c) for c in columns])
    return keys, joined(keys), row, docs


def _exact_type(spec: TableSpec, col: dict[str, str]) -> str | None:
    """A number column loaded as FLOAT by its `type_overrides`: its exact mapping (NUMBER(38,0),
    NUMBER(p,s)), to which its values are read back before they are compared, so their text is the
    number's and not a float's notation (an integer or numeric FLOAT override keeps values that fit it:
    sync_contract.type_overrides)."""
    override = spec.type_overrides.get(col["name"])
    if override is None:
        return None
    try:
        target = type_overrides.canonical(override)
        exact = map_type(col["type"], col["name"], unbounded_numeric_scale=spec.scale_for(col["name"]))
    except ContractError:
        return None
    return exact.snowflake_type if target == "FLOAT" and exact.kind in (Kind.INTEGER, Kind.NUMBER) else None


def _where(*conditions: str | None) -> str:
    present = [c for c in conditions if c]
    return f" WHERE {' AND '.join(present)}" if present else ""


def _from(spec: TableSpec, database: str, key: str, docs: list[str], where: str | None) -> tuple[str, str]:
    """(WITH clause, FROM clause) of a query over the live target rows that match `where`, the documents'
    hashes joined as D0, D1, ..."""
    table = spec.target(database)
    if not docs:
        return "", f"{table} AS {TARGET}{_where(where)}"
    joins = "".join(f" LEFT JOIN {DOCS} AS D{i} ON D{i}.{ROW} = {key} AND D{i}.{COL} = {i}" for i in range(len(docs)))
    return documents(table, key, docs, where or ""), f"{table} AS {TARGET}{joins}{_where(where)}"


def fingerprints(spec: TableSpec, database: str, columns: list[dict[str, str]], present: set[str], digits: int) -> Stmt:
    _, key, row, docs = _texts(spec, columns, present)
    with_clause, source = _from(spec, database, key, docs, live_rows_only(spec, TARGET))
    return Stmt(
        f"{with_clause}SELECT B, COUNT(*) AS N, MD5(LISTAGG(H, '') WITHIN GROUP (ORDER BY H)) AS HASH FROM "
        f"(SELECT SUBSTR(MD5({key}), 1, {int(digits)}) AS B, MD5({row}) AS H FROM {source}) AS r GROUP BY B"
    )


def bucket_rows(
    spec: TableSpec, database: str, columns: list[dict[str, str]], present: set[str], digits: int, buckets: list[str]
) -> Stmt:
    keys, key, row, docs = _texts(spec, columns, present)
    key_list = ", ".join(f"{k} AS {quote_ident(f'K{i}')}" for i, k in enumerate(keys))
    in_buckets = f"SUBSTR(MD5({key}), 1, {int(digits)}) IN ({', '.join('?' for _ in buckets)})"
    live = live_rows_only(spec, TARGET)
    where = f"{in_buckets} AND {live}" if live else in_buckets
    with_clause, source = _from(spec, database, key, docs, where)
    # the walk's anchors and the main query each hold the bucket list
    binds = tuple(buckets) * (len(docs) + 1)
    return Stmt(f"{with_clause}SELECT {key_list}, MD5({row}) AS H FROM {source}", binds)


def count_target(spec: TableSpec, database: str) -> Stmt:
    return Stmt(f"SELECT COUNT(*) AS N FROM {spec.target(database)}{_where(live_rows_only(spec))}")


def reconcile_table(
    session: Any, place: Place, database: str, spec: TableSpec, ask_source: AskSource, run_id: str
) -> dict[str, Any]:
    """Compare, record the report in RECONCILIATIONS and return it (status CLEAN, DIFFERENT or FAILED)."""
    started_at, started = ledger.now(), time.monotonic()
    report: dict[str, Any] = {"run_id": run_id, "source_schema": spec.source_schema, "source_table": spec.source_table}
    report["started_at"] = started_at
    report["watermark"] = watermarks.get_watermark(session, place, spec)
    try:
        report.update(_compare(session, place, database, spec, ask_source))
    except Exception as err:  # recorded; the caller sees the same report
        report.update(status="FAILED", error=f"{type(err).__name__}: {err}")
    report["finished_at"] = ledger.now()
    report["duration_s"] = round(time.monotonic() - started, 3)
    row = [
        (key.upper(), sql_type, json.dumps(report.get("details")) if key == "report" else report.get(key))
        for key, sql_type in REPORT_COLUMNS
    ]
    run(session, insert_row(place.control("RECONCILIATIONS"), row))
    return report


def _loaded_columns(session: Any, place: Place, spec: TableSpec) -> tuple[str, ...]:
    """The source columns the table replicates: those of its newest loaded export (a `columns` list
    in sync.toml leaves others out; a column not exported yet is not a difference)."""
    newest = ledger.newest_loaded(session, place, spec)
    if newest is None:
        raise LookupError(f"{spec.source} has no loaded export yet: run a sync first")
    return tuple(c.name for c in parse_manifest_json(newest[0]).columns)


def _compare(session: Any, place: Place, database: str, spec: TableSpec, ask_source: AskSource) -> dict[str, Any]:
    present = {r[0] for r in run(session, existing_columns(spec, database))}
    if not present:
        raise LookupError(f"target table {spec.target(database)} does not exist yet: run a sync first")
    wanted = _loaded_columns(session, place, spec)
    target_rows = int(run(session, count_target(spec, database))[0][0])
    digits = bucket_digits(target_rows)
    by_presence = transforms.transformed_sources(spec, wanted)
    request = ReconcileRequest(
        spec.source_schema, spec.source_table, spec.primary_key, digits, None, wanted, by_presence
    )
    answer = ask_source(request.to_event())
    if bucket_digits(int(answer["rows"])) > digits:  # the target is far smaller: size buckets by the source
        digits = bucket_digits(int(answer["rows"]))
        request = replace(request, digits=digits)
        answer = ask_source(request.to_event())
    columns = [{"name": str(c["name"]), "type": str(c["type"])} for c in answer["columns"]]
    unhashed_keys = [k for k in spec.primary_key if not is_key_hashable(_type_of(columns, k), k)]
    if unhashed_keys:
        raise ValueError(
            f"primary key columns {unhashed_keys} of {spec.source} are float, json or array columns, which "
            "bucketed reconciliation cannot use as keys: use aurora-sync reconcile --rows"
        )
    source: Fingerprints = {b: (int(v[0]), str(v[1])) for b, v in answer["buckets"].items()}
    target: Fingerprints = {
        r[0]: (int(r[1]), str(r[2])) for r in run(session, fingerprints(spec, database, columns, present, digits))
    }
    differing = differing_buckets(source, target)
    found, truncated, duplicates = Differences(), False, 0
    repeated: Counter[tuple[str, ...]] = Counter()  # source key values held by more than one row
    groups = batches(differing, source, target)
    for group in groups[:MAX_ROW_COMPARISONS]:
        rows_request = replace(request, buckets=tuple(group))
        source_rows = ask_source(rows_request.to_event())
        truncated = truncated or bool(source_rows.get("truncated"))
        src: RowHashes = {tuple(str(v) for v in key): str(h) for key, h in source_rows["rows"]}
        seen = Counter(tuple(str(v) for v in key) for key, _ in source_rows["rows"])
        repeated.update({k: n for k, n in seen.items() if n > 1})
        width = len(spec.primary_key)
        fetched = run(session, bucket_rows(spec, database, columns, present, digits, group))
        tgt: RowHashes = {tuple(str(v) for v in r[:width]): str(r[width]) for r in fetched}
        duplicates += len(fetched) - len(tgt)
        part = diff_rows(src, tgt)
        found.missing += part.missing
        found.extra += part.extra
        found.different += part.different
    hashed = [c["name"] for c in columns if is_hashed(c["type"], c["name"]) and c["name"] not in by_presence]
    details = {
        "bucket_digits": digits,
        "key_columns": list(spec.primary_key),
        "differing_buckets": differing[:MAX_KEYS_REPORTED],
        "missing_keys": [list(k) for k in found.missing[:MAX_KEYS_REPORTED]],
        "extra_keys": [list(k) for k in found.extra[:MAX_KEYS_REPORTED]],
        "different_keys": [list(k) for k in found.different[:MAX_KEYS_REPORTED]],
        "duplicate_target_keys": duplicates,
        "duplicate_source_keys": [[*k, n] for k, n in sorted(repeated.items())[:MAX_KEYS_REPORTED]],
        "explanation": _explain(spec, repeated, duplicates),
        "columns_hashed": hashed,
        "columns_compared_by_presence": [c["name"] for c in columns if c["name"] not in hashed],
        # a transform's result cannot be computed from the source (its expression is Snowflake SQL)
        "columns_transformed": list(by_presence),
        "columns_not_in_target": [c["name"] for c in columns if spec.column(c["name"]) not in present],
        # row comparisons stop after MAX_ROW_COMPARISONS groups, or a source answer cut at its size limit
        "row_comparison_truncated": truncated or len(groups) > MAX_ROW_COMPARISONS,
    }
    return {
        "status": "CLEAN" if not differing else "DIFFERENT",
        "source_rows": int(answer["rows"]),
        "target_rows": target_rows,
        "buckets": len(set(source) | set(target)),
        "differing_buckets": len(differing),
        "missing": len(found.missing),
        "extra": len(found.extra),
        "different": len(found.different),
        "details": details,
    }


def _explain(spec: TableSpec, repeated: Counter[tuple[str, ...]], target_duplicates: int) -> str | None:
    """Why the counts differ when no key is missing, extra or different: repeated keys."""
    why = []
    if repeated:
        surplus = sum(repeated.values()) - len(repeated)
        why.append(
            f"{len(repeated)} primary key values appear more than once in the source ({surplus} rows more than one "
            f"per key): the configured primary key ({', '.join(spec.primary_key)}) is not unique there, and the "
            "target keeps one row per key. Set primary_key to columns unique in the source and resync the table"
        )
    if target_duplicates:
        why.append(f"{target_duplicates} target rows share their primary key with another target row")
    return "; ".join(why) or None


def _type_of(columns: list[dict[str, str]], name: str) -> str:
    return next(c["type"] for c in columns if c["name"] == name)
