import dataclasses

import pytest

from stored_procs import datetime_text, row_sql, sql
from stored_procs.loading import replace
from stored_procs.spec import Place, TableSpec
from sync_contract.types import Kind, TypeMapping
from tests.factories import manifest

PLACE = Place.create("ANALYTICS", "AURORA_SYNC")
SPEC = TableSpec("public", "orders", ("order_id",), watermark_column="updated_at")
COLS = ["ORDER_ID", "AMOUNT", "UPDATED_AT", "NOTE_NO_LONGER_EXPORTED"]  # the target's columns


def test_default_target_is_the_upper_cased_source():
    assert SPEC.target("ANALYTICS") == '"ANALYTICS"."PUBLIC"."ORDERS"'
    assert TableSpec("Sales", "Customer Events", ("Event Id",)).target("DB") == '"DB"."SALES"."CUSTOMER EVENTS"'


def test_copy_lists_files_explicitly_and_fails_on_any_error():
    stmt = sql.copy_data(PLACE, SPEC, ["data/a/x/part-00000.csv.gz"], "gzip")
    assert "FILES=('data/a/x/part-00000.csv.gz')" in stmt.text
    assert "ON_ERROR=ABORT_STATEMENT" in stmt.text
    assert "NULL_IF=()" in stmt.text and "EMPTY_FIELD_AS_NULL=TRUE" in stmt.text
    assert "COMPRESSION=GZIP" in stmt.text
    assert stmt.text.startswith('COPY INTO "ANALYTICS"."AURORA_SYNC"."_STG_PUBLIC_ORDERS_')


@pytest.mark.parametrize("key", ["data/x'); DROP TABLE t; --", "data\\x"])
def test_copy_refuses_keys_that_could_break_the_literal(key):
    with pytest.raises(ValueError, match="not a contract key"):
        sql.copy_data(PLACE, SPEC, [key], "gzip")


def test_copy_takes_at_most_1000_files():
    with pytest.raises(ValueError, match="1..1000"):
        sql.copy_data(PLACE, SPEC, [f"data/f{i}" for i in range(1001)], "gzip")


def test_stage_never_carries_credentials():
    stmt = sql.create_stage(PLACE, "s3://bucket/prefix/", "MY_INT")
    assert stmt.text == (
        'CREATE STAGE IF NOT EXISTS "ANALYTICS"."AURORA_SYNC"."EXPORT_STAGE" URL = \'s3://bucket/prefix/\''
        ' STORAGE_INTEGRATION = "MY_INT"'
    )
    with pytest.raises(ValueError, match="s3://bucket/prefix/"):
        sql.create_stage(PLACE, "s3://bucket/p' CREDENTIALS=(x)/", None)


