"""`make bench` with `--extras`: the chunked-export and reconciliation figures (details only).

1. a chunked export of a --chunk-rows lineitem-shaped table to the discarding endpoint, in 1 chunk and
   in 2 chunks on 2 worker connections sharing one snapshot (interleaved, median of --repeat);
2. reconciliation of the table the end-to-end cycles loaded: RECONCILE_TABLE's comparison (bucket
   fingerprints, the source side through the Lambda endpoint) against reading both sides whole
   (`aurora-sync reconcile --rows`); then one target row changed, found through its bucket.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import psycopg2

from aurora_sync.config import parse_config
from aurora_sync.export_client import LambdaExporter
from aurora_sync.reconcile import reconcile
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.process import ManagedProcess, free_port, port_open
from aurora_sync.stack.stack import PREFIX, REGION, EmbeddedStack
from benchmarks import e2e
from lambda_exporter.event import ExportRequest, S3Target
from lambda_exporter.exporter import run_export
from lambda_exporter.source import connect
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from stored_procs.statement import Stmt, run

CHUNK_TABLE = "bench_chunks"


def run_all(stack: EmbeddedStack, args: argparse.Namespace, log: Callable[[str], None]) -> list[str]:
    ep = stack.endpoints
    assert ep is not None
    port = free_port()
    discard = ManagedProcess(
        "discard-s3-extras",
        [sys.executable, "-m", "benchmarks.discard_s3", "--port", str(port)],
        ep.workdir / "logs" / "discard-extras.log",
    )
    discard.start()
    try:
        discard.wait_ready(lambda: port_open(port))
        null_s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION)
        details = _chunks(ep.pg_dsn, null_s3, args, log)
    finally:
        discard.stop()
    return details + _reconcile(stack, args.rows, log)


def _chunks(dsn: str, s3: object, args: argparse.Namespace, log: Callable[[str], None]) -> list[str]:
    log(f"generating public.{CHUNK_TABLE}: {args.chunk_rows} rows")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(e2e.LINEITEM_SQL.replace("bench_lineitem", CHUNK_TABLE), {"rows": args.chunk_rows})
    request = ExportRequest(
        "public", CHUNK_TABLE, "incremental", S3Target("bench-copy", PREFIX, REGION), watermark_column=e2e.WATERMARK
    )
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeat):
        for chunks in (1, 2):
            conn = connect(dsn)
            started = time.perf_counter()
            result = run_export(
                conn, s3, replace(request, chunks=chunks, parallelism=2), connect_worker=lambda: connect(dsn)
            )
            times[chunks].append(time.perf_counter() - started)
            conn.close()
            if result.rows != args.chunk_rows:
                raise SystemExit(f"the chunked export wrote {result.rows} rows, not {args.chunk_rows}")
    one, two = (statistics.median(times[c]) for c in (1, 2))
    return [
        f"chunked export of {args.chunk_rows} rows to the discarding endpoint: 1 chunk {args.chunk_rows / one:,.0f} "
        f"rows/s, 2 chunks in parallel {args.chunk_rows / two:,.0f} rows/s",
        f"2 chunks vs 1 chunk: {one / two:.2f}x",
    ]


def _reconcile(stack: EmbeddedStack, rows: int, log: Callable[[str], None]) -> list[str]:
    config = parse_config(
        tomllib.loads(
            stack.config_toml(
                f'[[tables]]\nsource = "{e2e.TABLE}"\nprimary_key = {json.dumps(list(e2e.KEY))}\n'
                f'watermark_column = "{e2e.WATERMARK}"\n'
            )
        )
    )
    exporter = LambdaExporter(config.exporter.lambda_function or "", REGION, config.exporter.lambda_endpoint_url)
    spec = config.tables[0]
    sizes: list[int] = []

    def ask(event: dict[str, Any]) -> dict[str, Any]:
        answer = exporter.reconcile(event)
        sizes.append(len(json.dumps(answer)))
        return answer

    log("reconciling the loaded table")
    with snowpark_session(config.snowflake_connect, config.database) as session:
        started = time.perf_counter()
        clean = reconcile_table(session, config.place, config.database, spec, ask, new_run_id())
        bucket_s = time.perf_counter() - started
        started = time.perf_counter()
        (exact,) = reconcile(session, config.source_dsn, config.database, [spec])
        rows_s = time.perf_counter() - started
        if clean["status"] != "CLEAN" or not exact.clean:
            raise SystemExit(f"reconciliation of the loaded table is not clean: {clean} / {exact}")
        target = spec.target(config.database)
        run(
            session,
            Stmt(f'UPDATE {target} SET "L_COMMENT" = \'changed\' WHERE "L_ORDERKEY" = 4242 AND "L_LINENUMBER" = 1'),
        )
        sizes.clear()
        started = time.perf_counter()
        found = reconcile_table(session, config.place, config.database, spec, ask, new_run_id())
        found_s = time.perf_counter() - started
    if found["different"] != 1:
        raise SystemExit(f"the changed row was not found: {found}")
    return [
        f"reconcile {rows} rows by bucket fingerprints ({clean['buckets']} buckets): {bucket_s:.1f} s, "
        f"source answer {sum(sizes[:1]) / 1e3:.0f} kB",
        f"reconcile by reading both sides whole (--rows): {rows_s:.1f} s ({2 * rows} rows read)",
        f"bucket fingerprints vs whole rows: {rows_s / bucket_s:.1f}x faster",
        f"one changed row: {found['differing_buckets']} differing bucket, "
        f"{found['different']} row found in {found_s:.1f} s, source answers {sum(sizes) / 1e3:.0f} kB",
    ]
