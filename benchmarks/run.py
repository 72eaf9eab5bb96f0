"""Export throughput of the `copy` strategy against `psql \\copy`, a full cycle end to end, and the
cost of a reconciliation by bucket fingerprints against reading both sides whole.

Everything runs on the embedded stack in one process tree, so the ratios compare like with like on
this machine; absolute figures move with the machine and its load. Results go to stdout and into
docs/BENCHMARKS.md between the bench markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import psycopg2

from aurora_sync.config import SyncConfig, parse_config
from aurora_sync.cycle import run_cycle
from aurora_sync.export_client import LambdaExporter
from aurora_sync.reconcile import reconcile
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.postgres import find_pg_bindir
from aurora_sync.stack.process import ManagedProcess, free_port, port_open
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION, EmbeddedStack
from lambda_exporter.event import ExportRequest, S3Target
from lambda_exporter.exporter import run_export
from lambda_exporter.query import copy_to_stdout, export_select
from lambda_exporter.source import connect, describe_table
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from stored_procs.statement import Stmt, run

DOC = Path(__file__).parents[1] / "docs" / "BENCHMARKS.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

TABLE_SQL = """
DROP TABLE IF EXISTS public.bench_rows;
CREATE TABLE public.bench_rows (
    id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(12,2) NOT NULL, label text NOT NULL,
    created_at timestamptz NOT NULL, ship_date date, paid boolean, score double precision, updated_at bigint NOT NULL
);
INSERT INTO public.bench_rows
SELECT g, g %% 100000, (g %% 1000000) / 100.0, md5(g::text), TIMESTAMPTZ '2026-01-01' + g * INTERVAL '1 second',
       DATE '2026-01-01' + g %% 365, g %% 2 = 0, g / 7.0, g