def test_merge_reads_the_typed_staged_rows_and_only_updates_newer_changed_rows():
    """The load proved the batch's keys unique (batch.check_unique_keys): no ROW_NUMBER pass in the MERGE."""
    text = sql.merge(PLACE, SPEC, manifest(), "ANALYTICS").text
    updated_at = datetime_text.from_text('"C3"', TypeMapping(Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)"))
    assert "ROW_NUMBER" not in text
    assert (
        f'USING (SELECT CAST("C1" AS NUMBER(38,0)) AS "ORDER_ID", CAST("C2" AS NUMBER(12,2)) AS "AMOUNT", '
        f'{updated_at} AS "UPDATED_AT" FROM "ANALYTICS"."AURORA_SYNC".'
    ) in text
    assert 'ON t."ORDER_ID" = s."ORDER_ID"' in text
    assert 'WHEN MATCHED AND (s."UPDATED_AT" >= t."UPDATED_AT") AND (t."AMOUNT" IS DISTINCT FROM s."AMOUNT"' in text
    assert 'WHEN NOT MATCHED THEN INSERT ("ORDER_ID", "AMOUNT", "UPDATED_AT")' in text


def test_deduplicated_source_keeps_the_newest_row_per_key():
    """What replacing and full-mode merges read (replace.py, full_merge.py)."""
    text = sql.deduplicated_source(PLACE, SPEC, manifest())
    updated_at = datetime_text.from_text('"C3"', TypeMapping(Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)"))
    assert (
        f'ROW_NUMBER() OVER (PARTITION BY CAST("C1" AS NUMBER(38,0)) ORDER BY {updated_at} DESC, '
        '"C1" DESC, "C2" DESC, "C3" DESC)' in text
    )
    assert "TO_TIMESTAMP_TZ(" in updated_at and "'YYYY-MM-DD HH24:MI:SS.FF9TZH:TZM')" in updated_at


def test_cast_expressions_restore_each_kind():
    from sync_contract.types import map_type

    assert sql.cast_expression("C1", map_type("jsonb")) == 'PARSE_JSON("C1")'
    assert sql.cast_expression("C1", map_type("int[]")) == 'CAST(PARSE_JSON("C1") AS ARRAY)'
    assert sql.cast_expression("C1", map_type("bytea")) == "TO_BINARY(\"C1\", 'HEX')"
    assert sql.cast_expression("C1", map_type("text")) == '"C1"'
    assert sql.cast_expression("C1", map_type("numeric(38,18)")) == 'CAST("C1" AS NUMBER(38,18))'


def test_bad_value_checks_follow_the_column_kind():
    from stored_procs.loading import quarantine
    from sync_contract.manifest import Column

    assert quarantine.count_bad(PLACE, SPEC, manifest(columns=(manifest().columns[0],))) is not None  # TRY_CAST
    m = manifest(
        columns=(
            *manifest().columns,
            Column("ratio", "numeric", "numeric", True, 4),
            Column("score", "double precision", "double precision", True, 5),
            Column("note", "text", "text", True, 6),
        )
    )
    reasons = [c.reason for c in quarantine.checks(SPEC, m, "r")]
    assert (
        "RATIO (numeric): does not fit NUMBER(38,18) without rounding (raise numeric_scale for the column)" in reasons
    )
    assert "UPDATED_AT (timestamp with time zone): ±infinity has no TIMESTAMP_TZ(6) value" in reasons
    assert "NOTE (text): longer than 16777216 characters" in reasons
    assert not [r for r in reasons if r.startswith("SCORE")]  # FLOAT holds NaN and ±Infinity
    record = quarantine.record(PLACE, SPEC, m, "x1", "run-1", "2026-01-01 00:00:00")
    assert record.text.count("?") == len(record.params)
    assert "NOTE" in record.params and "'NOTE'" not in record.text  # names are bound, never spliced


def test_columns_that_collide_once_upper_cased_are_refused():
    from sync_contract.manifest import Column

    cols = (Column("id", "bigint", "bigint", False, 1, 1), Column("ID", "bigint", "bigint", False, 2))
    with pytest.raises(ValueError, match="collide"):
        sql.target_columns(
            SPEC,
            manifest(
                columns=cols, window=manifest().window.__class__(None, None, "x", "snapshot_fingerprint"), mode="full"
            ),
        )


def test_a_full_snapshot_replaces_through_a_shadow_table_swapped_in_one_statement():
    m = manifest(window=manifest().window.__class__(None, None, "x", "snapshot_fingerprint"), mode="full")
    spec = dataclasses.replace(SPEC, mode="full")
    assert replace.replaces(spec, m)
    assert replace.create_shadow(spec, "ANALYTICS").text == (
        'CREATE TABLE "ANALYTICS"."PUBLIC"."ORDERS__AURORA_SYNC_SHADOW" LIKE "ANALYTICS"."PUBLIC"."ORDERS" COPY GRANTS'
    )
    assert replace.swap(spec, "ANALYTICS").text == (
        'ALTER TABLE "ANALYTICS"."PUBLIC"."ORDERS" SWAP WITH "ANALYTICS"."PUBLIC"."ORDERS__AURORA_SYNC_SHADOW"'
    )
    assert (
        replace.carry_over(PLACE, spec, m, "ANALYTICS", "2026-01-01 00:00:00", COLS) is None
    )  # nothing survives a snapshot


def test_an_incremental_export_from_the_beginning_replaces_and_keeps_rows_newer_than_its_high():
    first = manifest()  # low is None
    m = manifest(window=dataclasses.replace(first.window, low="2026-01-01 00:00:01+00"))
    assert not replace.replaces(SPEC, m) and replace.replaces(SPEC, first)
    carried = replace.carry_over(PLACE, SPEC, first, "ANALYTICS", "2026-01-01 00:00:00", COLS)
    assert carried is not None and carried.params == (first.window.high,)
    assert "> CAST(TO_TIMESTAMP_TZ(REGEXP_REPLACE(REGEXP_REPLACE(?," in carried.text and "NOT EXISTS" in carried.text
    assert '"NOTE_NO_LONGER_EXPORTED"' in carried.text  # every target column is carried
    filled = replace.fill_shadow(PLACE, SPEC, first, "ANALYTICS", COLS).text
    assert 't."NOTE_NO_LONGER_EXPORTED"' in filled and "LEFT JOIN" in filled  # its value stays


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (None, '"DB"."CTL"."EXPORT_STAGE"'),
        ("RAW.EXPORTS", '"DB"."RAW"."EXPORTS"'),
        ('DB.RAW."my.stage"', '"DB"."RAW"."my.stage"'),
    ],
)
def test_stage_names(stage, expected):
    assert Place.create("DB", "CTL", stage).stage == expected


def test_a_stage_in_another_database_is_refused():
    from sync_contract.errors import IdentifierError

    with pytest.raises(IdentifierError, match="must be SCHEMA.NAME or DB.SCHEMA.NAME"):
        Place.create("DB", "CTL", "OTHER.RAW.EXPORTS")


def test_insert_row_binds_every_value_and_casts_on_the_server():
    stmt = row_sql.insert_row(
        '"T"', [("A", "VARCHAR", "x'y"), ("N", "NUMBER", 5), ("B", "BOOLEAN", True), ("Z", "VARCHAR", None)]
    )
    assert stmt.text == (
        'INSERT INTO "T" ("A", "N", "B", "Z") SELECT CAST(? AS VARCHAR) AS "A", CAST(? AS NUMBER) AS "N", '
        'CAST(? AS BOOLEAN) AS "B", CAST(? AS VARCHAR) AS "Z"'
    )
    assert stmt.params == ("x'y", "5", True, None)


def test_the_merge_is_bounded_by_the_batchs_range_of_a_numeric_first_key():
    """Snowflake prunes the target's micro-partitions outside the bound; a text key gets none (its order
    depends on the target's collation)."""
    from stored_procs.loading import key_checks

    m = manifest()
    bound = key_checks.key_range(SPEC, m, 10, 42)
    assert bound == (10, 42)
    merge = sql.merge(PLACE, SPEC, m, "ANALYTICS", bound)
    assert 'ON t."ORDER_ID" = s."ORDER_ID" AND t."ORDER_ID" BETWEEN 10 AND 42 ' in merge.text
    assert key_checks.key_range(SPEC, m, "1; DROP", "2") is None  # only numbers ever become literals
    assert key_checks.key_range(SPEC, m, None, None) is None  # no row: no bound
    texty = dataclasses.replace(
        m, columns=tuple(dataclasses.replace(c, type="text") if c.name == "order_id" else c for c in m.columns)
    )
    assert key_checks.key_range(SPEC, texty, "a", "z") is None
    assert "BETWEEN" not in sql.merge(PLACE, SPEC, texty, "ANALYTICS", None).text
