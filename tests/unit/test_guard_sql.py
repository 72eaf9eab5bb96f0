"""The late-row guard's SQL: pure, every value a parameter (run against PostgreSQL in
tests/integration/test_late_rows_by_type.py)."""

from lambda_exporter.query import guard_in_column_terms


def test_the_guard_binds_the_table_name_and_the_instant():
    name = 'evil"; DROP TABLE t; --'
    stmt = guard_in_column_terms("public", name, "2026-11-01 05:30:00+00", 0, wall_clock=True)
    assert "DROP" not in stmt.text and stmt.params[0] == '"public"."evil""; DROP TABLE t; --"'
    assert stmt.params[1:] == ("2026-11-01 05:30:00+00",) * 3 + (1_000_000,)
    plain = guard_in_column_terms("public", name, "2026-11-01 05:30:00+00", 3, wall_clock=False)
    assert "pg_db_role_setting" not in plain.text and plain.params == (1000, "2026-11-01 05:30:00+00")