FROM generate_series(1, %(rows)s) AS g;
ANALYZE public.bench_rows;
"""


class CountingSink:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def _psql() -> str:
    bindir = find_pg_bindir()
    for candidate in ([str(bindir / "psql")] if bindir else []) + [shutil.which("psql") or ""]:
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("psql is needed for the baseline: install the PostgreSQL client")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=2_000_000, help="rows of the chunked-export table")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args()
    psql = _psql()
    stack = EmbeddedStack()
    with stack as ep:
        print(f"generating public.bench_rows: {args.rows} rows x 9 columns")
        with psycopg2.connect(ep.pg_dsn) as conn, conn.cursor() as cur:
            cur.execute(TABLE_SQL, {"rows": args.rows})
        s3 = boto3.client("s3", endpoint_url=ep.s3_endpoint, region_name=REGION)
        conn = connect(ep.pg_dsn)
        columns = describe_table(conn, "public", "bench_rows", ("id",), (), "updated_at")
        select = export_select("public", "bench_rows", columns, "updated_at", None, str(args.rows))
        with conn.cursor() as cur:
            select_sql = cur.mogrify(select.text, select.params).decode()
            sink = CountingSink()
            cur.copy_expert(copy_to_stdout(select_sql), sink)
        conn.rollback()
        csv_mb = sink.bytes / 1e6

        discard_port = free_port()
        discard = ManagedProcess(
            "discard-s3",
            [sys.executable, "-m", "benchmarks.discard_s3", "--port", str(discard_port)],
            ep.workdir / "logs" / "discard.log",
        )
        discard.start()
        discard.wait_ready(lambda: port_open(discard_port))
        null_s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{discard_port}", region_name=REGION)
        # updated_at is a bigint: the late-row guard cannot apply to a number, so the table turns it off
        request = ExportRequest(
            "public",
            "bench_rows",
            "incremental",
            S3Target(BUCKET, PREFIX, REGION),
            watermark_column="updated_at",
            late_row_guard=False,
        )
        copy_cmd = f"\\copy ({select_sql}) TO '/dev/null' WITH (FORMAT csv, HEADER false, FORCE_QUOTE *)"
        times: dict[str, list[float]] = {"psql": [], "discard": [], "moto": []}
        try:
            chunk_lines = _chunk_bench(ep.pg_dsn, null_s3, args)
            for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits all alike
                started = time.perf_counter()
                subprocess.run([psql, ep.pg_dsn, "-q", "-c", copy_cmd], check=True)
                times["psql"].append(time.perf_counter() - started)
                for name, client in (("discard", null_s3), ("moto", s3)):
                    started = time.perf_counter()
                    result = run_export(conn, client, request)
                    times[name].append(time.perf_counter() - started)
        finally:
            discard.stop()
        conn.close()
        psql_s, export_s, moto_s = (statistics.median(times[k]) for k in ("psql", "discard", "moto"))

        config = parse_config(
            tomllib.loads(
                stack.config_toml(
                    '[[tables]]\nsource = "public.bench_rows"\nprimary_key = ["id"]\nwatermark_column = "updated_at"\n'
                    "late_row_guard = false\n"
                )
            )
        )
        exporter = LambdaExporter(config.exporter.lambda_function or "", REGION, config.exporter.lambda_endpoint_url)
        with snowpark_session(config.snowflake_connect, config.database) as session:
            started = time.perf_counter()
            report = run_cycle(session, config, exporter)
            cycle_s = time.perf_counter() - started
            loaded = report.tables[0].load or {}
            if report.failed or loaded.get("rows_loaded") != args.rows:
                raise SystemExit(f"the end-to-end cycle did not load {args.rows} rows: {report.tables[0]}")
            reconcile_lines = _reconcile_bench(session, config, exporter, args.rows)

    ratio = psql_s / export_s
    lines = [
        f"rows: {args.rows}; CSV: {csv_mb:.0f} MB; gzip files: {result.files}, {result.bytes / 1e6:.1f} MB; "
        f"median of {args.repeat} interleaved runs",
        f"psql \\copy to /dev/null: {args.rows / psql_s:,.0f} rows/s, {csv_mb / psql_s:.0f} MB/s",
        f"copy export (gzip + S3 multipart to a discarding endpoint): {args.rows / export_s:,.0f} rows/s, "
        f"{csv_mb / export_s:.0f} MB/s",
        f"copy export vs psql \\copy: {ratio:.2f}x",
        f"copy export to moto S3 (the emulator's CPU on the same cores): {args.rows / moto_s:,.0f} rows/s, "
        f"{csv_mb / moto_s:.0f} MB/s, {psql_s / moto_s:.2f}x of psql \\copy",
        f"end-to-end cycle (Lambda endpoint, export, intake, COPY, MERGE on the emulator): "
        f"{args.rows / cycle_s:,.0f} rows/s ({cycle_s:.1f} s)",
    ]
    lines += chunk_lines + reconcile_lines
    print("\n".join(lines))
    if not args.no_write:
        _write(lines, args)


def _chunk_bench(dsn: str, s3: object, args: argparse.Namespace) -> list[str]:
    """One table of --chunk-rows rows exported in 1 chunk and in 2 chunks (2 worker connections)."""
    print(f"generating public.bench_chunks: {args.chunk_rows} rows")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(TABLE_SQL.replace("bench_rows", "bench_chunks"), {"rows": args.chunk_rows})
    request = ExportRequest(
        "public",
        "bench_chunks",
        "incremental",
        S3Target(BUCKET, PREFIX, REGION),
        watermark_column="updated_at",
        late_row_guard=False,
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
            assert result.rows == args.chunk_rows
    one, two = (statistics.median(times[c]) for c in (1, 2))
    return [
        f"chunked export of {args.chunk_rows} rows to the discarding endpoint: 1 chunk {args.chunk_rows / one:,.0f} "
        f"rows/s, 2 chunks in parallel {args.chunk_rows / two:,.0f} rows/s",
        f"2 chunks vs 1 chunk: {one / two:.2f}x",
    ]


def _reconcile_bench(session: object, config: SyncConfig, exporter: LambdaExporter, rows: int) -> list[str]:
    """RECONCILE_TABLE's comparison (bucket fingerprints through the Lambda endpoint) against reading both
    sides whole (`aurora-sync reconcile --rows`), on the table the cycle just loaded; then one target
    row changed, found through its bucket."""
    spec = config.tables[0]
    sizes: list[int] = []

    def ask(event: dict[str, Any]) -> dict[str, Any]:
        answer = exporter.reconcile(event)
        sizes.append(len(json.dumps(answer)))
        return answer

    started = time.perf_counter()
    clean = reconcile_table(session, config.place, config.database, spec, ask, new_run_id())
    bucket_s = time.perf_counter() - started
    started = time.perf_counter()
    (exact,) = reconcile(session, config.source_dsn, config.database, [spec])
    rows_s = time.perf_counter() - started
    if clean["status"] != "CLEAN" or not exact.clean:
        raise SystemExit(f"reconciliation of the loaded table is not clean: {clean} / {exact}")
    run(session, Stmt(f'UPDATE {spec.target(config.database)} SET "LABEL" = \'changed\' WHERE "ID" = 4242'))
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


def _write(lines: list[str], args: argparse.Namespace) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    block = "\n".join(
        [
            START,
            f"Measured {stamp} on {machine} with `make bench` "
            f"(`python -m benchmarks.run --rows {args.rows} --repeat {args.repeat}`):",
            "",
            "```",
            *lines,
            "```",
            END,
        ]
    )
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    DOC.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: block, text, flags=re.S))


if __name__ == "__main__":
    main()
