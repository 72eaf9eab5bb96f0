"""The `fan-out export` benchmark line: one table's initial export through several Lambda invocations.

`fan_out_line(stack, log)` exports the table (default: benchmarks.e2e's lineitem-shaped table, already
in the source) once as a fan-out export (lambda_exporter.fan_out): `max_rows_per_invocation` is set to a
`parts`-th of its rows, so the exporter plans `parts` key ranges and the caller (aurora_sync.
fan_out_driver) invokes each part through the stack's Lambda Invoke endpoint, 4 at a time. Nothing is
loaded. The line is `fan-out export: N invocations, R rows/s`: N counts every invocation the export
took (the plan included), R is the rows exported over the wall time of the whole export (plan and
parts). Each run writes new export ids (the plan's time is part of them), so it can be repeated.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace

import psycopg2

from aurora_sync.config import parse_config
from aurora_sync.cycle import export_request
from aurora_sync.export_client import LambdaExporter
from aurora_sync.stack.stack import REGION, EmbeddedStack
from benchmarks import e2e, lines
from sync_contract.identifiers import quote_qualified

PARTS = 4


def fan_out_line(
    stack: EmbeddedStack,
    log: Callable[[str], None],
    table: str = e2e.TABLE,
    key: tuple[str, ...] = e2e.KEY,
    watermark: str = e2e.WATERMARK,
    parts: int = PARTS,
) -> str:
    """Fan out the initial export of `table` (schema.name) into about `parts` parts; returns the line.
    Raises SystemExit naming the table when the export fails or does not fan out."""
    ep = stack.endpoints
    assert ep is not None
    schema, name = table.split(".")
    with psycopg2.connect(ep.pg_dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {quote_qualified(schema, name)}")
        counted = cur.fetchone()
        rows = int(counted[0]) if counted else 0
    toml = stack.config_toml(
        f"[[tables]]\nsource = {json.dumps(table)}\nprimary_key = {json.dumps(list(key))}\n"
        f"watermark_column = {json.dumps(watermark)}\n"
    )
    config = parse_config(tomllib.loads(toml))
    exporter = LambdaExporter(config.exporter.lambda_function or "", REGION, config.exporter.lambda_endpoint_url)
    request = replace(
        export_request(config, config.tables[0], None), max_rows_per_invocation=max(1, math.ceil(rows / parts))
    )
    started = time.perf_counter()
    answer = exporter.export(request)  # the plan, then one invocation per part (aurora_sync.fan_out_driver)
    elapsed = time.perf_counter() - started
    if answer.get("status") != "exported" or "invocations" not in answer:
        raise SystemExit(f"the fan-out export of {table} ({rows} rows) did not fan out: {answer}")
    log(
        f"fan-out export of {table}: {rows} rows, {answer['chunks']} parts, {answer['invocations']} invocations, "
        f"{elapsed:.2f} s ({answer['bytes']} bytes in {answer['files']} files)"
    )
    return lines.fan_out(int(answer["invocations"]), int(answer["rows"]) / elapsed)
