"""End to end against dlt, and the statements of a cycle, on one lineitem-shaped table.

The table is TPC-H's lineitem (16 columns: bigint keys, integer line number, numeric(15,2) amounts,
char(1) flags, dates, char(25)/char(10), varchar(44)) plus `updated_at timestamptz`, the watermark
both tools follow, indexed as an incremental table's watermark should be (without the index each
changed cycle of ours scans the table twice: the window's max(updated_at), then the COPY; dlt's
incremental SELECT once); the primary key is TPC-H's (l_orderkey, l_linenumber). Three steps, each run by
both tools on the same table state, interleaved in one run (the first to run alternates per step):

1. initial: the whole table;
2. 1% change: the rows of every 100th order (1% of rows) updated with a newer `updated_at`;
3. no change.

Our side is one `run_cycle` on the embedded stack (Lambda Invoke endpoint, export to S3, intake,
COPY into staging, MERGE), in this process with the Snowpark session already open; dlt's is one
`pipeline.run` of benchmarks/dlt_peer.py in `.venv-dlt`, its process start and imports excluded.
Ratio = dlt's time / ours (>= 1.0: we are at least as fast). Statements are counted at the connector
(benchmarks.statements) during our cycles, and timed, for the per-stage breakdown.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg2

from aurora_sync.config import SyncConfig, parse_config
from aurora_sync.cycle import run_cycle
from aurora_sync.export_client import LambdaExporter
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import REGION, EmbeddedStack
from benchmarks.statements import counted_statements

TABLE = "public.bench_lineitem"
KEY = ("l_orderkey", "l_linenumber")
WATERMARK = "updated_at"
STEPS = ("initial", "1% change", "no change")
DLT_PYTHON = Path(__file__).parents[1] / ".venv-dlt" / "bin" / "python"

LINEITEM_SQL = """
DROP TABLE IF EXISTS public.bench_lineitem;
CREATE TABLE public.bench_lineitem (
    l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL, l_linenumber integer NOT NULL,
    l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
    l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (l_orderkey, l_linenumber)
);
INSERT INTO public.bench_lineitem
SELECT (g + 3) / 4, g %% 200000 + 1, g %% 10000 + 1, (g - 1) %% 4 + 1,
       g %% 50 + 1, ((g %% 50 + 1) * (900 + g %% 200001 / 10.0))::numeric(15,2), (g %% 11) / 100.0, (g %% 9) / 100.0,
       (ARRAY['A','N','R'])[g %% 3 + 1], (ARRAY['O','F'])[g %% 2 + 1],
       DATE '1992-01-02' + g %% 2500, DATE '1992-01-31' + g %% 2500, DATE '1992-01-03' + g %% 2530,
       (ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[g %% 4 + 1],
       (ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB'])[g %% 7 + 1],
       left(md5(g::text) || ' carefully final deposits', 10 + g %% 34),
       TIMESTAMPTZ '2026-01-01' + g * INTERVAL '1 millisecond'
FROM generate_series(1, %(rows)s) AS g;
CREATE INDEX ON public.bench_lineitem (updated_at);
ANALYZE public.bench_lineitem;
"""
# every 100th order: its 4 lines, 1% of the rows, with a watermark above every loaded one
CHANGE_SQL = (
    "UPDATE public.bench_lineitem SET l_comment = left('changed ' || l_comment, 44), updated_at = clock_timestamp() "
    "WHERE l_orderkey % 100 = 0"
)


@dataclass
class Step:
    name: str
    ours_s: float = 0.0
    dlt_s: float = 0.0
    rows: int = 0
    statements: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # our stage -> seconds
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (seconds, statement) of our cycle
    exporter_s: float = 0.0  # the exporter's own duration_s (inside the Lambda endpoint)


def create_table(dsn: str, rows: int) -> None:
    """The table, then VACUUM (FREEZE, ANALYZE): every page all-visible with its hint bits set, so
    neither the first reader's hint-bit writes nor an autovacuum of the fresh rows runs during a
    measurement (both slowed the first copy-export run of 6,000,000 rows by ~40 %)."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(LINEITEM_SQL, {"rows": rows})
    conn.close()
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True  # VACUUM cannot run in a transaction block
        with conn.cursor() as cur:
            cur.execute("VACUUM (FREEZE, ANALYZE) public.bench_lineitem")
    finally:
        conn.close()


def lineitem_config(stack: EmbeddedStack) -> SyncConfig:
    """The stack's sync.toml with the one table: lineitem, its key, `updated_at` the watermark, defaults."""
    return parse_config(
        tomllib.loads(
            stack.config_toml(
                f'[[tables]]\nsource = "{TABLE}"\nprimary_key = {json.dumps(list(KEY))}\n'
                f'watermark_column = "{WATERMARK}"\n'
            )
        )
    )


def run(
    stack: EmbeddedStack,
    rows: int,
    workdir: Path,
    log: Callable[[str], None],
    fresh: bool = True,
    session: Any = None,
) -> list[Step]:
    """The three steps on `public.bench_lineitem` of `rows` rows (created here when `fresh`, else as
    create_table left it), on `session` (else a Snowpark session of its own); each Step carries both
    times."""
    ep = stack.endpoints
    assert ep is not None
    if fresh:
        log(f"generating {TABLE}: {rows} rows x 17 columns")
        create_table(ep.pg_dsn, rows)
    config = lineitem_config(stack)
    exporter = LambdaExporter(config.exporter.lambda_function or "", REGION, config.exporter.lambda_endpoint_url)
    steps = [Step(name) for name in STEPS]
    with ExitStack() as scope:
        if session is None:
            session = scope.enter_context(snowpark_session(config.snowflake_connect, config.database))
        for index, step in enumerate(steps):
            if step.name == "1% change":
                with psycopg2.connect(ep.pg_dsn) as conn, conn.cursor() as cur:
                    cur.execute(CHANGE_SQL)
                    step.rows = cur.rowcount
            else:
                step.rows = rows if step.name == "initial" else 0
            sides = [_ours, _dlt] if index % 2 == 0 else [_dlt, _ours]
            for side in sides:
                side(step, session, config, exporter, ep.pg_dsn, workdir, log)
            log(f"{step.name}: ours {step.ours_s:.2f} s, dlt {step.dlt_s:.2f} s, {len(step.statements)} statements")
    return steps


def _ours(step: Step, session: Any, config: Any, exporter: Any, dsn: str, workdir: Path, log: Any) -> None:
    marks: list[tuple[str, float]] = []
    timings: list[float] = []

    def progress(text: str) -> None:
        marks.append((text, time.perf_counter()))

    with counted_statements(timings) as statements:
        started = time.perf_counter()
        report = run_cycle(session, config, exporter, progress)
        step.ours_s = time.perf_counter() - started
    table = report.tables[0]
    load = table.load or {}
    expected = "NO_CHANGE" if step.name == "no change" else "SUCCEEDED"
    if report.failed or load.get("status") != expected or (step.rows and load.get("rows_loaded") != step.rows):
        raise SystemExit(f"our {step.name} cycle did not load {step.rows} rows: {table}")
    step.statements = list(statements)
    marks.append(("finalize", time.perf_counter()))
    stages: dict[str, float] = defaultdict(float)
    stages["start"] = marks[0][1] - started if marks else 0.0
    for (text, at), (_, until) in pairwise(marks):
        stages[_stage(text)] += until - at
    step.stages = dict(stages)
    step.slowest = sorted(zip(timings, statements, strict=True), reverse=True)[:4]
    step.exporter_s = float((table.export or {}).get("duration_s") or 0.0)


def _stage(progress_text: str) -> str:
    for prefix, name in (("preparing", "prepare"), ("exporting", "export"), ("intake", "intake"), ("loading", "load")):
        if progress_text.startswith(prefix):
            return name
    return progress_text


def _dlt(step: Step, session: Any, config: Any, exporter: Any, dsn: str, workdir: Path, log: Any) -> None:
    if not DLT_PYTHON.exists():
        raise SystemExit(f"{DLT_PYTHON} is missing: `make bench` creates it (the .venv-dlt target)")
    command = [
        str(DLT_PYTHON),
        str(Path(__file__).with_name("dlt_peer.py")),
        "--dsn",
        dsn,
        "--table",
        TABLE,
        "--primary-key",
        ",".join(KEY),
        "--watermark",
        WATERMARK,
        "--duckdb",
        str(workdir / "dlt_peer.duckdb"),
        "--state",
        str(workdir / "dlt_state"),
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"dlt's {step.name} run failed (exit {done.returncode})")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if step.rows and answer["rows"] != step.rows:
        raise SystemExit(f"dlt's {step.name} run extracted {answer['rows']} rows, not {step.rows}")
    step.dlt_s = float(answer["seconds"])


def summary_line(steps: list[Step]) -> str:
    """The benchmark line: dlt's time / ours per step."""
    by_name = {s.name: s for s in steps}
    ratios = ", ".join(f"{name} {by_name[name].dlt_s / by_name[name].ours_s:.2f}x" for name in STEPS)
    return f"end-to-end vs dlt: {ratios}"


def detail_lines(steps: list[Step], rows: int) -> list[str]:
    """Times of both sides and where our time went, per step."""
    lines = [f"end to end, {TABLE} ({rows} rows, lineitem + updated_at), dlt 1.31.0 pyarrow merge into DuckDB:"]
    for step in steps:
        stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in step.stages.items() if seconds >= 0.005)
        lines.append(
            f"  {step.name} ({step.rows} rows): ours {step.ours_s:.2f} s, dlt {step.dlt_s:.2f} s; "
            f"ours by stage (s): {stages}; exporter's own {step.exporter_s:.2f} s; {len(step.statements)} statements"
        )
        slow = "; ".join(f"{seconds:.2f} s {text[:110]}" for seconds, text in step.slowest)
        lines.append(f"    slowest statements: {slow}")
    return lines
