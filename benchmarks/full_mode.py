"""The benchmark line `full-mode no-change cycle: N source rows read` (issue 14).

N is what PostgreSQL counts as read from the table during one cycle with no change: the delta of its
pg_stat_all_tables `seq_tup_read + idx_tup_fetch` ("The Cumulative Statistics System",
https://www.postgresql.org/docs/current/monitoring-stats.html: live rows fetched by sequential scans,
and by simple index scans). A fingerprint reads every row; the exporter's change check
(lambda_exporter.change_check) reads none while the table's counters have not moved.

A process's counts reach that view when it goes idle (at most once a second) or exits; the exporter
closes its connection after each invocation, so `rows_read` waits until no exporter session is left,
then reads the counters fresh.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from typing import Any

import psycopg2

FULL_TABLE = "public.bench_full_mode"
FULL_ROWS = 200_000
EXPORTER_APPLICATION = "aurora-sync-exporter"  # lambda_exporter.source.connect's application_name


def rows_read(dsn: str, schema: str, table: str, timeout_s: float = 15.0) -> int:
    """Rows read from schema.table so far (seq_tup_read + idx_tup_fetch), once no exporter session is
    open (their counts are flushed when they exit). Raises TimeoutError if one stays open `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (EXPORTER_APPLICATION,)
                )
                (open_sessions,) = cur.fetchone() or (0,)
                if open_sessions == 0:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"an exporter session stayed open {timeout_s} s")
                time.sleep(0.1)
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_all_tables "
                "WHERE schemaname = %s AND relname = %s",
                (schema, table),
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


def flush_counts(cur: Any) -> None:
    """Make this session's pending counts visible now (pg_stat_force_next_flush, PostgreSQL 15+: the
    flush happens as the session goes idle after the statement, before its result returns)."""
    cur.execute("SELECT pg_stat_force_next_flush()")


def no_change_rows_read(dsn: str, schema: str, table: str, cycle: Callable[[], Any]) -> int:
    """Rows read from schema.table by `cycle()`, a cycle the caller knows changes nothing."""
    before = rows_read(dsn, schema, table)
    cycle()
    return rows_read(dsn, schema, table) - before


def line(rows: int) -> str:
    return f"full-mode no-change cycle: {rows} source rows read"


def full_mode_line(stack: Any, log: Callable[[str], None]) -> str:
    """A full-mode table of FULL_ROWS rows on the embedded stack, loaded by one cycle; then the rows a
    cycle with no change reads from it."""
    from aurora_sync.config import parse_config
    from aurora_sync.cycle import run_cycle
    from aurora_sync.export_client import LambdaExporter
    from aurora_sync.snowflake import snowpark_session
    from aurora_sync.stack.stack import REGION

    ep = stack.endpoints
    schema, table = FULL_TABLE.split(".")
    conn = psycopg2.connect(ep.pg_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {FULL_TABLE}")
        cur.execute(f"CREATE TABLE {FULL_TABLE} (id bigint PRIMARY KEY, qty integer, note text)")
        cur.execute(
            f"INSERT INTO {FULL_TABLE} SELECT g, g %% 50, md5(g::text) FROM generate_series(1, %s) g", (FULL_ROWS,)
        )
        flush_counts(cur)
    conn.close()
    toml = f'[[tables]]\nsource = "{FULL_TABLE}"\nprimary_key = ["id"]\nmode = "full"\n'
    config = parse_config(tomllib.loads(stack.config_toml(toml)))
    exporter = LambdaExporter(config.exporter.lambda_function or "", REGION, config.exporter.lambda_endpoint_url)
    with snowpark_session(config.snowflake_connect, config.database) as session:

        def cycle() -> None:
            report = run_cycle(session, config, exporter)
            if report.failed:
                raise SystemExit(f"the full-mode cycle failed: {report.tables[0]}")

        first = no_change_rows_read(ep.pg_dsn, schema, table, cycle)  # the first cycle: a fingerprint and an export
        read = no_change_rows_read(ep.pg_dsn, schema, table, cycle)
    log(f"full mode, {FULL_TABLE} ({FULL_ROWS} rows): first cycle read {first} source rows, no-change cycle {read}")
    return line(read)
