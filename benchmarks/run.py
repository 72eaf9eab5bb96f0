"""`make bench`: the six benchmark lines of issue 14 on stdout, everything else on stderr.

    no-change cycle: N statements                       (benchmarks.e2e, counted at the connector)
    1% change cycle: N statements
    full-mode no-change cycle: N source rows read       (benchmarks.full_mode)
    fan-out export: N invocations, R rows/s             (benchmarks.fan_out)
    copy export vs psql \\copy: X.XXx                    (one stream to a discarding S3 endpoint)
    end-to-end vs dlt: initial X.XXx, 1% change X.XXx, no change X.XXx   (benchmarks.e2e)

Everything runs on the embedded stack on one lineitem-shaped table (benchmarks.e2e), so the ratios
compare like with like on this machine; absolute figures move with the machine and its load. The six
lines and the detail lines go into docs/BENCHMARKS.md between the bench markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import boto3

from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.postgres import find_pg_bindir
from aurora_sync.stack.process import ManagedProcess, free_port, port_open
from aurora_sync.stack.stack import PREFIX, REGION, EmbeddedStack
from benchmarks import e2e, extras, lines, peers
from lambda_exporter.event import ExportRequest, S3Target
from lambda_exporter.exporter import run_export
from lambda_exporter.query import copy_to_stdout, export_select
from lambda_exporter.source import connect, describe_table

DOC = Path(__file__).parents[1] / "docs" / "BENCHMARKS.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
COPY_BUCKET = "bench-copy"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6_000_000, help="rows of the lineitem-shaped table")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs of the copy-export comparison")
    parser.add_argument("--extras", action="store_true", help="also the chunked-export and reconciliation figures")
    parser.add_argument("--chunk-rows", type=int, default=2_000_000, help="rows of the chunked-export table (--extras)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args()
    psql = _psql()
    stack = EmbeddedStack()
    with stack as ep, ExitStack() as scope:
        log(f"generating {e2e.TABLE}: {args.rows} rows x 17 columns")
        e2e.create_table(ep.pg_dsn, args.rows)
        psql_s, export_s, details = _copy_bench(ep.pg_dsn, ep.s3_endpoint, ep.workdir, psql, args)
        # one Snowpark session for this process's cycles, as a long-running runner has
        config = e2e.lineitem_config(stack)
        session = scope.enter_context(snowpark_session(config.snowflake_connect, config.database))
        steps = e2e.run(stack, args.rows, ep.workdir, log, fresh=False, session=session)
        details += e2e.detail_lines(steps, args.rows)
        initial = steps[0]
        own_fan_out = lines.fan_out(1, initial.rows / initial.exporter_s if initial.exporter_s else 0.0)
        details.append(f"one invocation, the initial step's export: {own_fan_out.split(': ', 1)[1]}")
        full_line = _peer("full_mode", 2, stack)
        if full_line is None:
            log("full-mode line: benchmarks.full_mode gave none (above); benchmarks.peers measures it instead")
            full_line = peers.own_full_mode(stack, log, session)
            details.append(f"full-mode line measured by benchmarks.peers (benchmarks.full_mode failed): {full_line}")
        fan_line = _peer("fan_out", 3, stack)
        if args.extras:
            details += extras.run_all(stack, args, log)
    if fan_line is None:
        log("\n".join(details))
        raise SystemExit("benchmarks.fan_out gave no line (above): no benchmark lines")
    by_name = {s.name: s for s in steps}
    six = lines.check(
        [
            lines.no_change_statements(len(by_name["no change"].statements)),
            lines.change_statements(len(by_name["1% change"].statements)),
            full_line,
            fan_line,
            lines.copy_ratio(psql_s, export_s),
            lines.end_to_end(*(by_name[n].dlt_s / by_name[n].ours_s for n in e2e.STEPS)),
        ]
    )
    print("\n".join(six), flush=True)
    log("\n".join(details))
    if not args.no_write:
        _write(six, details, args)


def _peer(module_name: str, index: int, stack: EmbeddedStack) -> str | None:
    """A peer module's line, or None after its failure is shown on stderr (the other figures go on)."""
    try:
        return peers.line(module_name, index, stack, log)
    except (Exception, SystemExit):
        log(f"benchmarks.{module_name} failed:\n{traceback.format_exc()}")
        return None


