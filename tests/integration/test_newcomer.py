"""What a newcomer met on a fresh clone: redirected output within 80 columns; `run` without the manifest
verification key refused before anything is exported; Ctrl-C after a MERGE recorded in RUNS; a typo in
any sync.toml section named with a suggestion; `--history` never cutting an S3 key mid-word."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from aurora_sync.cli import EXIT_CONFIG, EXIT_INTERRUPTED, INTERRUPTED, main
from aurora_sync.interrupted import ERROR as INTERRUPTED_ERROR
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs.loading.manifest_keys import ENV as KEYS_ENV
from sync_contract import failpoints
from sync_contract.manifest import manifest_prefix
from tests.integration.crashes import compare, local_toml

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "aurora_sync.cli"]


def _env(**changes: str | None) -> dict[str, str]:
    """This process's environment (the stack's manifest keys), no AWS credentials (the loopback emulators
    take unsigned requests) and no COLUMNS (a redirected run's width is then 80), with `changes`
    (None: unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "COLUMNS"}
    for key, value in changes.items():
        env.pop(key, None)
        if value is not None:
            env[key] = value
    return env


def _cli(*args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=_env(**env), check=False)


def _wide(text: str, width: int = 80) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


def test_redirected_run_status_reconcile_fit_80_columns(pg, harness, tmp_path):
    cur = pg.cursor()
    name = "newcomer_a_rather_long_table_name_for_eighty_columns"
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, 'v' || g, now() FROM generate_series(1, 40) g")
    config = tmp_path / "sync.toml"
    config.write_text(harness.add(f"public.{name}", ["id"], "updated_at").add("public.newcomer_absent", ["id"]).toml)

    ran = _cli("run", "--config", str(config))  # stdout is a pipe: not a terminal
    assert ran.returncode == 1, ran.stdout + ran.stderr  # newcomer_absent does not exist: its reason is printed
    assert name[:12] in ran.stdout
    assert "SUCCEEDED" in ran.stdout and "FAILED" in ran.stdout
    assert _wide(ran.stdout) == [], ran.stdout
    for args in (("status",), ("status", "--history", "3"), ("reconcile",)):
        out = _cli(*args, "--config", str(config))
        assert out.stdout.strip(), out.stderr
        assert _wide(out.stdout) == [], out.stdout
    wider = _cli("run", "--config", str(config), COLUMNS="120")  # COLUMNS, when set, is the width
    assert _wide(wider.stdout, 120) == [] and _wide(wider.stdout) != [], wider.stdout


def test_run_without_the_verification_key_exports_nothing(pg, harness, endpoints, tmp_path):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.newcomer_nokey (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.newcomer_nokey SELECT g, now() FROM generate_series(1, 10) g")
    config = tmp_path / "sync.toml"
    config.write_text(harness.add("public.newcomer_nokey", ["id"], "updated_at").toml)

    result = _cli("run", "--config", str(config), **{KEYS_ENV: None})
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert KEYS_ENV in lines[0] and str(tmp_path / "sync.manifest-key") in lines[0]
    assert "nothing was exported" in lines[0]
    s3 = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", "newcomer_nokey"))
    assert listed.get("KeyCount", 0) == 0
    assert harness.query(
        "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = ?", harness.control_schema
    ) == [(0,)]

    malformed = _cli("run", "--config", str(config), **{KEYS_ENV: "k1:nothex"})
    assert malformed.returncode == EXIT_CONFIG and KEYS_ENV in malformed.stderr
    assert "nothing was exported" in malformed.stderr and "nothex" not in malformed.stderr


@pytest.mark.parametrize("point", ["load:after_merge", "load:after_ledger"])
def test_ctrl_c_after_the_merge_is_recorded_in_runs(pg, harness, tmp_path, point):
    table = "newcomer_intr_" + point.split(":")[1]
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'v' || g, now() FROM generate_series(1, 120) g")
    h = harness.add(f"public.{table}", ["id"], "updated_at")
    config = tmp_path / "sync.toml"
    config.write_text(local_toml(h))

    paused = tmp_path / "paused"
    env = _env(**{failpoints.ENV: point, failpoints.PAUSE_ENV: str(paused)})
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while not paused.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paused.exists(), proc.communicate(timeout=60)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, out + err
    assert err.strip().splitlines()[-1] == f"aurora-sync: {INTERRUPTED}"
    assert f"table=public.{table} stage=load" in err and "detail=interrupted" in err, err
    assert "KeyboardInterrupt" not in err, err

    rows = h.query(
        f"SELECT STATUS, ERROR, ROWS_LOADED, WATERMARK_AFTER FROM {h.control('RUNS')} WHERE SOURCE_TABLE = ?", table
    )
    assert [(r[0], r[1]) for r in rows] == [("FAILED", INTERRUPTED_ERROR)]
    # the rows this run marked LOADED before the interrupt: after the ledger, all of them; before, none
    assert int(rows[0][2]) == (120 if point == "load:after_ledger" else 0)
    history = _cli("status", "--config", str(config), "--history", "2")
    assert "interrupted by the user" in history.stdout, history.stdout

    again = _cli("run", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    verdict = compare(h)
    assert verdict.details == [] and verdict.rows_compared == 120
    cur.execute(f"SELECT max(updated_at)::text FROM public.{table}")
    assert h.watermark(table) == cur.fetchone()[0]
    statuses = h.query(f"SELECT STATUS FROM {h.control('RUNS')} WHERE SOURCE_TABLE = ? ORDER BY FINISHED_AT", table)
    assert [r[0] for r in statuses][:1] == ["FAILED"] and len(statuses) == 2
    assert statuses[1][0] in {"SUCCEEDED", "NO_CHANGE"}  # after the ledger: the rows are in, the watermark repaired


SECTIONS = {
    "source": ('dsm = "postgresql://x@h/db"', "source.dsm", "did you mean dsn?"),
    "s3": ('buckt = "exports"', "s3.buckt", "did you mean bucket?"),
    "exporter": ('stratgy = "copy"', "exporter.stratgy", "did you mean strategy?"),
    "alerts": ('webhook_ur = "https://example.invalid/x"', "alerts.webhook_ur", "did you mean webhook_url?"),
}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_a_misspelled_key_is_named_with_a_suggestion(tmp_path: Path, capsys, section):
    line, key, hint = SECTIONS[section]
    body = {
        "source": 'dsn = "postgresql://x@h/db"',
        "s3": 'bucket = "exports"',
        "exporter": 'strategy = "copy"',
        "alerts": 'webhook_url = "https://example.invalid/x"',
    }
    body[section] = line
    text = "".join(f"[{name}]\n{value}\n" for name, value in body.items())
    text += '[snowflake]\naccount = "a"\ndatabase = "D"\n'
    text += '[[tables]]\nsource = "public.t"\nprimary_key = ["id"]\nmode = "full"\n'
    config = tmp_path / "sync.toml"
    config.write_text(text)
    assert main(["run", "--config", str(config)]) == EXIT_CONFIG
    said = capsys.readouterr().out
    assert f"sync config {key}: unknown key; {hint}" in said, said
    assert str(config) in said.replace("\n", "")


def test_a_misspelled_section_is_named_with_a_suggestion(tmp_path: Path, capsys):
    config = tmp_path / "sync.toml"
    config.write_text('[sourc]\ndsn = "postgresql://x@h/db"\n')
    assert main(["run", "--config", str(config)]) == EXIT_CONFIG
    assert "sync config sourc: unknown section; did you mean source?" in capsys.readouterr().out


def test_demo_rows_are_dated_relative_to_now(pg, endpoints):
    """`status` on the demo's data shows a lag of minutes (it showed 479,455 minutes: rows dated 2026-01-01)."""
    import psycopg2
    from psycopg2.extensions import make_dsn, parse_dsn

    from aurora_sync.demo_data import create_and_populate

    pg.cursor().execute("DROP DATABASE IF EXISTS newcomer_demo")
    pg.cursor().execute("CREATE DATABASE newcomer_demo")
    conn = psycopg2.connect(make_dsn(**{**parse_dsn(endpoints.pg_dsn), "dbname": "newcomer_demo"}))
    try:
        create_and_populate(conn, 300)
        cur = conn.cursor()
        for column, table in (("updated_at", "public.orders"), ('"Updated At"', '"Sales"."Customer Events"')):
            cur.execute(
                f"SELECT extract(epoch FROM now() - max({column})), extract(epoch FROM now() - min({column})) "
                f"FROM {table}"
            )
            newest, oldest = cur.fetchone()
            assert 0 < newest <= 60 and oldest <= 600, (table, newest, oldest)  # in the past, within minutes
        cur.execute("SELECT extract(epoch FROM localtimestamp - max(updated_at)) FROM public.order_items")
        assert 0 < cur.fetchone()[0] <= 60
        cur.execute("SELECT count(*) FROM public.orders WHERE placed_on > CURRENT_DATE")
        assert cur.fetchone()[0] == 0
    finally:
        conn.close()


def test_redirected_demo_fits_80_columns():
    demo = _cli("demo", "--orders", "200")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "SUCCEEDED" in demo.stdout and "NO_CHANGE" in demo.stdout
    assert _wide(demo.stdout) == [], demo.stdout


def test_every_argument_has_a_help_text(capsys):
    for command in ("run", "status", "alerts", "dashboard", "reconcile", "resync", "discard", "stack"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        said = capsys.readouterr().out
        if command == "stack":
            assert "--write-config PATH" in said and "where to write the stack's sync.toml" in said, said
        else:
            assert "path of sync.toml" in said, (command, said)
