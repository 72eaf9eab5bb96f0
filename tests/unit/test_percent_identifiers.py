"""Every PostgreSQL statement the exporter builds from names is a psycopg2 template (lambda_exporter.query):
a `%` of a quoted name is doubled, so psycopg2's formatting gives the name back and sees exactly one `%s`
per parameter. Checked without a database by doing what psycopg2 does to the text (the integration test
tests/integration/test_percent_names.py runs them)."""

from __future__ import annotations

import re

import pytest

from lambda_exporter.query import (
    Statement,
    export_select,
    guard_in_column_terms,
    ident,
    key_range_condition,
    qualified,
    snapshot_fingerprint,
    window_high,
)
from lambda_exporter.reconcile import fingerprints_query, rows_query
from lambda_exporter.strategies.aws_s3 import explain
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Column
from sync_contract.reconcile import ReconcileRequest

pytestmark = pytest.mark.unit

NAMES = ["%", "%s", "%(x)s", "%%", "50% off", 'a%"b', "it's %d"]
PLACEHOLDER = re.compile(r"%(%|s)")


def formatted(stmt: Statement) -> str:
    """psycopg2's formatting of a text with positional parameters: `%%` -> `%`, `%s` -> a value (here
    `$n`); any other `%` is an error (psycopg2: "unsupported format character" / "tuple index out of range")."""
    count = 0

    def swap(m: re.Match[str]) -> str:
        nonlocal count
        if m.group(1) == "%":
            return "%"
        count += 1
        return f"${count}"

    assert "%" not in PLACEHOLDER.sub("", stmt.text), stmt.text
    out = PLACEHOLDER.sub(swap, stmt.text)
    assert count == len(stmt.params), stmt.text
    return out


def _columns(name: str) -> list[Column]:
    return [
        Column("id", "bigint", "bigint", False, 1, 1),
        Column(name, "text", "text", True, 2),
        Column(name + "w", "timestamp with time zone", "timestamp with time zone", False, 3),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_with_percent_survives_each_statement(name):
    columns = _columns(name)
    wm = name + "w"
    statements = [
        export_select(name, name, columns, wm, "2026-01-01", "2026-02-01", (0, 10), "1 minute", (name, "a", "b")),
        window_high(name, name, wm, "2026-01-01", "2026-02-01"),
        snapshot_fingerprint(name, name),
        fingerprints_query(name, name, columns, ReconcileRequest(name, name, ("id",), 2)),
        rows_query(name, name, columns, ReconcileRequest(name, name, ("id",), 2, ("0a",))),
    ]
    for stmt in statements:
        assert quote_ident(name) in formatted(stmt)
    guard = guard_in_column_terms(name, name, "2026-01-01", 6, True)  # the name is a value here (regclass)
    assert "$1::regclass" in formatted(guard) and guard.params[0] == f"{quote_ident(name)}.{quote_ident(name)}"
    condition = key_range_condition(name, "a", None)
    assert condition is not None and formatted(condition).startswith(quote_ident(name))
    assert formatted(Statement(f"SELECT 1 FROM {qualified(name, name)}")).endswith(f"{quote_ident(name)}")
    assert formatted(Statement(ident(name))) == quote_ident(name)


def test_bound_sql_handed_on_is_made_a_template_again_not_formatted_twice():
    bound = """SELECT "50%" FROM "a%b"."%(x)s" WHERE "v%%" LIKE '%s%'"""  # what source.render returns
    assert formatted(explain(bound)) == "EXPLAIN (FORMAT JSON) " + bound
