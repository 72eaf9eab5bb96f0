"""The `aws_s3` strategy writes files in Snowflake's recommended size band, not Aurora's ~6 GB parts.

Aurora's `aws_s3.query_export_to_s3` runs here as aurora_sync.stack.aws_s3_emulator: PostgreSQL's COPY
of the query, uploaded to moto S3 in parts of about 6 GB, as Aurora does. The exporter splits the table
into block ranges of about one file each (lambda_exporter.strategies.pieces), in one snapshot.
"""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest

from aurora_sync.stack.aws_s3_emulator import install
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from lambda_exporter.strategies.pieces import target_csv_bytes
from sync_contract.manifest import manifest_prefix, parse_manifest
from tests.integration.conftest import Harness

MAX_FILE_MB = 5  # the smallest the configuration accepts: 5 MiB compressed, about 17.5 MB of CSV per file
TARGET = target_csv_bytes(MAX_FILE_MB * 1024 * 1024)
TOLERANCE = 1.5  # docs/EXPORTER.md, "aws_s3 file sizes": uniform rows land within 1.5x of the target
ROWS = 300_000


class AwsS3Harness(Harness):
    @property
    def toml(self) -> str:
        return super().toml.replace(
            "[exporter]\n", f'[exporter]\nstrategy = "aws_s3"\nmax_file_mb = {MAX_FILE_MB}\n', 1
        )


@pytest.fixture
def s3(endpoints):
    return boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)


@pytest.fixture
def aurora(endpoints):
    install(endpoints.pg_dsn, endpoints.s3_endpoint, endpoints.workdir)


def _manifests(s3, table: str) -> list:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", table)).get("Contents", [])
    return [parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())) for o in listed]


def _source_summary(pg, table: str) -> tuple:
    cur = pg.cursor()
    cur.execute(f"SELECT count(*), sum(id), sum(v), sum(length(payload)), max(v) FROM public.{table}")
    return cur.fetchone()


def _target_summary(h, table: str) -> tuple:
    return h.query(
        'SELECT COUNT(*), SUM("ID"), SUM("V"), SUM(LENGTH("PAYLOAD")), MAX("V") '
        f'FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'
    )[0]


def test_an_aws_s3_export_is_split_into_files_of_the_target_size_and_loads_every_row_once(pg, stack, snow, s3, aurora):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.s3_sizes (id bigint PRIMARY KEY, payload text NOT NULL, v bigint NOT NULL, "
        "at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.s3_sizes SELECT g, md5(g::text) || md5((g * 3)::text) || md5((g * 7)::text) "
        "|| md5((g * 11)::text), g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' "
        "FROM generate_series(1, %s) g",
        (ROWS,),
    )
    cur.execute("ANALYZE public.s3_sizes")
    h = AwsS3Harness(stack, snow).add("public.s3_sizes", ["id"], "v", late_row_guard="false")

    report = h.cycle()
    (table,) = report.tables
    assert not table.failed, table.errors
    (manifest,) = _manifests(s3, "s3_sizes")
    assert (manifest.strategy, manifest.format.compression, manifest.rows) == ("aws_s3", "none", ROWS)
    sizes = []
    seen: list[int] = []
    for f in manifest.files:
        assert f.rows is not None and f.bytes is not None  # one object per call: exact counts per file
        body = s3.get_object(Bucket=BUCKET, Key=PREFIX + f.key)["Body"].read()
        assert len(body) == f.bytes
        parsed = list(csv.reader(io.StringIO(body.decode())))
        assert len(parsed) == f.rows
        seen += [int(r[0]) for r in parsed]
        sizes.append(f.bytes)
    print(f"aws_s3 files (target {TARGET} bytes): {sizes}")
    assert len(sizes) >= 3
    assert max(sizes) <= TARGET * TOLERANCE
    assert sorted(seen) == list(range(1, ROWS + 1))  # the union is the table: nothing lost, nothing twice

    assert table.load["status"] == "SUCCEEDED" and table.load["rows_loaded"] == ROWS
    assert _target_summary(h, "s3_sizes") == _source_summary(pg, "s3_sizes")
    assert h.query('SELECT "PAYLOAD" FROM "ANALYTICS"."PUBLIC"."S3_SIZES" WHERE "ID" = 12345')[0][0] == (
        _one(pg, "SELECT payload FROM public.s3_sizes WHERE id = 12345")
    )
    assert h.watermark("s3_sizes") == str(ROWS)
    runs = h.query(f"SELECT STATUS, ROWS_LOADED, ERROR FROM {h.control('RUNS')} WHERE SOURCE_TABLE = 's3_sizes'")
    assert runs == [("SUCCEEDED", ROWS, None)]

    # a small incremental window: one call, its query unsplit, one file
    cur.execute("UPDATE public.s3_sizes SET payload = 'changed', v = v + %s WHERE id %% 1000 = 0", (ROWS,))
    cur.execute(
        "INSERT INTO public.s3_sizes SELECT g, 'new', g + %s, now() FROM generate_series(%s, %s) g",
        (ROWS, ROWS + 1, ROWS + 50),
    )
    (table,) = h.cycle().tables
    assert not table.failed, table.errors
    newest = [m for m in _manifests(s3, "s3_sizes") if m.window.low == str(ROWS)]
    assert [(len(m.files), m.rows) for m in newest] == [(1, 350)]
    assert _target_summary(h, "s3_sizes") == _source_summary(pg, "s3_sizes")
    assert h.watermark("s3_sizes") == str(2 * ROWS + 50)


