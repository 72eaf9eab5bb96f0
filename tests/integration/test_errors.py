"""Errors a person can act on (issue 15): Ctrl-C during `run` between any two steps is one line, exit 130,
and leaves nothing a rerun started at once cannot finish; an unreachable Snowflake, S3, PostgreSQL or
exporter endpoint is one line naming it, in seconds; an unexpected error is one line unless --debug."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aurora_sync.cli import EXIT_INTERRUPTED, EXIT_UNREACHABLE, INTERRUPTED
from aurora_sync.stack.process import free_port
from sync_contract import failpoints
from tests.integration.crashes import compare, cycle_in_child, local_toml

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "aurora_sync.cli"]


def _env() -> dict[str, str]:
    """This process's environment as the stack left it (its manifest keys), without AWS credentials:
    requests to the loopback emulators go unsigned (as tests/integration/test_cli.py)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "COLUMNS": "200"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=_env(), check=False)


@pytest.mark.parametrize("point", failpoints.POINTS)
def test_ctrl_c_between_steps_is_one_line_and_a_rerun_at_once_converges(pg, harness, tmp_path, point):
    table = "intr_" + point.replace(":", "_")
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"CREATE TABLE public.{table}_full (code int PRIMARY KEY, name text)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'v' || g, now() FROM generate_series(1, 200) g")
    cur.execute(f"INSERT INTO public.{table}_full SELECT g, 'n' || g FROM generate_series(1, 20) g")
    h = harness.add(f"public.{table}", ["id"], "updated_at").add(f"public.{table}_full", ["code"])
    config = tmp_path / "sync.toml"
    config.write_text(local_toml(h))  # the exporter in the CLI's own process: every point is in it
    assert cycle_in_child(local_toml(h)) == 0
    cur.execute(f"UPDATE public.{table} SET v = v || '!', updated_at = clock_timestamp() WHERE id % 7 = 0")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'w' || g, clock_timestamp() FROM generate_series(201, 260) g")
    cur.execute(f"DELETE FROM public.{table}_full WHERE code % 5 = 0")
    cur.execute(f"UPDATE public.{table}_full SET name = upper(name) WHERE code % 3 = 0")

    paused = tmp_path / "paused"
    env = {**_env(), failpoints.ENV: point, failpoints.PAUSE_ENV: str(paused)}
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while not paused.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paused.exists(), f"{point} was not reached: {proc.communicate(timeout=60)}"
    proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, out + err
    assert err.strip().splitlines()[-1] == f"aurora-sync: {INTERRUPTED}"  # after the run's log lines
    assert "Traceback" not in out + err

    again = _cli("run", "--config", str(config))  # at once: no lease of the interrupted run is left
    assert again.returncode == 0, again.stdout + again.stderr
    verdict = compare(h)
    assert verdict.details == [] and verdict.rows_compared == 260 + 16
    cur.execute(f"SELECT max(updated_at)::text FROM public.{table}")
    assert h.watermark(table) == cur.fetchone()[0]
    statuses = h.query(f"SELECT DISTINCT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table)
    assert {r[0] for r in statuses} <= {"LOADED", "SUPERSEDED"}
    held = h.query(f"SELECT COUNT(*) FROM {h.control('LEASES')} WHERE HOLDER IS NOT NULL")
    assert held[0][0] == 0


def _point_at_closed_port(toml: str, service: str, port: int) -> str:
    if service == "snowflake":
        return re.sub(r"(?m)^port = \d+$", f"port = {port}", toml)
    if service == "exporter Lambda":
        return re.sub(r'(?m)^lambda_endpoint_url = ".*"$', f'lambda_endpoint_url = "http://127.0.0.1:{port}"', toml)
    toml = "\n".join(line for line in toml.splitlines() if not line.startswith(("lambda_function", "lambda_endpoint")))
    if service == "s3":
        return re.sub(r'(?m)^endpoint_url = ".*"$', f'endpoint_url = "http://127.0.0.1:{port}"', toml)
    return re.sub(r'(?m)^dsn = ".*"$', f'dsn = "postgresql://postgres:pg-secret-pw@127.0.0.1:{port}/app"', toml)


@pytest.mark.parametrize(
    ("service", "named"),
    [
        ("snowflake", "Snowflake at 127.0.0.1:{port}"),
        ("s3", "S3 at http://127.0.0.1:{port}"),
        ("postgres", "PostgreSQL at 127.0.0.1:{port} (source.dsn)"),
        ("exporter Lambda", "the exporter Lambda at 127.0.0.1:{port} (exporter.lambda_endpoint_url)"),
    ],
)
def test_an_unreachable_endpoint_is_one_line_naming_it(harness, tmp_path, service, named):
    port = free_port()  # bound, then released: nothing listens there
    config = tmp_path / "sync.toml"
    config.write_text(_point_at_closed_port(harness.add("public.unreached", ["id"], "v").toml, service, port))
    started = time.monotonic()
    result = _cli("run", "--config", str(config))
    elapsed = time.monotonic() - started
    assert result.returncode == EXIT_UNREACHABLE, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("aurora-sync: " + named.format(port=port)), line
    assert "Traceback" not in result.stderr and "pg-secret-pw" not in line
    assert elapsed < 60, f"{elapsed:.1f} s"  # measured 1-3 s; the bound only catches a retry loop
    # nothing was attempted: the run did not even create its control schema
    schemas = harness.query(
        'SELECT COUNT(*) FROM "ANALYTICS".INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = ?', harness.control_schema
    )
    assert schemas[0][0] == 0


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(tmp_path: Path):
    config = tmp_path / "a-directory"  # not a file: an error no handler names
    config.mkdir()
    plain = _cli("run", "--config", str(config))
    assert plain.returncode == 1
    (line,) = plain.stderr.strip().splitlines()
    assert line.startswith("aurora-sync: IsADirectoryError: ") and str(config) in line
    assert line.endswith("(run with --debug for the traceback)")
    for argv in (["--debug", "run", "--config", str(config)], ["run", "--config", str(config), "--debug"]):
        debug = _cli(*argv)
        assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
        assert debug.stderr.strip().splitlines()[-1] == line


def test_a_typo_under_snowflake_is_refused_before_connecting(harness, tmp_path):
    toml = harness.add("public.typo", ["id"], "v").toml.replace("[snowflake]\n", '[snowflake]\nwarehous = "WH"\n')
    config = tmp_path / "sync.toml"
    config.write_text(toml)
    result = _cli("run", "--config", str(config))
    assert result.returncode == 2
    assert "sync config snowflake.warehous: unknown key" in result.stdout
    assert f"did you mean warehouse? (in {config})" in result.stdout
