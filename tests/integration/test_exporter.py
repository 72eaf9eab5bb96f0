"""The exporter against real PostgreSQL and moto S3: files, manifests, strategies, errors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os

import boto3
import psycopg2
import pytest

from aurora_sync.export_client import ExportFailed
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from lambda_exporter.event import ExportRequest, S3Target
from lambda_exporter.exporter import run_export
from lambda_exporter.s3_writer import RollingGzipS3Writer
from lambda_exporter.source import connect
from lambda_exporter.strategies.aws_s3 import EXPORT_OPTIONS
from stored_procs.orchestration.lambda_invoke import lambda_client
from sync_contract.manifest import parse_manifest


@pytest.fixture
def s3(endpoints):
    return boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)


def _request(table: str, **kw) -> ExportRequest:
    return ExportRequest(
        schema="public", table=table, mode=kw.pop("mode", "incremental"), s3=S3Target(BUCKET, PREFIX, REGION), **kw
    )


def test_writer_rolls_on_row_boundaries_and_counts_rows_exactly(s3):
    rows = [f'"{i}","{os.urandom(8 + i % 40).hex()}"\n'.encode() for i in range(100_000)]
    writer = RollingGzipS3Writer(
        s3,
        BUCKET,
        key_for=lambda i: f"{PREFIX}test-roll/part-{i:05d}.csv.gz",
        max_file_bytes=512 * 1024,
        relative=lambda k: k[len(PREFIX) :],
    )
    for row in rows:
        writer.write(row)
    files = writer.close()
    assert len(files) > 3
    assert sum(f.rows or 0 for f in files) == len(rows)
    received = b""
    for f in files:
        body = s3.get_object(Bucket=BUCKET, Key=PREFIX + f.key)["Body"].read()
        assert len(body) == f.bytes
        text = gzip.decompress(body)
        assert text.count(b"\n") == f.rows  # each file ends on a whole row
        received += text
    assert received == b"".join(rows)


def test_large_export_uses_multipart_and_matches_the_table(pg, endpoints, s3):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.exp_big (id int PRIMARY KEY, payload text, v int NOT NULL)")
    cur.execute(
        "INSERT INTO public.exp_big SELECT g, md5(g::text) || md5((g * 7)::text), g FROM generate_series(1, 200000) g"
    )
    conn = connect(endpoints.pg_dsn)
    try:
        result = run_export(
            conn, s3, _request("exp_big", watermark_column="v", late_row_guard=False, max_file_bytes=5 * 1024 * 1024)
        )
    finally:
        conn.close()
    assert result.rows == 200_000
    manifest = parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=result.manifest_key)["Body"].read()))
    assert manifest.rows == 200_000
    assert manifest.window.high == "200000"
    assert [c.name for c in manifest.columns] == ["id", "payload", "v"]
    total = 0
    for f in manifest.files:
        data = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=PREFIX + f.key)["Body"].read()).decode()
        parsed = list(csv.reader(io.StringIO(data)))
        assert len(parsed) == f.rows
        total += len(parsed)
    assert total == 200_000


def test_window_is_low_exclusive_high_inclusive(pg, endpoints, s3):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.exp_window (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.exp_window SELECT g, g FROM generate_series(1, 10) g")
    conn = connect(endpoints.pg_dsn)
    try:
        result = run_export(conn, s3, _request("exp_window", watermark_column="v", late_row_guard=False, low="4"))
        again = run_export(conn, s3, _request("exp_window", watermark_column="v", late_row_guard=False, low="4"))
        nothing = run_export(conn, s3, _request("exp_window", watermark_column="v", late_row_guard=False, low="10"))
    finally:
        conn.close()
    assert (result.low, result.high, result.rows) == ("4", "10", 6)
    assert again.export_id == result.export_id  # deterministic: a retry rewrites the same keys
    assert (nothing.status, nothing.rows, nothing.manifest_key) == ("no_change", 0, None)


def test_lambda_endpoint_reports_bad_events_with_the_field(harness):
    harness.add("public.exp_unused", ["id"], "v")
    bad = _request("anything", watermark_column="v", late_row_guard=False).to_event() | {"strategy": "pg_dump"}
    config = harness.config
    # the client REQUEST_EXPORTS uses inside Snowflake, here unsigned to the loopback endpoint
    client = lambda_client(config.s3.region, config.exporter.lambda_endpoint_url)
    response = client.invoke(FunctionName=config.exporter.lambda_function, Payload=json.dumps(bad).encode())
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "EventError"
    assert payload["errorMessage"].startswith("event field strategy: must be 'copy' or 'aws_s3'")


def test_lambda_export_error_names_the_table(harness):
    harness.add("public.exp_unused", ["id"], "v")
    with pytest.raises(ExportFailed, match="SourceError: table public.exp_missing does not exist"):
        harness.exporter.export(_request("exp_missing", watermark_column="v", late_row_guard=False))


AWS_S3_FAKE = """
CREATE SCHEMA IF NOT EXISTS aws_commons;
CREATE SCHEMA IF NOT EXISTS aws_s3;
DROP TYPE IF EXISTS aws_commons._s3_uri_1 CASCADE;
CREATE TYPE aws_commons._s3_uri_1 AS (bucket text, file_path text, region text);
CREATE OR REPLACE FUNCTION aws_commons.create_s3_uri(bucket text, file_path text, region text)
RETURNS aws_commons._s3_uri_1 LANGUAGE sql AS $$ SELECT ROW(bucket, file_path, region)::aws_commons._s3_uri_1 $$;
CREATE OR REPLACE FUNCTION aws_s3.query_export_to_s3(query text, s3_info aws_commons._s3_uri_1, options text,
    OUT rows_uploaded bigint, OUT files_uploaded bigint, OUT bytes_uploaded bigint) LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'aws_s3 call: %', json_build_object('query', query, 'bucket', (s3_info).bucket,
    'key', (s3_info).file_path, 'region', (s3_info).region, 'options', options);
  EXECUTE 'SELECT count(*) FROM (' || query || ') AS q' INTO rows_uploaded;
  files_uploaded := 3; bytes_uploaded := 12345;
