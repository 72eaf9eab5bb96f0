"""`aurora-sync demo`: the whole pipeline on the embedded stack with a generated dataset.

Initial sync, then inserts / updates / a delete in the source, an incremental sync, a third sync that
must change nothing, and a reconciliation of source against target. Exit status 1 on any mismatch.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import psycopg2
from rich.console import Console
from rich.text import Text

from aurora_sync.config import SyncConfig, parse_config
from aurora_sync.cycle import CycleReport, run_cycle
from aurora_sync.demo_data import TABLES_TOML, apply_changes, create_and_populate
from aurora_sync.export_client import LambdaExporter
from aurora_sync.reconcile import bucket_reconcile, reconcile
from aurora_sync.report import print_bucket_reconciliation, print_cycle, print_reconciliation
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import EmbeddedStack


def run_demo(console: Console, orders: int = 20_000, keep_logs: Path | None = None) -> int:
    problems: list[str] = []
    with console.status("starting the embedded stack (PostgreSQL, moto S3, fakesnow, loopback Lambda)") as status:
        stack = EmbeddedStack(keep_logs=keep_logs)
        with stack as endpoints:
            console.print(Text.assemble(("embedded stack up", "bold"), f" in {endpoints.workdir} (all on 127.0.0.1)"))
            config = parse_config(tomllib.loads(stack.config_toml(TABLES_TOML)))
            status.update(f"generating the demo dataset ({orders} orders)")
            conn = psycopg2.connect(endpoints.pg_dsn)
            try:
                create_and_populate(conn, orders)
                exporter = LambdaExporter(
                    config.exporter.lambda_function or "", config.s3.region, config.exporter.lambda_endpoint_url
                )
                with snowpark_session(config.snowflake_connect, config.database) as session:

                    def cycle(title: str) -> CycleReport:
                        report = run_cycle(session, config, exporter, lambda step: status.update(f"{title}: {step}"))
                        print_cycle(console, report, title)
                        problems.extend(f"{title}: {t.spec.source} failed" for t in report.failed)
                        return report

                    cycle("1. initial sync")
                    status.update("changing the source: inserts, updates, a delete")
                    apply_changes(conn, orders)
                    cycle("2. incremental sync")
                    third = cycle("3. sync with no source change")
                    problems.extend(_changed_something(third))
                    status.update("reconciling source against target")
                    problems.extend(_reconcile(console, session, config))
            finally:
                conn.close()
    if problems:
        for p in problems:
            console.print(Text(f"demo problem: {p}", style="red"))  # an error's text is never markup
        return 1
    console.print("[bold green]demo passed:[/] every table matches its source, and a no-change sync loaded nothing")
    return 0


def _changed_something(report: CycleReport) -> list[str]:
    return [
        f"the no-change sync loaded {t.load.get('rows_loaded')} rows into {t.spec.source}"
        for t in report.tables
        if t.load and (t.load.get("rows_loaded") or t.load.get("manifests"))
    ]


def _reconcile(console: Console, session: object, config: SyncConfig) -> list[str]:
    """What RECONCILE_TABLE does (bucket fingerprints from both sides), then every value compared."""
    reports = bucket_reconcile(session, config, config.tables)
    print_bucket_reconciliation(console, reports)
    results = reconcile(session, config.source_dsn, config.database, config.tables, config.columns)
    print_reconciliation(console, results)
    return [
        f"{r['source_schema']}.{r['source_table']}: fingerprints differ" for r in reports if r["status"] != "CLEAN"
    ] + [f"{r.spec.source} does not match its source" for r in results if not r.clean]