def _one(pg, sql: str):
    cur = pg.cursor()
    cur.execute(sql)
    return cur.fetchone()[0]


def test_each_chunk_of_a_chunked_aws_s3_export_is_split_within_its_own_block_range(pg, endpoints, s3, aurora):
    from lambda_exporter.event import ExportRequest, S3Target
    from lambda_exporter.exporter import run_export
    from lambda_exporter.source import connect

    rows = 400_000  # about 46 MB of CSV: each chunk more than one file
    cur = pg.cursor()
    name = 's3 "Chunked".x'  # a crafted name: quotes, a space, a dot (SQL text, regclass, S3 keys)
    quoted = 'public."s3 ""Chunked"".x"'
    cur.execute(f'CREATE TABLE {quoted} (id bigint PRIMARY KEY, payload text NOT NULL, "V v" bigint NOT NULL)')
    cur.execute(
        f"INSERT INTO {quoted} SELECT g, md5(g::text) || md5((g * 3)::text) "
        "|| md5((g * 7)::text), g FROM generate_series(1, %s) g",
        (rows,),
    )
    cur.execute(f"ANALYZE {quoted}")
    request = ExportRequest(
        schema="public",
        table=name,
        mode="incremental",
        s3=S3Target(BUCKET, PREFIX, REGION),
        watermark_column="V v",
        late_row_guard=False,
        strategy="aws_s3",
        max_file_bytes=MAX_FILE_MB * 1024 * 1024,
        chunks=2,
        parallelism=2,
    )
    conn = connect(endpoints.pg_dsn)
    try:
        result = run_export(conn, s3, request, connect_worker=lambda: connect(endpoints.pg_dsn))
    finally:
        conn.close()
    manifests = sorted(_manifests(s3, name), key=lambda m: m.chunk_index)
    assert [(m.chunk_index, m.chunk_count) for m in manifests] == [(0, 2), (1, 2)]
    assert result.rows == sum(m.rows for m in manifests) == rows
    seen: list[int] = []
    for m in manifests:
        assert len(m.files) >= 2
        for f in m.files:
            body = s3.get_object(Bucket=BUCKET, Key=PREFIX + f.key)["Body"].read()
            assert len(body) == f.bytes <= TARGET * TOLERANCE
            ids = [int(r[0]) for r in csv.reader(io.StringIO(body.decode()))]
            assert len(ids) == f.rows
            seen += ids
        print(f"chunk {m.chunk_index}: files {[f.bytes for f in m.files]}")
    assert sorted(seen) == list(range(1, rows + 1))