END $$;
"""


def test_aws_s3_strategy_sql_contract(endpoints, s3):
    """Aurora's extension cannot run here: a stand-in with its signature records the call, runs the
    query it was given and reports three parts, as Aurora does for a large export."""
    admin = psycopg2.connect(endpoints.pg_dsn)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute(AWS_S3_FAKE)
    cur.execute('CREATE TABLE public."exp Aurora" (id int PRIMARY KEY, "Name" text, v int NOT NULL)')
    cur.execute("""INSERT INTO public."exp Aurora" SELECT g, 'n' || g, g FROM generate_series(1, 25) g""")
    conn = connect(endpoints.pg_dsn)
    try:
        result = run_export(
            conn, s3, _request("exp Aurora", watermark_column="v", late_row_guard=False, low="5", strategy="aws_s3")
        )
        (notice,) = [n for n in conn.notices if "aws_s3 call: " in n]
    finally:
        conn.close()
    admin.close()
    call = json.loads(notice.split("aws_s3 call: ", 1)[1])
    query, bucket, key, region, options = (call[k] for k in ("query", "bucket", "key", "region", "options"))
    assert query == (
        'SELECT "id" AS "id", "Name" AS "Name", "v" AS "v" FROM "public"."exp Aurora" '
        """WHERE "v" > '5' AND "v" <= '25'"""
    )
    assert (bucket, region, options) == (BUCKET, REGION, EXPORT_OPTIONS)
    manifest = parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=result.manifest_key)["Body"].read()))
    assert key == PREFIX + manifest.files[0].key
    assert [f.key for f in manifest.files] == [
        manifest.files[0].key,
        manifest.files[0].key + "_part2",
        manifest.files[0].key + "_part3",
    ]
    assert manifest.files[0].key.endswith("part-00000.csv")
    assert (manifest.rows, manifest.bytes, manifest.strategy) == (20, 12345, "aws_s3")
    assert manifest.format.compression == "none"


def test_a_throttled_s3_is_retried_and_the_export_completes(pg, endpoints):
    from lambda_exporter.handler import S3_CONFIG
    from tests.integration.faults import ThrottlingProxy

    pg.cursor().execute("CREATE TABLE public.exp_throttled (id int PRIMARY KEY, payload text, v int NOT NULL)")
    pg.cursor().execute(
        "INSERT INTO public.exp_throttled SELECT g, (SELECT string_agg(md5((g * 8 + i)::text), '') "
        "FROM generate_series(1, 8) i), g FROM generate_series(1, 150000) g"
    )
    with ThrottlingProxy(endpoints.s3_endpoint, every=2) as proxy:
        s3 = boto3.client("s3", endpoint_url=proxy.url, region_name=REGION, config=S3_CONFIG)
        conn = connect(endpoints.pg_dsn)
        try:
            result = run_export(conn, s3, _request("exp_throttled", watermark_column="v", late_row_guard=False))
        finally:
            conn.close()
    assert proxy.injected >= 3  # every other write (parts, completion, manifest) was refused once
    assert result.rows == 150_000
    direct = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    manifest = parse_manifest(json.loads(direct.get_object(Bucket=BUCKET, Key=result.manifest_key)["Body"].read()))
    data = gzip.decompress(direct.get_object(Bucket=BUCKET, Key=PREFIX + manifest.files[0].key)["Body"].read())
    assert len(list(csv.reader(io.StringIO(data.decode())))) == 150_000


def test_a_scheduled_event_without_low_continues_from_the_newest_manifest(pg, endpoints, s3):
    from lambda_exporter.event import parse_event

    pg.cursor().execute("CREATE TABLE public.exp_sched (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.exp_sched SELECT g, g FROM generate_series(1, 10) g")
    event = _request("exp_sched", watermark_column="v", late_row_guard=False).to_event()
    del event["low"]  # as an EventBridge rule's static input would be
    conn = connect(endpoints.pg_dsn)
    try:
        first = run_export(conn, s3, parse_event(event))
        pg.cursor().execute("INSERT INTO public.exp_sched SELECT g, g FROM generate_series(11, 13) g")
        second = run_export(conn, s3, parse_event(event))
        third = run_export(conn, s3, parse_event(event))
    finally:
        conn.close()
    assert (first.low, first.high, first.rows) == (None, "10", 10)
    assert (second.low, second.high, second.rows) == ("10", "13", 3)
    assert (third.status, third.low) == ("no_change", "13")
