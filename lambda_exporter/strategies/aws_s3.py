"""The `aws_s3` strategy: Aurora's server-side `aws_s3.query_export_to_s3`.

Aurora writes uncompressed CSV and starts a new object only at about 6 GB, naming the parts `<key>`,
`<key>_part2`, `<key>_part3`, ... and reporting totals only (Aurora User Guide, "Function reference",
aws_s3.query_export_to_s3: rows_uploaded, files_uploaded, bytes_uploaded). Snowflake loads one file
per thread and recommends files of roughly 100-250 MB compressed ("Preparing your data files"). So a
chunk of a table (or materialized view, or a partition of a chunked partitioned table) is exported in
pieces of about `pieces.target_csv_bytes(max_file_bytes)` each: one call per block range, in the
export's one snapshot, each call writing its own `part-NNNNN.csv` whose rows and bytes the manifest
lists exactly. A relation without blocks (a view, a foreign table, a partitioned table read through
its parent) is exported in one call, as before; a piece Aurora still splits (over ~6 GB, from one
block range far denser than the one before) is listed part by part without per-file counts.
"""

from __future__ import annotations

import json

from lambda_exporter.chunking import HEAP_KINDS
from lambda_exporter.errors import ExportError
from lambda_exporter.query import Statement
from lambda_exporter.source import Connection, execute
from lambda_exporter.strategies.base import ExportedFiles, ExportTarget
from lambda_exporter.strategies.pieces import (
    first_piece_blocks,
    next_piece,
    next_piece_blocks,
    target_csv_bytes,
)
from sync_contract.identifiers import quote_qualified
from sync_contract.manifest import DataFile

EXPORT_SQL = (
    "SELECT rows_uploaded, files_uploaded, bytes_uploaded FROM aws_s3.query_export_to_s3("
    "%s, aws_commons.create_s3_uri(%s, %s, %s), %s)"
)
# arguments of PostgreSQL's COPY; the same CSV dialect as the `copy` strategy
EXPORT_OPTIONS = "format csv, header false, force_quote *"
# a chunk the planner expects under this share of one file is one call, unsplit: EXPLAIN's width is
# binary bytes, and CSV can be twice that (timestamps, quoted numbers)
SMALL_FRACTION = 0.5


def part_keys(base_key: str, files_uploaded: int) -> list[str]:
    """`my-key`, `my-key_part2`, `my-key_part3`, ... as Aurora names them."""
    return [base_key] + [f"{base_key}_part{n}" for n in range(2, files_uploaded + 1)]


def relation_shape(schema: str, table: str) -> Statement:
    """relkind, blocks on disk now (pg_relation_size / block_size) and block_size, of one relation."""
    return Statement(
        "SELECT c.relkind, pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
        "current_setting('block_size')::bigint FROM pg_catalog.pg_class c WHERE c.oid = %s::regclass",
        (quote_qualified(schema, table),),
    )


class AwsS3Strategy:
    name = "aws_s3"
    compression = "none"
    read_only = False  # AWS does not document aws_s3 in read-only transactions; the query itself only reads

    def export(self, conn: Connection, select_sql: str, target: ExportTarget) -> ExportedFiles:
        if not target.scans or target.render is None or _small(conn, select_sql, target):
            return _call(conn, select_sql, target, _file_key(target, 0))
        done: list[ExportedFiles] = []
        for schema, table, ctid_range in target.scans:
            done += _export_scan(conn, target, schema, table, ctid_range, len(done))
        files = [f for d in done for f in d.files]
        return ExportedFiles(files, sum(d.rows for d in done), sum(d.bytes for d in done))


def _small(conn: Connection, select_sql: str, target: ExportTarget) -> bool:
    """Whether the planner expects under SMALL_FRACTION of one file's CSV (EXPLAIN's rows x width,
    no rows read): then the chunk is one call with its query unchanged (an incremental window keeps
    its index scan on the watermark)."""
    plan = execute(conn, explain(select_sql))[0][0]
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    estimate = float(top["Plan Rows"]) * float(top["Plan Width"])
    return estimate < target_csv_bytes(target.max_file_bytes) * SMALL_FRACTION


def explain(select_sql: str) -> Statement:
    """The planner's estimate of a bound SELECT (PostgreSQL EXPLAIN, FORMAT JSON: "Plan Rows", "Plan
    Width" in bytes); nothing is executed."""
    return Statement.literal("EXPLAIN (FORMAT JSON) " + select_sql)


def _file_key(target: ExportTarget, call: int) -> str:
    return f"{target.data_prefix}part-{call:05d}.csv"


def _export_scan(
    conn: Connection,
    target: ExportTarget,
    schema: str,
    table: str,
    ctid_range: tuple[int, int | None] | None,
    calls_before: int,
) -> list[ExportedFiles]:
    """One scan of the chunk, piece by piece (lambda_exporter.strategies.pieces); its calls are
    numbered from `calls_before`."""
    assert target.render is not None
    kind, relation_blocks, block_size = execute(conn, relation_shape(schema, table))[0]
    if str(kind) not in HEAP_KINDS:  # no blocks to split by: the scan in one call
        return [_call(conn, target.render(schema, table, ctid_range), target, _file_key(target, calls_before))]
    goal = target_csv_bytes(target.max_file_bytes)
    first, scan_end = ctid_range if ctid_range is not None else (0, None)
    blocks = first_piece_blocks(goal, int(block_size))
    done: list[ExportedFiles] = []
    while True:
        piece = next_piece(first, blocks, scan_end, int(relation_blocks))
        key = _file_key(target, calls_before + len(done))
        done.append(_call(conn, target.render(schema, table, piece.ctid_range), target, key))
        if piece.end is None or piece.end == scan_end:
            return done
        blocks = next_piece_blocks(goal, piece.end - piece.first, done[-1].bytes)
        first = piece.end


def _call(conn: Connection, select_sql: str, target: ExportTarget, relative: str) -> ExportedFiles:
    """One query_export_to_s3 call writing `relative` (and `relative`_part2, ... past ~6 GB)."""
    with conn.cursor() as cur:
        cur.execute(
            EXPORT_SQL, (select_sql, target.s3.bucket, target.s3.key(relative), target.s3.region, EXPORT_OPTIONS)
        )
        row = cur.fetchone()
    if row is None:
        raise ExportError("aws_s3.query_export_to_s3 returned no result row")
    rows, files_uploaded, bytes_uploaded = (int(v) for v in row)
    if rows > 0 and files_uploaded < 1:
        raise ExportError(f"aws_s3.query_export_to_s3 reported {rows} rows but no files")
    if files_uploaded == 0:
        return ExportedFiles(files=[], rows=rows, bytes=bytes_uploaded)
    if files_uploaded == 1:
        return ExportedFiles([DataFile(key=relative, rows=rows, bytes=bytes_uploaded)], rows, bytes_uploaded)
    return ExportedFiles([DataFile(key=k) for k in part_keys(relative, files_uploaded)], rows, bytes_uploaded)
