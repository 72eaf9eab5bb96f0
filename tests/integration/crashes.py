"""Cycles run in a forked child process, optionally killed at a failpoint (`os._exit`, as a crash:
no cleanup, no lease released), and the checks that follow: the target equals the source."""

from __future__ import annotations

import multiprocessing
import os
import tomllib
import traceback
from dataclasses import dataclass, field
from typing import Any

from aurora_sync.config import parse_config
from aurora_sync.cycle import run_cycle
from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from aurora_sync.snowflake import snowpark_session
from sync_contract import failpoints

CHILD_TIMEOUT_S = 300


def local_toml(harness: Any) -> str:
    """The harness's config with the exporter in-process (the child is what gets killed, not the
    stack's Lambda endpoint)."""
    lines = [line for line in harness.toml.splitlines() if not line.startswith(("lambda_function", "lambda_endpoint"))]
    return "\n".join(lines) + "\n"


def _child(toml_text: str, failpoint: str | None) -> None:
    try:
        if failpoint:
            os.environ[failpoints.ENV] = failpoint
        config = parse_config(tomllib.loads(toml_text))
        exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
        with snowpark_session(config.snowflake_connect, config.database) as session:
            report = run_cycle(session, config, exporter)
        os._exit(1 if report.failed else 0)
    except BaseException:
        traceback.print_exc()  # what the child died of, in pytest's captured stderr
        os._exit(2)


def cycle_in_child(toml_text: str, failpoint: str | None = None) -> int:
    """One `aurora-sync run` cycle in a child process: 0 ok, 1 a table failed, 77 killed at the failpoint."""
    child = multiprocessing.get_context("fork").Process(target=_child, args=(toml_text, failpoint))
    child.start()
    child.join(CHILD_TIMEOUT_S)
    if child.exitcode is None:
        child.kill()
        child.join()
        raise AssertionError(f"a cycle did not finish within {CHILD_TIMEOUT_S} s")
    return int(child.exitcode)


def expire_leases(harness: Any) -> None:
    """What time does after a crash: the dead run's leases expire (after their TTL)."""
    harness.query(f"UPDATE {harness.control('LEASES')} SET EXPIRES_AT = TO_TIMESTAMP_NTZ('2000-01-01', 'YYYY-MM-DD')")


@dataclass
class Verdict:
    rows_compared: int = 0
    mismatches: int = 0
    duplicate_keys: int = 0
    details: list[str] = field(default_factory=list)


def compare(harness: Any) -> Verdict:
    """Every configured table, source against target, row by row."""
    verdict = Verdict()
    config = harness.config
    for result in reconcile(harness.snow, config.source_dsn, config.database, config.tables):
        verdict.rows_compared += result.source_rows
        verdict.mismatches += len(result.missing) + len(result.extra) + len(result.different)
        verdict.duplicate_keys += result.duplicate_keys
        if not result.clean:
            verdict.details.append(
                f"{result.spec.source}: missing {result.missing[:3]}, extra {result.extra[:3]}, "
                f"different {result.different[:3]}, duplicates {result.duplicate_keys}, error {result.error}"
            )
    return verdict
