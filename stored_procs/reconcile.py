"""RECONCILE_TABLE: compare one table's target with its source by bucket fingerprints, then key by key
in the buckets that differ (sync_contract.reconcile). The source side is asked of the exporter; the
report goes into STATE.RECONCILIATIONS and back to the caller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stored_procs import ledger
from stored_procs.spec import Place, TableSpec
from stored_procs.sql import existing_columns, insert_row, live_rows_only
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, target_name
from sync_contract.manifest import parse_manifest_json
from sync_contract.reconcile import (
    HASHED_KINDS,
    MAX_KEYS_REPORTED,
    NUMERIC_KINDS,
    Differences,
    Fingerprints,
    ReconcileRequest,
    RowHashes,
    batches,
    bucket_digits,
    diff_rows,
    differing_buckets,
    joined,
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


def canonical(name: str | None, pg_type: str) -> str:
    """Snowflake SQL for a target value's canonical text (lambda_exporter.reconcile computes the same
    text from the source value). `name` None: the target has no such column yet."""
    if name is None:
        return "CAST(NULL AS VARCHAR)"
    c = quote_ident(name)
    kind = map_type(pg_type, name).kind
    if kind not in HASHED_KINDS:
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
    if kind == Kind.BINARY:
        return f"LOWER(HEX_ENCODE({c}))"
    return c  # VARCHAR as loaded


def _texts(spec: TableSpec, columns: list[dict[str, str]], present: set[str]) -> tuple[list[str], str, str]:
    """(key texts, key text, row text) over the target, in the source's column order."""

    def text(col: dict[str, str]) -> str:
        name = target_name(col["name"])
        return canonical(name if name in present else None, col["type"])

    by_name = {c["name"]: c for c in columns}
    keys = [text(by_name[k]) for k in spec.primary_key]
    return keys, joined(keys), joined([text(c) for c in columns])


def _where(*conditions: str | None) -> str:
    present = [c for c in conditions if c]
    return f" WHERE {' AND '.join(present)}" if present else ""


def fingerprints(spec: TableSpec, database: str, columns: list[dict[str, str]], present: set[str], digits: int) -> Stmt:
    _, key, row = _texts(spec, columns, present)
    return Stmt(
        "SELECT B, COUNT(*) AS N, MD5(LISTAGG(H, '') WITHIN GROUP (ORDER BY H)) AS HASH FROM "
        f"(SELECT SUBSTR(MD5({key}), 1, {int(digits)}) AS B, MD5({row}) AS H FROM {spec.target(database)}"
        f"{_where(live_rows_only(spec))}) AS r GROUP BY B"
    )


def bucket_rows(
    spec: TableSpec, database: str, columns: list[dict[str, str]], present: set[str], digits: int, buckets: list[str]
) -> Stmt:
    keys, key, row = _texts(spec, columns, present)
    key_list = ", ".join(f"{k} AS {quote_ident(f'K{i}')}" for i, k in enumerate(keys))
    in_buckets = f"SUBSTR(MD5({key}), 1, {int(digits)}) IN ({', '.join('?' for _ in buckets)})"
    return Stmt(
        f"SELECT {key_list}, MD5({row}) AS H FROM {spec.target(database)}{_where(in_buckets, live_rows_only(spec))}",
        tuple(buckets),
    )


def count_target(spec: TableSpec, database: str) -> Stmt:
    return Stmt(f"SELECT COUNT(*) AS N FROM {spec.target(database)}{_where(live_rows_only(spec))}")


def reconcile_table(
    session: Any, place: Place, database: str, spec: TableSpec, ask_source: AskSource, run_id: str
) -> dict[str, Any]:
    """Compare, record the report in RECONCILIATIONS and return it (status CLEAN, DIFFERENT or FAILED)."""
    started_at, started = ledger.now(), time.monotonic()
    report: dict[str, Any] = {"run_id": run_id, "source_schema": spec.source_schema, "source_table": spec.source_table}
    report["started_at"] = started_at
    report["watermark"] = ledger.get_watermark(session, place, spec)
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
    request = ReconcileRequest(spec.source_schema, spec.source_table, spec.primary_key, digits, None, wanted)
    answer = ask_source(request.to_event())
    if bucket_digits(int(answer["rows"])) > digits:  # the target is far smaller: size buckets by the source
        digits = bucket_digits(int(answer["rows"]))
        request = replace(request, digits=digits)
        answer = ask_source(request.to_event())
    columns = [{"name": str(c["name"]), "type": str(c["type"])} for c in answer["columns"]]
    unhashed_keys = [k for k in spec.primary_key if map_type(_type_of(columns, k), k).kind not in HASHED_KINDS]
    if unhashed_keys:
        raise ValueError(
            f"primary key columns {unhashed_keys} of {spec.source} have a type whose text differs between "
            "PostgreSQL and Snowflake (float, json, array, time): use aurora-sync reconcile --rows"
        )
    source: Fingerprints = {b: (int(v[0]), str(v[1])) for b, v in answer["buckets"].items()}
    target: Fingerprints = {
        r[0]: (int(r[1]), str(r[2])) for r in run(session, fingerprints(spec, database, columns, present, digits))
    }
    differing = differing_buckets(source, target)
    found, truncated, duplicates = Differences(), False, 0
    groups = batches(differing, source, target)
    for group in groups[:MAX_ROW_COMPARISONS]:
        rows_request = replace(request, buckets=tuple(group))
        source_rows = ask_source(rows_request.to_event())
        truncated = truncated or bool(source_rows.get("truncated"))
        src: RowHashes = {tuple(str(v) for v in key): str(h) for key, h in source_rows["rows"]}
        width = len(spec.primary_key)
        fetched = run(session, bucket_rows(spec, database, columns, present, digits, group))
        tgt: RowHashes = {tuple(str(v) for v in r[:width]): str(r[width]) for r in fetched}
        duplicates += len(fetched) - len(tgt)
        part = diff_rows(src, tgt)
        found.missing += part.missing
        found.extra += part.extra
        found.different += part.different
    hashed = [c["name"] for c in columns if map_type(c["type"], c["name"]).kind in HASHED_KINDS]
    details = {
        "bucket_digits": digits,
        "key_columns": list(spec.primary_key),
        "differing_buckets": differing[:MAX_KEYS_REPORTED],
        "missing_keys": [list(k) for k in found.missing[:MAX_KEYS_REPORTED]],
        "extra_keys": [list(k) for k in found.extra[:MAX_KEYS_REPORTED]],
        "different_keys": [list(k) for k in found.different[:MAX_KEYS_REPORTED]],
        "duplicate_target_keys": duplicates,
        "columns_hashed": hashed,
        "columns_compared_by_presence": [c["name"] for c in columns if c["name"] not in hashed],
        "columns_not_in_target": [c["name"] for c in columns if target_name(c["name"]) not in present],
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


def _type_of(columns: list[dict[str, str]], name: str) -> str:
    return next(c["type"] for c in columns if c["name"] == name)
