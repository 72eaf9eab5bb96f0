"""Intake and monitoring edges, and the consumer account settings the product cannot choose (issue 12,
items 4 and 5): manifests whose load status is unknown, INBOX documents without a string export_id,
TABLE_STATUS's lag of integer watermarks, date/time input formats, key collation."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs import control_tables, datetime_text, sql
from stored_procs.loading import intake_sql
from stored_procs.loading.intake import clean_inbox
from stored_procs.monitoring.views import view_ddl
from sync_contract.manifest import manifest_key, manifest_prefix
from sync_contract.types import Kind, TypeMapping
from tests.integration.signed import signed_body

pytestmark = pytest.mark.integration


def _s3(h: Any) -> Any:
    return boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)


def _ledger(h: Any, table: str) -> list[tuple[str, str, str | None]]:
    rows = h.query(
        f"SELECT EXPORT_ID, STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? ORDER BY EXPORT_ID",
        table,
    )
    return [(r[0], r[1], r[2]) for r in rows]


def test_the_manifest_copy_loads_files_of_unknown_load_status(pg, harness):
    """F6: LOAD_UNCERTAIN_FILES = TRUE on the intake COPY; the emulator accepts it and intake takes the
    manifest in (the ledger row, then the target's rows). An INBOX re-created has no load metadata: its
    COPY reads the manifest again, and the ledger still holds it once."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_uncertain (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.as_uncertain SELECT g, g FROM generate_series(1, 5) g")
    h = harness.add("public.as_uncertain", ["id"], "v", late_row_guard="false")
    stmt = intake_sql.copy_manifests(h.config.place, manifest_prefix("public", "as_uncertain"))
    assert stmt.text.endswith("LOAD_UNCERTAIN_FILES=TRUE")
    assert not h.cycle().failed
    [(export_id, status, error)] = _ledger(h, "as_uncertain")
    assert (status, error) == ("LOADED", None)
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."AS_UNCERTAIN"')[0][0] == 5
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0

    h.query(f"CREATE OR REPLACE TABLE {h.control('INBOX')} ({control_tables.CONTROL_TABLES['INBOX']})")
    copied = h.query(stmt.text)
    assert [(r[1], r[3]) for r in copied] == [("LOADED", 1)]  # (status, rows loaded) of the one manifest
    assert not h.cycle(export=False).failed
    assert _ledger(h, "as_uncertain") == [(export_id, "LOADED", None)]
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."AS_UNCERTAIN"')[0][0] == 5


BAD_EXPORT_IDS = {"json_null": None, "number": 12345, "object": {"id": "x"}, "missing": ...}


