from lambda_exporter.query import copy_to_stdout, export_select, select_expression, window_high
from lambda_exporter.strategies.aws_s3 import EXPORT_OPTIONS, EXPORT_SQL, part_keys
from sync_contract.manifest import Column


def _col(name, pg_type):
    return Column(name, pg_type, pg_type, True, 1)


def test_select_lists_exactly_the_columns_by_quoted_name_and_binds_the_window():
    cols = [_col("id", "bigint"), _col("Updated At", "timestamp with time zone")]
    stmt = export_select("Sales", "Customer Events", cols, "Updated At", "2026-01-01 00:00:00+00", "2026-02-01")
    assert stmt.text.startswith('SELECT "id" AS "id", ("Updated At")::text || \':00\' AS "Updated At" FROM')
    assert stmt.text.endswith('FROM "Sales"."Customer Events" WHERE "Updated At" > %s AND "Updated At" <= %s')
    assert stmt.params == ("2026-01-01 00:00:00+00", "2026-02-01")


def test_first_window_has_no_low_bound_and_full_mode_no_window():
    cols = [_col("id", "bigint")]
    assert export_select("public", "t", cols, "v", None, "9").text.endswith('WHERE "v" <= %s')
    assert "WHERE" not in export_select("public", "t", cols, None, None, None).text


def test_values_never_enter_the_sql_text():
    stmt = window_high("public", "t", "v", "'; DROP TABLE t; --")
    assert "DROP" not in stmt.text and stmt.params == ("'; DROP TABLE t; --",)


def test_how_each_kind_is_written():
    # arrays as JSON, unless a lower bound is not 1: then PostgreSQL's text form, which the loader sets aside
    assert select_expression(_col("tags", "text[]")) == (
        "CASE WHEN strpos(replace(array_dims(\"tags\"), '[1:', ''), '[') > 0 THEN \"tags\"::text "
        'ELSE to_json("tags")::text END'
    )
    assert 'to_json("cash"::numeric[])' in select_expression(_col("cash", "money[]"))  # numbers, as money's
    assert select_expression(_col("b", "bytea")) == "encode(\"b\", 'hex')"
    assert select_expression(_col("m", "money")) == '"m"::numeric'
    assert select_expression(_col("j", "jsonb")) == '"j"'


def test_copy_is_csv_with_every_value_quoted_so_null_and_empty_differ():
    assert copy_to_stdout("SELECT 1") == "COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER false, FORCE_QUOTE *)"


def test_aws_s3_contract():
    assert "aws_s3.query_export_to_s3(%s, aws_commons.create_s3_uri(%s, %s, %s), %s)" in EXPORT_SQL
    assert EXPORT_OPTIONS == "format csv, header false, force_quote *"
    assert part_keys("d/p.csv", 3) == ["d/p.csv", "d/p.csv_part2", "d/p.csv_part3"]
    assert part_keys("d/p.csv", 1) == ["d/p.csv"]
