"""Schema, table and column names holding `%` (psycopg2's placeholder character: `%`, `%s`, `%(x)s`,
`%%`) with quotes and spaces, through every path that builds PostgreSQL SQL from names: the copy
strategy (COPY of a bound SELECT), the window and the late-row guard, a full-mode table (fingerprint,
change token), key-set exports (delete detection), both reconciles (exact, and bucketed in process and
through the Lambda handler), the aws_s3 strategy (the SELECT handed to query_export_to_s3 as a value,
EXPLAIN, pieces) and a fan-out export (key ranges, sampled percentiles, range fingerprints). The values
in the target must be the source's, the watermark the source's newest value."""

from __future__ import annotations

import json

import boto3
import pytest

from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from aurora_sync.stack.aws_s3_emulator import install
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from sync_contract.manifest import manifest_prefix, parse_manifest
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration

SCHEMA = "a%b"
TABLE = 'pct%s"tbl'
FULL = "full %(y)s"
S3_TABLE = "s3 %s 100%"
FAN = "fan %% it's %(k)s"
# column names: a bare %, a named placeholder, a trailing %, an escaped %, a placeholder with a space
V, X, FIFTY, ESC, UPD = "v%", "%(x)s", "50%", "%%", "upd %s"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def src(table: str) -> str:
    return f"{q(SCHEMA)}.{q(table)}"


def tgt(table: str) -> str:
    return f'"ANALYTICS".{q(SCHEMA.upper())}.{q(table.upper())}'


def source_rows(pg, table: str, columns: list[str]) -> list[tuple]:
    cur = pg.cursor()
    cur.execute(f"SELECT {', '.join(q(c) for c in columns)} FROM {src(table)} ORDER BY 1")
    return [tuple(r) for r in cur.fetchall()]


def target_rows(h: Harness, table: str, columns: list[str]) -> list[tuple]:
    text = f"SELECT {', '.join(q(c.upper()) for c in columns)} FROM {tgt(table)} ORDER BY 1"
    return [tuple(r) for r in h.query(text)]


def reconciled_clean(h: Harness, source: str) -> None:
    """Exact (aurora-sync reconcile's own comparison), bucketed in process and through the Lambda."""
    config = h.config
    spec = next(t for t in config.tables if t.source_table == source)
    (exact,) = reconcile(h.snow, config.source_dsn, config.database, [spec])
    assert exact.error is None and exact.clean, (exact.error, exact.missing, exact.extra, exact.different)
    assert exact.source_rows == exact.target_rows > 0
    local = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    for answer in (local.reconcile, h.exporter.reconcile):
        bucketed = reconcile_table(h.snow, config.place, config.database, spec, answer, new_run_id())
        assert bucketed["status"] == "CLEAN", bucketed


@pytest.fixture
def schema(pg):
    pg.cursor().execute(f"CREATE SCHEMA IF NOT EXISTS {q(SCHEMA)}")


def test_percent_names_copy_incremental_full_and_deletes(pg, schema, harness):
    cur = pg.cursor()
    cur.execute("SET TimeZone = 'UTC'")
    cur.execute(
        f"CREATE TABLE {src(TABLE)} (id int PRIMARY KEY, {q(V)} text, {q(X)} numeric(10,2), {q(FIFTY)} int, "
        f"{q(ESC)} text, {q(UPD)} timestamptz NOT NULL)"
    )
    cur.execute(
        f"INSERT INTO {src(TABLE)} SELECT g, 'v%' || g || '%s', g * 1.5, g % 7, '%%(x)s' || g, "
        "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 50) g"
    )
    cur.execute(f"CREATE TABLE {src(FULL)} ({q(ESC)} int PRIMARY KEY, {q(V)} text, {q('%s')} text)")
    cur.execute(f"INSERT INTO {src(FULL)} SELECT g, '%' || g, '%(y)s' FROM generate_series(1, 20) g")
    h = harness.add(
        src(TABLE), ["id"], UPD, delete_detection="'delete'", keys_interval_hours="0", lookback='"1 minute"'
    ).add(src(FULL), [ESC])
    columns = ["id", V, X, FIFTY, ESC, UPD]

    report = h.cycle()
    assert not report.failed, [(t.spec.source_table, t.errors, t.load) for t in report.tables]
    assert target_rows(h, TABLE, columns[:5]) == source_rows(pg, TABLE, columns[:5])
    assert target_rows(h, FULL, [ESC, V, "%s"]) == source_rows(pg, FULL, [ESC, V, "%s"])
    assert h.watermark(TABLE) == "2026-01-01 00:50:00+00"

    # a change, a new row (above the watermark), a deleted row (found by the key-set export)
    cur.execute(f"UPDATE {src(TABLE)} SET {q(V)} = 'changed %', {q(UPD)} = {q(UPD)} + interval '1 hour' WHERE id = 3")
    cur.execute(f"INSERT INTO {src(TABLE)} VALUES (51, '%(x)s', 99.25, 50, '%', '2026-01-01 02:00:00+00')")
    cur.execute(f"DELETE FROM {src(TABLE)} WHERE id = 7")
    cur.execute(f"UPDATE {src(FULL)} SET {q(V)} = '100%' WHERE {q(ESC)} = 2")
    cur.execute(f"DELETE FROM {src(FULL)} WHERE {q(ESC)} = 1")
    report = h.cycle()
    assert not report.failed, [(t.spec.source_table, t.errors, t.load) for t in report.tables]
    assert target_rows(h, TABLE, columns[:5]) == source_rows(pg, TABLE, columns[:5])
    assert 7 not in {r[0] for r in target_rows(h, TABLE, ["id"])}
    assert target_rows(h, FULL, [ESC, V, "%s"]) == source_rows(pg, FULL, [ESC, V, "%s"])
    assert h.watermark(TABLE) == "2026-01-01 02:00:00+00"
    assert any(m.mode == "keys" for m in _manifests(TABLE))  # the deletion came from a key-set export
    reconciled_clean(h, TABLE)
    reconciled_clean(h, FULL)