def test_inbox_documents_without_a_string_export_id_are_recorded_and_removed(pg, harness):
    """F8: export_id a JSON null (a VARIANT null, for which IS NULL is false), a number, an object, or
    missing: each is recorded QUARANTINED under an invalid-… id naming the field, and INBOX is empty
    after the intake; the good manifest of the same table, in the same batch, loads."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_inbox (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.as_inbox SELECT g, g FROM generate_series(1, 7) g")
    h = harness.add("public.as_inbox", ["id"], "v", late_row_guard="false")
    good = h.exporter.export(export_request(h.config, h.config.tables[0], None))
    key = PREFIX + manifest_key("public", "as_inbox", good["export_id"])
    doc = json.loads(_s3(h).get_object(Bucket=BUCKET, Key=key)["Body"].read())
    for name, value in BAD_EXPORT_IDS.items():
        bad = {k: v for k, v in doc.items() if k != "export_id"}
        if value is not ...:
            bad["export_id"] = value
        body = signed_body(bad)
        _s3(h).put_object(Bucket=BUCKET, Key=PREFIX + manifest_key("public", "as_inbox", f"bad-{name}"), Body=body)

    report = h.cycle(export=False)
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0
    ledger = _ledger(h, "as_inbox")
    assert (good["export_id"], "LOADED", None) in ledger
    bad_rows = [(e, s, err) for e, s, err in ledger if e != good["export_id"]]
    assert len(bad_rows) == len(BAD_EXPORT_IDS)
    for export_id, status, error in bad_rows:
        assert export_id.startswith("invalid-") and status == "QUARANTINED"
        assert "export_id" in error and "must be a non-empty string" in error
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."AS_INBOX"')[0] == (7, 28)
    assert h.watermark("as_inbox") == "7"
    assert next(t for t in report.tables if t.spec.source_table == "as_inbox").load["rows_loaded"] == 7
    # a second intake finds nothing left to read and records nothing twice
    h.cycle(export=False)
    assert _ledger(h, "as_inbox") == ledger
    assert "AS_VARCHAR(DOC:export_id) IS NULL" in clean_inbox(h.config.place).text


def test_table_status_has_a_lag_for_timestamp_watermarks_only(pg, harness):
    """F7: an integer watermark (12345) has no lag (TRY_CAST would read it as seconds since 1970, ~29.6
    million minutes); a timestamptz one an hour old has a lag of about 60 minutes."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_lag_int (id int PRIMARY KEY, seq bigint NOT NULL)")
    cur.execute("INSERT INTO public.as_lag_int VALUES (1, 12340), (2, 12345)")
    cur.execute("CREATE TABLE public.as_lag_tz (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.as_lag_tz VALUES (1, now() - interval '61 minutes')")
    h = harness.add("public.as_lag_int", ["id"], "seq", late_row_guard="false").add(
        "public.as_lag_tz", ["id"], "updated_at", late_row_guard="false"
    )
    report = h.cycle()
    assert not report.failed, [t.load.get("error") for t in report.tables]
    for stmt in view_ddl(h.config.place, h.control_schema).values():
        h.query(stmt.text)
    rows = h.query(f"SELECT SOURCE_TABLE, WATERMARK, WATERMARK_LAG_MINUTES FROM {h.control('TABLE_STATUS')} ORDER BY 1")
    (int_table, int_wm, int_lag), (tz_table, tz_wm, tz_lag) = rows
    assert (int_table, int_wm, int_lag) == ("as_lag_int", "12345", None)
    assert tz_table == "as_lag_tz" and tz_wm.endswith("+00") and 60 <= tz_lag <= 62
    kinds = h.query(f"SELECT SOURCE_TABLE, WATERMARK_KIND FROM {h.control('WATERMARKS')} ORDER BY 1")
    assert [tuple(k) for k in kinds] == [("as_lag_int", "integer"), ("as_lag_tz", "timestamp_tz")]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT CAST(? AS TIMESTAMP_NTZ) AS X",
        "SELECT TRY_CAST(? AS DATE) AS X",
        "SELECT TO_DATE(?) AS X",
        "SELECT TO_TIME(?) AS X",
        "SELECT CAST(t.C AS TIMESTAMP_NTZ(6)) AS X FROM (SELECT CAST(? AS VARCHAR) AS C) AS t",
    ],
)
def test_the_emulator_refuses_text_converted_to_a_time_without_a_format(harness, query):
    """Item 5: the emulator behaves like an account whose *_INPUT_FORMAT is not AUTO, so a formatless
    conversion the product might send again fails the tests; with the format it converts."""
    with pytest.raises(SnowparkSQLException, match="without a format"):
        harness.query(query, "2026-03-01 12:34:56")

    def converted(column: str, kind: Kind, sql_type: str) -> str:
        return datetime_text.from_text(f's."{column}"', TypeMapping(kind, sql_type))

    texts = {
        "A": "2026-03-01 12:34:56.5",
        "B": "2026-03-01 12:34:56",  # PostgreSQL leaves out a zero fraction
        "C": "2026-03-01 12:34:56+00",  # and an offset's zero minutes in max(col)::text
        "D": "23:59:59.999999",
        "E": "2026-03-01",
    }
    kinds = {
        "A": (Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)"),
        "B": (Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)"),
        "C": (Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)"),
        "D": (Kind.TIME, "TIME(6)"),
        "E": (Kind.DATE, "DATE"),
    }
    select = ", ".join(f"{converted(c, *kinds[c])} AS {c}" for c in texts)
    staged = ", ".join(f'CAST(? AS VARCHAR) AS "{c}"' for c in texts)
    values = harness.query(f"SELECT {select} FROM (SELECT {staged}) AS s", *texts.values())[0]
    assert [str(v) for v in values] == [
        "2026-03-01 12:34:56.500000",
        "2026-03-01 12:34:56",
        "2026-03-01 12:34:56+00:00",
        "23:59:59.999999",
        "2026-03-01",
    ]


def test_the_emulator_refuses_a_formatless_conversion_inside_a_merge_source(harness):
    """The MERGE the load sends converts staged text in its source: the emulator splits a MERGE into
    statements of its own, and checks it before, so a formatless CAST there fails too."""
    table = f'"ANALYTICS"."{harness.control_schema}"."MERGE_FORMATS"'
    harness.query(f'CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."{harness.control_schema}"')
    harness.query(f'CREATE OR REPLACE TABLE {table} ("D" DATE)')

    def merge(conversion: str) -> str:
        return (
            f'MERGE INTO {table} AS t USING (SELECT {conversion} AS "D" FROM (SELECT CAST(? AS VARCHAR) AS "C") AS c) '
            'AS s ON t."D" = s."D" WHEN NOT MATCHED THEN INSERT ("D") VALUES (s."D")'
        )

    with pytest.raises(SnowparkSQLException, match="without a format"):
        harness.query(merge('CAST(c."C" AS DATE)'), "2026-03-01")
    harness.query(merge(datetime_text.from_text('c."C"', TypeMapping(Kind.DATE, "DATE"))), "2026-03-01")
    assert [str(r[0]) for r in harness.query(f"SELECT * FROM {table}")] == ["2026-03-01"]