def _copy_bench(
    dsn: str, s3_endpoint: str, workdir: Path, psql: str, args: argparse.Namespace
) -> tuple[float, float, list[str]]:
    """`psql \\copy (SELECT …) TO '/dev/null'` of the very SELECT the exporter runs, against the `copy`
    strategy to a discarding S3 endpoint and to moto, interleaved; medians of --repeat runs."""
    schema, table = e2e.TABLE.split(".")
    conn = connect(dsn)
    columns = describe_table(conn, schema, table, e2e.KEY, (), e2e.WATERMARK)
    select = export_select(schema, table, columns, e2e.WATERMARK, None, "infinity")
    with conn.cursor() as cur:
        select_sql = cur.mogrify(select.text, select.params).decode()
        sink = CountingSink()
        cur.copy_expert(copy_to_stdout(select_sql), sink)
    conn.rollback()
    csv_mb = sink.bytes / 1e6
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    discard_port = free_port()
    discard = ManagedProcess(
        "discard-s3",
        [sys.executable, "-m", "benchmarks.discard_s3", "--port", str(discard_port)],
        workdir / "logs" / "discard.log",
    )
    discard.start()
    discard.wait_ready(lambda: port_open(discard_port))
    null_s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{discard_port}", region_name=REGION)
    # a bucket of its own: the cycles that follow must not take these exports in
    s3.create_bucket(Bucket=COPY_BUCKET)
    request = ExportRequest(
        schema, table, "incremental", S3Target(COPY_BUCKET, PREFIX, REGION), watermark_column=e2e.WATERMARK
    )
    copy_cmd = f"\\copy ({select_sql}) TO '/dev/null' WITH (FORMAT csv, HEADER false, FORCE_QUOTE *)"
    times: dict[str, list[float]] = {"psql": [], "discard": [], "moto": []}
    try:
        for run in range(args.repeat):  # interleaved, so drift on a shared machine hits all alike
            started = time.perf_counter()
            subprocess.run([psql, dsn, "-q", "-c", copy_cmd], check=True)
            times["psql"].append(time.perf_counter() - started)
            for name, client in (("discard", null_s3), ("moto", s3)):
                if name == "moto" and run % 2:  # moto's figure is a detail: every other run
                    continue
                started = time.perf_counter()
                result = run_export(conn, client, request)
                times[name].append(time.perf_counter() - started)
                if result.rows != args.rows:
                    raise SystemExit(f"the copy export wrote {result.rows} rows, not {args.rows}")
            log(f"copy bench run {run + 1}: psql {times['psql'][-1]:.2f} s, export {times['discard'][-1]:.2f} s")
    finally:
        discard.stop()
        conn.close()
    psql_s, export_s, moto_s = (statistics.median(times[k]) for k in ("psql", "discard", "moto"))
    rows = args.rows
    return (
        psql_s,
        export_s,
        [
            f"copy export, {e2e.TABLE}: {rows} rows; CSV: {csv_mb:.0f} MB; gzip files: {result.files}, "
            f"{result.bytes / 1e6:.1f} MB; median of {args.repeat} interleaved runs",
            f"psql \\copy to /dev/null: {rows / psql_s:,.0f} rows/s, {csv_mb / psql_s:.0f} MB/s",
            f"copy export (gzip + S3 multipart to a discarding endpoint): {rows / export_s:,.0f} rows/s, "
            f"{csv_mb / export_s:.0f} MB/s",
            f"copy export to moto S3 (the emulator's CPU on the same cores): {rows / moto_s:,.0f} rows/s, "
            f"{csv_mb / moto_s:.0f} MB/s, {psql_s / moto_s:.2f}x of psql \\copy",
        ],
    )


def _write(six: list[str], details: list[str], args: argparse.Namespace) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    extra = " --extras" if args.extras else ""
    block = "\n".join(
        [
            START,
            f"Measured {stamp} on {machine} with `make bench` "
            f"(`python -m benchmarks.run --rows {args.rows} --repeat {args.repeat}{extra}`):",
            "",
            "```",
            *six,
            "```",
            "",
            "Details (stderr):",
            "",
            "```",
            *details,
            "```",
            END,
        ]
    )
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    DOC.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: block, text, flags=re.S))


if __name__ == "__main__":
    main()
