"""The Native App on a real account: `snow app run`, then (S1 of the Snowflake audit) a stage on the
consumer's storage integration loads inside the app, then one table through the whole graph.

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
The S1 test also writes one small export (a manifest and a gzip CSV) under `stage_url` with boto3,
so the machine needs AWS credentials that may put and delete objects there (the default chain:
AWS_PROFILE, environment, ...), and removes it afterwards.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync_contract.manifest import Column, DataFile, Manifest, Window, data_prefix, export_id, manifest_key

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


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[Any, dict[str, Any]]]:
    """The installed app with its grants, references, stage (REGISTER_STAGE: the app creates a stage on
    the consumer's storage integration), exporter and target database; a cursor and the config."""
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
        yield cur, cfg
    finally:
        conn.close()
        _snow("app", "teardown", "--force", "--cascade", connection=cfg["connection"])


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _put_export(cfg: dict[str, Any], schema: str, table: str, rows: list[tuple[int, str]]) -> list[str]:
    """A full export of (id bigint primary key, name text) as the exporter writes it: gzip CSV, every
    value quoted, then its manifest (last: intake only sees complete exports). Returns the S3 keys."""
    import boto3

    bucket, _, prefix = cfg["stage_url"].removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    eid = export_id(schema, table, "full", None, f"live-{uuid.uuid4().hex}")
    text = "".join(f'"{i}",{_quoted(name)}\n' for i, name in rows)  # PostgreSQL COPY CSV, FORCE_QUOTE *
    body = gzip.compress(text.encode())
    data = DataFile(f"{data_prefix(schema, table, eid)}part-00000.csv.gz", len(rows), len(body))
    manifest = Manifest(
        export_id=eid,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
        exporter_version="live-test",
        strategy="copy",
        schema=schema,
        table=table,
        mode="full",
        columns=(Column("id", "bigint", "bigint", False, 1, 1), Column("name", "text", "text", True, 2)),
        window=Window(None, None, eid, "snapshot_fingerprint"),
        files=(data,),
        rows=len(rows),
        bytes=len(body),
    )
    s3 = boto3.client("s3", region_name=cfg["region"])
    keys = [prefix + data.key, prefix + manifest_key(schema, table, eid)]
    s3.put_object(Bucket=bucket, Key=keys[0], Body=body)
    s3.put_object(Bucket=bucket, Key=keys[1], Body=manifest.to_json().encode())
    return keys


def test_a_stage_on_the_consumers_storage_integration_copies_inside_the_app(app: tuple[Any, dict[str, Any]]) -> None:
    """S1: the app created its stage on the integration the consumer granted it (GRANT USAGE ON
    INTEGRATION ... TO APPLICATION; no reference type exists for storage integrations), and both COPYs
    the product runs from that stage work: INTAKE_MANIFESTS (the manifest into the ledger) and
    LOAD_TABLE (the data file into staging, then the replace)."""
    import boto3

    cur, cfg = app
    schema, table = "live", f"s1_{uuid.uuid4().hex[:8]}"
    source = f"{schema}.{table}"
    keys = _put_export(cfg, schema, table, [(1, "alpha"), (2, "beta, with a comma"), (3, 'gamma "quoted"')])
    try:
        _variant(cur, f"CALL {APP}.CORE.ADD_TABLE(?, PARSE_JSON(?), NULL, 'full')", source, json.dumps(["id"]))
        intake = _variant(cur, f"CALL {APP}.CORE.INTAKE_MANIFESTS()")
        assert not intake["errors"] and not intake["invalid"], intake
        assert source in intake["pending_tables"], intake
        loaded = _variant(cur, f"CALL {APP}.CORE.LOAD_TABLE(?, ?)", schema, table)
        assert loaded["status"] == "SUCCEEDED", loaded
        assert loaded["rows_loaded"] == 3, loaded
        cur.execute(
            f"SELECT LAST_RUN_STATUS, ROWS_LAST_RUN, PENDING_MANIFESTS, FAILED_MANIFESTS FROM {APP}.CORE.TABLE_STATUS "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?",
            (schema, table),
        )
        assert cur.fetchall() == [("SUCCEEDED", 3, 0, 0)]
    finally:
        _variant(cur, f"CALL {APP}.CORE.REMOVE_TABLE(?)", source)
        bucket = cfg["stage_url"].removeprefix("s3://").partition("/")[0]
        s3 = boto3.client("s3", region_name=cfg["region"])
        for key in keys:
            s3.delete_object(Bucket=bucket, Key=key)


def test_install_configure_and_run_the_graph_once(app: tuple[Any, dict[str, Any]]) -> None:
    cur, cfg = app
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
    cur.execute(f"SELECT LAST_RUN_STATUS FROM {APP}.CORE.TABLE_STATUS WHERE ENABLED")
    assert {r[0] for r in cur.fetchall()} <= {"SUCCEEDED", "NO_CHANGE"}
    # the canonical text of real Snowflake agrees with PostgreSQL's (the emulator's is checked in CI);
    # the live source table must not change while this runs
    report = _variant(cur, f"CALL {APP}.CORE.RECONCILE_TABLE(?)", cfg["table"])
    assert report["status"] == "CLEAN", report
    _variant(cur, f"CALL {APP}.CORE.DISABLE_SCHEDULE()")
