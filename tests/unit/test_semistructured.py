"""The checks on staged JSON text (stored_procs/loading/semistructured.py): which texts each one flags, run on
DuckDB through sqlglot's Snowflake -> DuckDB translation, and every quarantine statement for such
columns parses as Snowflake SQL."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from stored_procs.loading import quarantine, semistructured
from stored_procs.spec import Place, TableSpec
from sync_contract.manifest import Column
from sync_contract.types import map_type
from tests.factories import manifest


def _flags(pg_type: str, reason_start: str, text: str) -> bool:
    (condition,) = [c for c, why in semistructured.checks("x", map_type(pg_type)) if why.startswith(reason_start)]
    duck = sqlglot.transpile(condition, read="snowflake", write="duckdb")[0]
    return bool(duckdb.execute(f"SELECT {duck} FROM (SELECT CAST(? AS VARCHAR) AS x)", [text]).fetchone()[0])


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ('{"n": 12345678901234567890123456789012345678}', False),  # 38 digits: NUMBER(38,0)
        ('{"n": 123456789012345678901234567890123456789}', True),  # 39
        ('{"n": -1234567890123456789012345678901234567.8}', False),  # 38 digits, scale 1
        ('{"n": 1234567890123456789012345678901234567.89}', True),  # 39 digits
        ('{"n": 0.1234567890123456789012345678901234567}', False),  # 37 decimals
        ('{"n": 0.12345678901234567890123456789012345678}', True),  # 38 decimals: past NUMBER's scale
        ('{"n": 1.000000000000000000000000000000000000000}', True),  # 39 digits written: not known to stay exact
        ('{"k123456789012345678901234567890123456789": "123456789012345678901234567890123456789"}', False),
        ('["a\\"", 123456789012345678901234567890123456789]', True),  # an escaped quote does not end the string
        ('["a\\\\", "123456789012345678901234567890123456789"]', False),  # an escaped backslash does
        ("[1.5, 2.25, -3]", False),
    ],
)
def test_numbers_beyond_number_are_found_outside_strings_only(text, flagged):
    assert _flags("jsonb", "a number with more than", text) is flagged


@pytest.mark.parametrize(
    ("pg_type", "text", "flagged"),
    [
        ("json", '{"x": 1e400}', True),
        ("json", '{"x": 1.5E-400}', True),
        ("json", '{"x": "1e400", "e": true, "f": false}', False),
        ("jsonb", '{"x": 100, "y": 0.0015}', False),
        ("double precision[]", "[1e+20, 0.1]", False),  # binary floats already: a DOUBLE holds them
        ("numeric[]", "[1e+20]", True),
    ],
)
def test_exponents_are_found_except_in_float_arrays(pg_type, text, flagged):
    reasons = [why for _, why in semistructured.checks("x", map_type(pg_type)) if why.startswith("a number written")]
    assert bool(reasons and _flags(pg_type, "a number written", text)) is flagged


@pytest.mark.parametrize(
    ("text", "flagged"),
    [("[0:2]={7,8,9}", True), ("[1:1][-3:-1]={{7,8,9}}", True), ("[7,8,9]", False), ('["[0:2]={7}"]', False)],
)
def test_arrays_with_their_own_bounds_are_found_by_postgresql_text_form(text, flagged):
    assert _flags("integer[]", "an array whose lower bound", text) is flagged


@pytest.mark.parametrize(
    ("pg_type", "text", "reason", "flagged"),
    [
        ("date[]", '["2026-01-02","infinity"]', "an element is ±infinity", True),
        ("timestamp with time zone[]", '["-infinity"]', "an element is ±infinity", True),
        ("date[]", '["0044-03-15 BC"]', "an element is a BC date", True),
        ("timestamp without time zone[]", '["10000-01-01T00:00:00"]', "an element is a BC date", True),
        ("date[]", '["2026-01-02","9999-12-31"]', "an element is a BC date", False),
        ("date[]", '["2026-01-02"]', "an element is ±infinity", False),
    ],
)
def test_date_and_timestamp_elements_no_snowflake_type_holds(pg_type, text, reason, flagged):
    assert _flags(pg_type, reason, text) is flagged


def test_only_json_and_arrays_are_checked_here():
    assert semistructured.checks("x", map_type("text")) == []
    assert semistructured.checks("x", map_type("numeric")) == []


def test_quarantine_statements_for_these_columns_parse_as_snowflake_sql():
    types = ["json", "jsonb", "numeric[]", "money[]", "date[]", "double precision[]", "time without time zone"]
    others = [Column(f"c{i}", t, t, True, i + 2) for i, t in enumerate(types)]
    cols = (Column("id", "bigint", "bigint", False, 1, 1), *others)
    m = manifest(columns=cols, window=manifest().window.__class__("id", None, "1", "max_watermark"))
    spec, place = TableSpec("public", "orders", ("id",), watermark_column="id"), Place.create("DB", "CTL")
    stmts = [
        quarantine.count_bad(place, spec, m),
        quarantine.record(place, spec, m, m.export_id, "run", "2026-01-01 00:00:00"),
        quarantine.set_aside(place, spec, m),
    ]
    for stmt in stmts:
        assert stmt is not None
        assert len(sqlglot.parse(stmt.text, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)) == 1
        assert "\\" not in stmt.text  # no backslash: the engines unescape string literals differently