def test_text_keys_differing_only_in_case_stay_distinct_rows(pg, harness):
    """Item 5: keys 'a' / 'A' and 'ß' / 'SS' / 'ss' are five rows, updated one by one; the target's and
    the staging table's text columns carry COLLATE 'utf8', so an account DEFAULT_DDL_COLLATION such as
    'en-ci' cannot make them one key."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.as_case (k text PRIMARY KEY, v int NOT NULL, note varchar(10))")
    cur.execute(
        "INSERT INTO public.as_case VALUES ('a', 1, 'x'), ('A', 2, 'X'), ('ß', 3, 'y'), ('SS', 4, 'Y'), ('ss', 5, 'z')"
    )
    h = harness.add("public.as_case", ["k"], "v", late_row_guard="false")
    assert not h.cycle().failed
    cur.execute("UPDATE public.as_case SET v = v + 10, note = upper(note) WHERE k IN ('a', 'ss')")
    assert not h.cycle().failed
    rows = h.query('SELECT "K", "V", "NOTE" FROM "ANALYTICS"."PUBLIC"."AS_CASE" ORDER BY "V"')
    assert [tuple(r) for r in rows] == [("A", 2, "X"), ("ß", 3, "y"), ("SS", 4, "Y"), ("a", 11, "X"), ("ss", 15, "Z")]
    spec = h.config.tables[0]
    columns = [("K", TypeMapping(Kind.TEXT, "VARCHAR")), ("V", TypeMapping(Kind.INTEGER, "NUMBER(38,0)"))]
    ddl = sql.create_target(spec, "ANALYTICS", columns).text
    assert ddl.endswith('("K" VARCHAR COLLATE \'utf8\', "V" NUMBER(38,0))')
    staging = sql.create_staging(h.config.place, spec, [m for _, m in columns]).text
    assert '("C1" VARCHAR(134217728) COLLATE \'utf8\', "C2" VARCHAR(134217728))' in staging


def test_postgresql_date_and_time_text_converts_with_explicit_formats_on_both_load_paths(pg, harness):
    """Item 5: PostgreSQL's text for each date/time type, as the exporter writes it (no fraction when it is
    zero, timestamp(0), a `+00:00` offset), converts with the explicit formats on the first load (the
    replace's INSERT … SELECT) and on the next (MERGE); a year past 9999, a BC timestamp and ±infinity are
    set aside with their reasons, as before."""
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.as_pgtext (id int PRIMARY KEY, d date, ts timestamp(0), tz timestamptz(0), "
        "t time(0), f timestamptz, v int NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.as_pgtext VALUES "
        "(1, '2026-03-01', '2026-03-01 12:34:56', '2026-03-01 12:34:56+00', '12:34:56', NULL, 1), "
        "(2, '10000-01-01', NULL, NULL, NULL, NULL, 1), "
        "(3, NULL, '0044-03-15 12:00:00 BC', NULL, NULL, NULL, 1), "
        "(4, NULL, NULL, 'infinity', NULL, NULL, 1)"
    )
    h = harness.add("public.as_pgtext", ["id"], "v", late_row_guard="false")
    (first,) = h.cycle().tables
    assert (first.load["status"], first.load["rows_inserted"], first.load["rows_quarantined"]) == ("SUCCEEDED", 1, 3)
    cur.execute("UPDATE public.as_pgtext SET ts = '2026-03-02 00:00:00', t = '00:00:00', v = 2 WHERE id = 1")
    cur.execute(
        "INSERT INTO public.as_pgtext VALUES (5, '0001-01-01', '9999-12-31 23:59:59', '2026-03-01 23:00:00-05', "
        "'23:59:59', '2026-03-01 12:34:56.123456+00', 2)"
    )
    (second,) = h.cycle().tables
    assert (second.load["status"], second.load["rows_inserted"], second.load["rows_updated"]) == ("SUCCEEDED", 1, 1)
    rows = h.query(
        'SELECT "ID", "D", "TS", "TZ", "T", "F" IS NULL, "F" FROM "ANALYTICS"."PUBLIC"."AS_PGTEXT" ORDER BY "ID"'
    )
    # (a NULL timestamp reads back through this stack's connector as 1970-01-01: F IS NULL says what is stored)
    assert [tuple(str(v) for v in r[:6]) for r in rows] == [
        ("1", "2026-03-01", "2026-03-02 00:00:00", "2026-03-01 12:34:56+00:00", "00:00:00", "True"),
        ("5", "0001-01-01", "9999-12-31 23:59:59", "2026-03-02 04:00:00+00:00", "23:59:59", "False"),
    ]
    assert str(rows[1][6]) == "2026-03-01 12:34:56.123456+00:00"
    reasons = h.query(f"SELECT PRIMARY_KEY, REASON FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'as_pgtext'")
    by_id = {json.loads(r[0])["ID"]: r[1] for r in reasons}
    assert "D (date): a BC date or a year past 9999" in by_id["2"]
    assert "TS (timestamp(0) without time zone): a BC date or a year past 9999" in by_id["3"]
    assert "TZ (timestamp(0) with time zone): ±infinity" in by_id["4"]
