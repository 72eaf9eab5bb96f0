"""An exporter killed in the middle of a chunk leaves no manifest for it; the rerun completes it exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3

from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from sync_contract.manifest import manifest_prefix

EXPORT_SCRIPT = """
import json, sys
from lambda_exporter.handler import handler
print(json.dumps(handler(json.loads(sys.argv[1]))))
"""


def test_kill_mid_chunk_leaves_no_manifest_for_it_and_the_rerun_loads_every_row_once(pg, endpoints, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.kill_me (id int PRIMARY KEY, payload text, v int NOT NULL)")
    cur.execute(
        "INSERT INTO public.kill_me SELECT g, (SELECT string_agg(md5((g * 16 + i)::text), '') "
        "FROM generate_series(1, 16) i), g FROM generate_series(1, 300000) g"
    )
    s3 = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    event = {
        "version": 1,
        "table": {"schema": "public", "name": "kill_me"},
        "watermark_column": "v",
        "late_row_guard": False,  # an integer watermark
        "low": None,
        "s3": {"bucket": BUCKET, "prefix": PREFIX, "region": REGION},
    }
    env = {
        **os.environ,
        "AURORA_SYNC_SOURCE_DSN": endpoints.pg_dsn,
        "AURORA_SYNC_S3_ENDPOINT_URL": endpoints.s3_endpoint,
        "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT": "1",
        "AURORA_SYNC_S3_BUCKET": BUCKET,
        "AURORA_SYNC_S3_PREFIX": PREFIX,
        "AURORA_SYNC_S3_REGION": REGION,
        "AURORA_SYNC_ALLOWED_TABLES": "public.kill_me",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORT_SCRIPT, json.dumps(event)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline, in_progress = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None:
        uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        mine = [u for u in uploads if "/public_kill_me-" in u["Key"]]
        if mine and s3.list_parts(Bucket=BUCKET, Key=mine[0]["Key"], UploadId=mine[0]["UploadId"]).get("Parts"):
            in_progress = mine[0]["Key"].split("/")[-2]  # data/<table>/<export_id>/part-…: the chunk being written
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the export finished before it could be killed; make the table bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", "kill_me"))
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert in_progress is not None
    assert not [k for k in keys if in_progress in k]  # the killed chunk has no manifest: nothing loads from it
    assert len(keys) <= 1

    (table,) = (
        harness.add("public.kill_me", ["id"], "v", chunks="2", late_row_guard="false").cycle().tables
    )  # the rerun
    assert not table.failed
    assert table.export["chunks"] == 2
    assert (table.load["rows_loaded"], table.load["rows_inserted"]) == (300_000, 300_000)
    target = '"ANALYTICS"."PUBLIC"."KILL_ME"'
    assert harness.query(f'SELECT COUNT(*), COUNT(DISTINCT "ID") FROM {target}')[0] == (300_000, 300_000)
    assert harness.watermark("kill_me") == "300000"
