"""Chunked exports: one window, one snapshot, N manifests; the loader applies them as one batch."""

from __future__ import annotations

import json

import boto3
import psycopg2
import pytest

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from lambda_exporter.errors import SourceError
from lambda_exporter.exporter import run_export
from lambda_exporter.source import connect
from sync_contract.manifest import manifest_prefix, parse_manifest


class Workers:
    """Worker connections for the chunks; `fail_on` makes one of them drop, as a network reset would."""

    def __init__(self, dsn: str, fail_on: int | None = None) -> None:
        self.dsn, self.fail_on, self.calls = dsn, fail_on, 0

    def __call__(self):
        self.calls += 1
        if self.calls == self.fail_on:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return connect(self.dsn)


def _manifests(s3, table: str) -> list:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", table)).get("Contents", [])
    return [parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())) for o in listed]


def _export(harness, endpoints, table: str, workers: Workers | None, **overrides):
    spec = next(t for t in harness.config.tables if t.source_table == table)
    request = export_request(harness.config, spec, None)
    request = request.__class__(**{**request.__dict__, "s3": request.s3.__class__(BUCKET, PREFIX, REGION), **overrides})
    conn = connect(endpoints.pg_dsn)
    try:
        return run_export(
            conn,
            boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION),
            request,
            connect_worker=workers,
        )
    finally:
        conn.close()


@pytest.fixture
def s3(endpoints):
    return boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)


def test_three_chunks_make_three_manifests_that_load_as_one_batch(pg, endpoints, harness, s3):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.chunky (id int PRIMARY KEY, payload text, v int NOT NULL)")
    cur.execute("INSERT INTO public.chunky SELECT g, md5(g::text), g FROM generate_series(1, 50000) g")
    harness.add("public.chunky", ["id"], "v", late_row_guard="false")
    workers = Workers(endpoints.pg_dsn, fail_on=2)  # one chunk loses its connection once and is retried alone
    result = _export(harness, endpoints, "chunky", workers, chunks=3, parallelism=2)

    assert workers.calls == 4  # 3 chunks + 1 retry of the failed one
    manifests = sorted(_manifests(s3, "chunky"), key=lambda m: m.chunk_index)
    assert [(m.chunk_index, m.chunk_count) for m in manifests] == [(0, 3), (1, 3), (2, 3)]
    assert sum(m.rows for m in manifests) == result.rows == 50_000
    assert all(m.rows > 0 for m in manifests)
    assert {(m.window.low, m.window.high, m.created_at) for m in manifests} == {
        (None, "50000", manifests[0].created_at)
    }

    (table,) = harness.cycle(export=False).tables
    assert (table.load["manifests"], table.load["rows_loaded"], table.load["rows_inserted"]) == (3, 50_000, 50_000)
    assert harness.query('SELECT COUNT(*), COUNT(DISTINCT "ID") FROM "ANALYTICS"."PUBLIC"."CHUNKY"')[0] == (50_000,) * 2
    assert harness.watermark("chunky") == "50000"


def test_an_export_missing_a_chunk_waits_and_is_superseded_by_a_complete_rerun(pg, endpoints, harness, s3):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.chunk_rerun (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.chunk_rerun SELECT g, g FROM generate_series(1, 30000) g")
    harness.add("public.chunk_rerun", ["id"], "v", late_row_guard="false")
    _export(harness, endpoints, "chunk_rerun", Workers(endpoints.pg_dsn), chunks=3)
    lost = next(m for m in _manifests(s3, "chunk_rerun") if m.chunk_index == 2)
    key = PREFIX + f"{manifest_prefix('public', 'chunk_rerun')}{lost.export_id}.json"
    s3.delete_object(Bucket=BUCKET, Key=key)  # as if the exporter was killed before chunk 2's manifest

    (table,) = harness.cycle(export=False).tables
    assert (table.load["status"], table.load["rows_loaded"], table.load["waiting_batches"]) == ("NO_CHANGE", 0, 1)
    assert harness.watermark("chunk_rerun") is None

    workers = Workers(endpoints.pg_dsn)
    _export(harness, endpoints, "chunk_rerun", workers, chunks=3)
    assert workers.calls == 3  # a new snapshot: every chunk again (block ranges differ between snapshots)
    (table,) = harness.cycle(export=False).tables
    assert (table.load["manifests"], table.load["rows_loaded"], table.load["waiting_batches"]) == (3, 30_000, 0)
    assert harness.query('SELECT COUNT(*), COUNT(DISTINCT "ID") FROM "ANALYTICS"."PUBLIC"."CHUNK_RERUN"')[0] == (
        30_000,
        30_000,
    )
    statuses = harness.query(
        f"SELECT STATUS, COUNT(*) FROM {harness.control('MANIFESTS')} WHERE SOURCE_TABLE = 'chunk_rerun' "
        "GROUP BY STATUS ORDER BY STATUS"
    )
    assert [tuple(r) for r in statuses] == [("LOADED", 3), ("SUPERSEDED", 2)]


def test_a_chunked_full_snapshot_deletes_only_keys_missing_from_every_chunk(pg, endpoints, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.chunk_full (id int PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.chunk_full SELECT g, 'n' || g FROM generate_series(1, 20000) g")
    h = harness.add("public.chunk_full", ["id"], None, chunks="4")
    assert not h.cycle().failed
    cur.execute("DELETE FROM public.chunk_full WHERE id % 1000 = 0")
    cur.execute("UPDATE public.chunk_full SET name = 'changed' WHERE id % 777 = 0")
    (table,) = h.cycle().tables
    assert table.export["chunks"] == 4
    assert (table.load["rows_deleted"], table.load["rows_updated"]) == (20, 25)
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."CHUNK_FULL"')[0][0] == 19_980


def test_a_view_cannot_be_chunked(pg, endpoints, harness):
    pg.cursor().execute("CREATE VIEW public.chunk_view AS SELECT g AS id, g AS v FROM generate_series(1, 10) g")
    harness.add("public.chunk_view", ["id"], "v", late_row_guard="false")
    with pytest.raises(SourceError, match="is a view: a chunked export needs a table"):
        _export(harness, endpoints, "chunk_view", Workers(endpoints.pg_dsn), chunks=2)