class AwsS3Harness(Harness):
    @property
    def toml(self) -> str:
        return super().toml.replace("[exporter]\n", '[exporter]\nstrategy = "aws_s3"\nmax_file_mb = 5\n', 1)


def test_percent_names_through_the_aws_s3_strategy_in_pieces(pg, schema, stack, snow, endpoints):
    install(endpoints.pg_dsn, endpoints.s3_endpoint, endpoints.workdir)
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE {src(S3_TABLE)} (id int PRIMARY KEY, {q(V)} text, {q(X)} int NOT NULL)")
    # ~16 MB of CSV, past half a file (pieces.target_csv_bytes(5 MiB) ~ 17.5 MB): split into block ranges
    cur.execute(
        f"INSERT INTO {src(S3_TABLE)} SELECT g, '%s' || repeat('%', 120) || g, g FROM generate_series(1, 120000) g"
    )
    cur.execute(f"ANALYZE {src(S3_TABLE)}")
    h = AwsS3Harness(stack, snow).add(src(S3_TABLE), ["id"], X, late_row_guard="false")

    report = h.cycle()
    assert not report.failed, [(t.errors, t.load) for t in report.tables]
    (manifest,) = _manifests(S3_TABLE)
    assert manifest.strategy == "aws_s3" and manifest.rows == 120000 and len(manifest.files) >= 2
    summary = f"SELECT COUNT(*), SUM({q('ID')}), SUM(LENGTH({q(V.upper())})), MAX({q(X.upper())}) FROM {tgt(S3_TABLE)}"
    cur.execute(f"SELECT count(*), sum(id), sum(length({q(V)})), max({q(X)}) FROM {src(S3_TABLE)}")
    assert tuple(h.query(summary)[0]) == tuple(cur.fetchone())
    assert target_rows(h, S3_TABLE, ["id", V])[:3] == source_rows(pg, S3_TABLE, ["id", V])[:3]
    assert h.watermark(S3_TABLE) == "120000"
    reconciled_clean(h, S3_TABLE)


def test_percent_names_through_a_fan_out_export(pg, schema, harness):
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE {src(FAN)} ({q('k%')} text PRIMARY KEY, {q(X)} int NOT NULL, {q(ESC)} text)")
    cur.execute(f"INSERT INTO {src(FAN)} SELECT 'k%' || lpad(g::text, 5, '0'), g, '%%' FROM generate_series(1, 3000) g")
    cur.execute(f"ANALYZE {src(FAN)}")
    h = harness.add(src(FAN), ["k%"], X, late_row_guard="false", max_rows_per_invocation="1000")

    report = h.cycle()
    (table,) = report.tables
    assert not table.errors and table.export is not None, table.errors
    assert table.export["chunks"] >= 3 and table.export["invocations"] == table.export["chunks"] + 1
    assert target_rows(h, FAN, ["k%", X, ESC]) == source_rows(pg, FAN, ["k%", X, ESC])
    assert h.watermark(FAN) == "3000"
    reconciled_clean(h, FAN)


def _manifests(table: str) -> list:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=_S3["endpoint"])
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix(SCHEMA, table)).get("Contents", [])
    return [parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())) for o in listed]


_S3: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _s3_endpoint(endpoints):
    _S3["endpoint"] = endpoints.s3_endpoint


def test_percent_names_in_chunked_and_partitioned_exports(pg, schema, harness):
    """Chunks on worker connections sharing one snapshot: block ranges of a plain table, and a partitioned
    table read through its leaf partitions, whose names (from the catalog) hold `%` too."""
    parts, plain = "parts %s", "chunked 100%"
    cur = pg.cursor()
    cur.execute(
        f"CREATE TABLE {src(parts)} (id int PRIMARY KEY, {q(V)} text, {q(X)} int NOT NULL) PARTITION BY RANGE (id)"
    )
    cur.execute(f"CREATE TABLE {q(SCHEMA)}.{q('p%1')} PARTITION OF {src(parts)} FOR VALUES FROM (1) TO (1001)")
    cur.execute(f"CREATE TABLE {q(SCHEMA)}.{q('p %(2)s')} PARTITION OF {src(parts)} FOR VALUES FROM (1001) TO (2001)")
    cur.execute(f"CREATE TABLE {q(SCHEMA)}.{q('p%%rest')} PARTITION OF {src(parts)} DEFAULT")
    cur.execute(f"INSERT INTO {src(parts)} SELECT g, '%' || g, g FROM generate_series(1, 2500) g")
    cur.execute(f"CREATE TABLE {src(plain)} (id int PRIMARY KEY, {q(V)} text, {q(X)} int NOT NULL)")
    cur.execute(f"INSERT INTO {src(plain)} SELECT g, repeat('%s', 20) || g, g FROM generate_series(1, 5000) g")
    h = harness.add(src(parts), ["id"], X, chunks="3", late_row_guard="false")
    h.add(src(plain), ["id"], X, chunks="3", late_row_guard="false")

    report = h.cycle()
    assert not report.failed, [(t.spec.source_table, t.errors, t.load) for t in report.tables]
    for table, rows in ((parts, 2500), (plain, 5000)):
        manifests = _manifests(table)
        assert len(manifests) == 3 and sum(m.rows for m in manifests) == rows, table
        assert target_rows(h, table, ["id", V, X]) == source_rows(pg, table, ["id", V, X])
        assert h.watermark(table) == str(rows)
