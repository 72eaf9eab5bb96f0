"""The benchmark lines other modules own (benchmarks.full_mode, benchmarks.fan_out), and a fallback
measurement of the full-mode line for when benchmarks.full_mode fails (said on stderr).

A peer module offers a public function whose name contains `line`; it is called with the arguments
its signature names, from: stack (the running EmbeddedStack), endpoints / ep, dsn / pg_dsn, workdir,
log / progress (a str -> None callable to stderr). Its answer must match that line's pattern
(benchmarks.lines); otherwise this module says why on stderr and returns None.
"""

from __future__ import annotations

import importlib
import inspect
import time
import tomllib
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import psycopg2

from aurora_sync.config import parse_config
from aurora_sync.cycle import run_cycle
from aurora_sync.export_client import LambdaExporter
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import REGION, EmbeddedStack
from benchmarks import e2e, lines

FULL_TABLE = "public.bench_full"
FULL_ROWS = 200_000


def line(module_name: str, index: int, stack: EmbeddedStack, log: Callable[[str], None]) -> str | None:
    """benchmarks.<module_name>'s line `index` (0-based, benchmarks.lines.PATTERNS), or None."""
    try:
        module = importlib.import_module(f"benchmarks.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"benchmarks.{module_name}":
            raise
        log(f"benchmarks.{module_name} is not there")
        return None
    ep = stack.endpoints
    assert ep is not None
    offered: dict[str, Any] = {
        "stack": stack,
        "endpoints": ep,
        "ep": ep,
        "dsn": ep.pg_dsn,
        "pg_dsn": ep.pg_dsn,
        "workdir": ep.workdir,
        "log": log,
        "progress": log,
    }
    candidates = [
        fn
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if "line" in name and not name.startswith("_") and fn.__module__ == module.__name__
    ]
    for fn in candidates:
        params = inspect.signature(fn).parameters.values()
        required = [p.name for p in params if p.default is inspect.Parameter.empty]
        if any(name not in offered for name in required):
            continue
        answer = fn(**{p.name: offered[p.name] for p in params if p.name in offered})
        text = answer if isinstance(answer, str) else ""
        if lines.matches(index, text.strip()):
            return text.strip()
        log(f"benchmarks.{module_name}.{fn.__name__} answered {answer!r}, not {lines.PATTERNS[index]!r}")
    log(f"benchmarks.{module_name} has no usable *line* function")
    return None


def own_full_mode(stack: EmbeddedStack, log: Callable[[str], None], session: Any = None) -> str:
    """The fallback when benchmarks.full_mode fails: a full-mode table of FULL_ROWS lineitem-shaped
    rows, loaded by one cycle; then the rows the source reads (pg_stat_user_tables: seq_tup_read +
    idx_tup_fetch of that table) during one cycle with no change. On `session` when given (else a
    Snowpark session of its own)."""
    ep = stack.endpoints
    assert ep is not None
    with psycopg2.connect(ep.pg_dsn) as conn, conn.cursor() as cur:
        cur.execute(e2e.LINEITEM_SQL.replace("bench_lineitem", "bench_full"), {"rows": FULL_ROWS})
    config = parse_config(
        tomllib.loads(
            stack.config_toml(
                f'[[tables]]\nsource = "{FULL_TABLE}"\nprimary_key = ["l_orderkey", "l_linenumber"]\nmode = "full"\n'
            )
        )
    )
    exporter = LambdaExporter(config.exporter.lambda_function or "", REGION, config.exporter.lambda_endpoint_url)
    with ExitStack() as scope:
        if session is None:
            session = scope.enter_context(snowpark_session(config.snowflake_connect, config.database))
        first = run_cycle(session, config, exporter)
        if first.failed:
            raise SystemExit(f"the full-mode table's first cycle failed: {first.tables[0]}")
        before = _rows_read(ep.pg_dsn)
        report = run_cycle(session, config, exporter)
        if report.failed:
            raise SystemExit(f"the full-mode no-change cycle failed: {report.tables[0]}")
    read = _rows_read(ep.pg_dsn) - before
    log(f"full mode, {FULL_TABLE} ({FULL_ROWS} rows): the no-change cycle read {read} source rows")
    return lines.full_mode_rows(read)


def _rows_read(dsn: str) -> int:
    """Rows read from FULL_TABLE so far. A backend's counters reach pg_stat_user_tables when it exits
    (the exporter closes its connection after each invocation) or at most ~1 s later when idle
    (PostgreSQL 15+ cumulative statistics): wait until two reads agree."""
    schema, table = FULL_TABLE.split(".")
    last = -1
    for _ in range(20):
        time.sleep(0.6)
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables "
                "WHERE schemaname = %s AND relname = %s",
                (schema, table),
            )
            (now,) = cur.fetchone() or (0,)
        conn.close()
        if now == last:
            return int(now)
        last = now
    return int(last)
