"""The Native App on a real account: `snow app run`, configure one table, run the graph once.

Set AURORA_SYNC_LIVE_APP to a TOML file:

    connection = "dev"                 # a Snowflake CLI / connector connection name
    storage_integration = "AURORA_SYNC_S3"
    stage_url = "s3://bucket/prefix/"
    region = "eu-west-1"
    exporter_function = "aurora-sync-exporter"
    external_access_integration = "AURORA_SYNC_EXPORTER"   # docs/snowflake/consumer_setup.sql
    secret = "AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_AWS"
    target_database = "RAW"
    table = "public.orders"
    primary_key = ["id"]
    watermark_column = "updated_at"

Skipped when it is not set. The app is installed as AURORA_SYNC_LIVETEST and torn down at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNOW = ROOT / ".venv-snow" / "bin" / "snow"
CONFIG = os.environ.get("AURORA_SYNC_LIVE_APP")
APP = "AURORA_SYNC_LIVETEST"
pytestmark = pytest.mark.skipif(not CONFIG, reason="AURORA_SYNC_LIVE_APP is not set: no Snowflake account")


def _snow(*args: str, connection: str) -> str:
    done = subprocess.run(
        [str(SNOW), *args, "--connection", connection, "--env", "suffix=_LIVETEST"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _variant(cursor: Any, sql: str, *params: Any) -> Any:
    cursor.execute(sql, params)
    value = cursor.fetchone()[0]
    return json.loads(value) if isinstance(value, str) else value


def test_install_configure_and_run_the_graph_once():
    import snowflake.connector

    assert CONFIG is not None
    cfg = tomllib.loads(Path(CONFIG).read_text())
    subprocess.run(["make", "app-code"], cwd=ROOT, check=True)
    _snow("app", "run", connection=cfg["connection"])
    conn = snowflake.connector.connect(connection_name=cfg["connection"], paramstyle="qmark")
    try:
        cur = conn.cursor()
        cur.execute(f"GRANT USAGE ON INTEGRATION {cfg['storage_integration']} TO APPLICATION {APP}")
        cur.execute(f"GRANT CREATE SCHEMA, USAGE ON DATABASE {cfg['target_database']} TO APPLICATION {APP}")
        for ref, kind, name, privilege in (
            ("EXPORTER_ACCESS", "EXTERNAL ACCESS INTEGRATION", cfg["external_access_integration"], "USAGE"),
            ("EXPORTER_SECRET", "SECRET", cfg["secret"], "READ"),
        ):
            cur.execute(f"GRANT {privilege} ON {kind} {name} TO APPLICATION {APP}")
            cur.execute(
                f"CALL {APP}.CORE.REGISTER_REFERENCE(?, 'ADD', SYSTEM$REFERENCE(?, ?, 'PERSISTENT', ?))",
                (ref, kind, name, privilege),
            )
        _variant(
            cur, f"CALL {APP}.CORE.REGISTER_STAGE(?, ?, ?)", cfg["stage_url"], cfg["storage_integration"], cfg["region"]
        )
        _variant(cur, f"CALL {APP}.CORE.REGISTER_EXPORTER(?, ?)", cfg["exporter_function"], cfg["region"])
        _variant(cur, f"CALL {APP}.CORE.SET_TARGET_DATABASE(?)", cfg["target_database"])
        cur.execute(
            f"CALL {APP}.CORE.ADD_TABLE(?, PARSE_JSON(?), ?)",
            (cfg["table"], json.dumps(cfg["primary_key"]), cfg["watermark_column"]),
        )
        scheduled = _variant(cur, f"CALL {APP}.CORE.ENABLE_SCHEDULE('24 HOURS')")
        assert scheduled["schedule"] == "ENABLED"
        cur.execute(f"EXECUTE TASK {APP}.STATE.AURORA_SYNC_ROOT")
        deadline = time.monotonic() + 1800
        rows: list[Any] = []
        while time.monotonic() < deadline and not rows:
            time.sleep(20)
            cur.execute(f"SELECT STATUS, SUMMARY FROM {APP}.CORE.GRAPH_RUNS ORDER BY FINISHED_AT DESC LIMIT 1")
            rows = cur.fetchall()
        assert rows, "the graph run wrote no summary within 30 minutes"
        assert rows[0][0] == "SUCCEEDED", rows[0][1]
        cur.execute(f"SELECT LAST_RUN_STATUS FROM {APP}.CORE.TABLE_STATUS")
        assert {r[0] for r in cur.fetchall()} <= {"SUCCEEDED", "NO_CHANGE"}
        # the canonical text of real Snowflake agrees with PostgreSQL's (the emulator's is checked in CI);
        # the live source table must not change while this runs
        report = _variant(cur, f"CALL {APP}.CORE.RECONCILE_TABLE(?)", cfg["table"])
        assert report["status"] == "CLEAN", report
        _variant(cur, f"CALL {APP}.CORE.DISABLE_SCHEDULE()")
    finally:
        conn.close()
        _snow("app", "teardown", "--force", "--cascade", connection=cfg["connection"])
