"""Chunked exports of relations without plain block ranges: a declaratively partitioned table chunks by
its leaf partitions (one snapshot), a materialized view by block ranges, and a view or a foreign table is
refused with a message naming what it is and the fix."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from lambda_exporter.errors import SourceError
from lambda_exporter.exporter import ExportResult, run_export
from lambda_exporter.source import connect
from sync_contract.manifest import manifest_prefix, parse_manifest
from tests.integration.test_chunks import Workers

pytestmark = pytest.mark.integration


def _manifests(endpoints, table: str) -> list:
    s3 = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", table)).get("Contents", [])
    return [parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())) for o in listed]


def _export(harness, endpoints, table: str, workers: Workers, chunks: int, dsn: str | None = None) -> ExportResult:
    """The exporter's code on `dsn` (default: the stack's superuser) with its chunks on `workers`."""
    spec = next(t for t in harness.config.tables if t.source_table == table)
    request = export_request(harness.config, spec, None)
    request = request.__class__(**{**request.__dict__, "chunks": chunks})
    conn = connect(dsn or endpoints.pg_dsn)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
        return run_export(conn, s3, request, connect_worker=workers)
    finally:
        conn.close()


def _partitioned(cur, name: str) -> None:
    """Range partitions by id (one of them sub-partitioned by list), a default partition, 9,000 rows."""
    cur.execute(
        f"CREATE TABLE public.{name} (id int NOT NULL, region text NOT NULL, amount numeric(10,2), "
        "v int NOT NULL, PRIMARY KEY (id, region)) PARTITION BY RANGE (id)"
    )
    cur.execute(f"CREATE TABLE public.{name}_a PARTITION OF public.{name} FOR VALUES FROM (1) TO (3001)")
    cur.execute(f"CREATE TABLE public.{name}_b PARTITION OF public.{name} FOR VALUES FROM (3001) TO (6001)")
    cur.execute(
        f"CREATE TABLE public.{name}_c PARTITION OF public.{name} FOR VALUES FROM (6001) TO (8001) "
        "PARTITION BY LIST (region)"
    )
    cur.execute(f"CREATE TABLE public.{name}_c_eu PARTITION OF public.{name}_c FOR VALUES IN ('eu')")
    cur.execute(f"CREATE TABLE public.{name}_c_us PARTITION OF public.{name}_c FOR VALUES IN ('us')")
    cur.execute(f"CREATE TABLE public.{name}_rest PARTITION OF public.{name} DEFAULT")
    cur.execute(
        f"INSERT INTO public.{name} SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g * 1.25, g "
        "FROM generate_series(1, 9000) g"
    )


def test_a_partitioned_table_chunks_by_its_leaf_partitions_in_one_snapshot(pg, harness):
    cur = pg.cursor()
    _partitioned(cur, "fr_parts")
    h = harness.add("public.fr_parts", ["id", "region"], "v", chunks="3", late_row_guard="false")

    (t,) = h.cycle().tables
    assert not t.failed, t.errors or t.load
    assert (t.export["chunks"], t.export["rows"]) == (3, 9000)
    manifests = _manifests(harness.stack.endpoints, "fr_parts")
    assert sorted((m.chunk_index, m.chunk_count) for m in manifests) == [(0, 3), (1, 3), (2, 3)]
    assert len({m.created_at for m in manifests}) == 1 and all(m.rows > 0 for m in manifests)
    assert (t.load["manifests"], t.load["rows_loaded"], t.load["rows_inserted"]) == (3, 9000, 9000)
    rows = h.query('SELECT "ID", "REGION", "AMOUNT", "V" FROM "ANALYTICS"."PUBLIC"."FR_PARTS" ORDER BY "ID"')
    assert [(r[0], r[1], float(r[2]), r[3]) for r in rows] == [
        (g, "eu" if g % 2 == 0 else "us", g * 1.25, g) for g in range(1, 9001)
    ]
    assert h.watermark("fr_parts") == "9000"

    # the next window, chunked the same way: new rows in three partitions, one row moved across them
    cur.execute("INSERT INTO public.fr_parts VALUES (10, 'x', 1, 9001), (7000, 'us', 2, 9002), (9500, 'eu', 3, 9003)")
    cur.execute("UPDATE public.fr_parts SET id = 9600, v = 9004 WHERE id = 20")  # from _a to the default
    (t,) = h.cycle().tables
    assert not t.failed, t.errors or t.load
    assert (t.export["chunks"], t.export["rows"], t.load["rows_inserted"]) == (3, 4, 4)
    changed = h.query('SELECT "ID", "REGION", "V" FROM "ANALYTICS"."PUBLIC"."FR_PARTS" WHERE "V" > 9000 ORDER BY "V"')
    assert [tuple(r) for r in changed] == [(10, "x", 9001), (7000, "us", 9002), (9500, "eu", 9003), (9600, "eu", 9004)]
    assert (
        h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."FR_PARTS"')[0][0] == 9004
    )  # key (20, eu) stays: no deletes
    assert h.watermark("fr_parts") == "9004"


def test_more_chunks_than_partitions_make_one_chunk_per_partition(pg, endpoints, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fr_two (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id)")
    cur.execute("CREATE TABLE public.fr_two_a PARTITION OF public.fr_two FOR VALUES FROM (1) TO (51)")
    cur.execute("CREATE TABLE public.fr_two_b PARTITION OF public.fr_two FOR VALUES FROM (51) TO (101)")
    cur.execute("INSERT INTO public.fr_two SELECT g, g FROM generate_series(1, 100) g")
    harness.add("public.fr_two", ["id"], "v", late_row_guard="false")
    result = _export(harness, endpoints, "fr_two", Workers(endpoints.pg_dsn), chunks=5)
    assert (len(result.manifest_keys), result.rows) == (2, 100)
    assert sorted(m.rows for m in _manifests(endpoints, "fr_two")) == [50, 50]
    (t,) = harness.cycle(export=False).tables
    assert (t.load["status"], t.load["rows_loaded"]) == ("SUCCEEDED", 100)
    assert harness.query('SELECT SUM("V") FROM "ANALYTICS"."PUBLIC"."FR_TWO"')[0][0] == 5050


def test_partitions_the_exporter_may_not_read_are_named_with_the_grant(pg, endpoints, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fr_locked (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id)")
    cur.execute("CREATE TABLE public.fr_locked_a PARTITION OF public.fr_locked FOR VALUES FROM (1) TO (100)")
    cur.execute("CREATE TABLE public.fr_locked_b PARTITION OF public.fr_locked FOR VALUES FROM (100) TO (200)")
    cur.execute("INSERT INTO public.fr_locked SELECT g, g FROM generate_series(1, 150) g")
    cur.execute("DROP ROLE IF EXISTS fr_reader")
    cur.execute("CREATE ROLE fr_reader LOGIN PASSWORD 'fr-reader-pw'")
    cur.execute("GRANT SELECT ON public.fr_locked, public.fr_locked_a TO fr_reader")
    cur.execute("GRANT pg_read_all_stats TO fr_reader")  # the late-row guard needs it, not the chunks
    parts = urlsplit(endpoints.pg_dsn)
    dsn = urlunsplit(parts._replace(netloc=f"fr_reader:fr-reader-pw@{parts.hostname}:{parts.port}"))
    harness.add("public.fr_locked", ["id"], "v", late_row_guard="false")

    with pytest.raises(SourceError, match="may not SELECT public.fr_locked_b. Grant SELECT on the partitions"):
        _export(harness, endpoints, "fr_locked", Workers(dsn), chunks=2, dsn=dsn)
    assert _export(harness, endpoints, "fr_locked", Workers(dsn), chunks=1, dsn=dsn).rows == 150  # via the parent


def test_a_materialized_view_chunks_by_block_ranges(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE MATERIALIZED VIEW public.fr_mat AS SELECT g AS id, g * 2 AS v FROM generate_series(1, 20000) g")
    h = harness.add("public.fr_mat", ["id"], "v", chunks="3", late_row_guard="false")
    (t,) = h.cycle().tables
    assert not t.failed, t.errors or t.load
    assert (t.export["chunks"], t.load["rows_loaded"]) == (3, 20000)
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."FR_MAT"')[0] == (20000, 20000 * 20001)
    assert h.watermark("fr_mat") == "40000"


def test_a_foreign_table_is_refused_naming_what_it_is(pg, endpoints, harness):
    cur = pg.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS file_fdw")
    cur.execute("CREATE SERVER IF NOT EXISTS fr_files FOREIGN DATA WRAPPER file_fdw")
    cur.execute(
        "CREATE FOREIGN TABLE public.fr_foreign (id int, v int) SERVER fr_files "
        "OPTIONS (program 'printf \"1,1\\\\n2,2\\\\n\"', format 'csv')"
    )
    harness.add("public.fr_foreign", ["id"], "v", late_row_guard="false")
    with pytest.raises(SourceError, match=r"public\.fr_foreign is a foreign table: .*chunks = 1 for this table"):
        _export(harness, endpoints, "fr_foreign", Workers(endpoints.pg_dsn), chunks=2)
    assert _export(harness, endpoints, "fr_foreign", Workers(endpoints.pg_dsn), chunks=1).rows == 2
