"""Edge cases of the emulator's MERGE rewrite (aurora_sync/stack/emulator/merge_rewrite.py) and translation cache,
through the real connector. Each asserts what Snowflake would leave in the target
(https://docs.snowflake.com/en/sql-reference/sql/merge, https://docs.snowflake.com/en/sql-reference/transactions)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stored_procs.statement import Stmt, run

pytestmark = pytest.mark.integration

SCHEMA = '"ANALYTICS"."ATTACK_MERGE"'
_n = itertools.count(1)


def _q(snow: Any, text: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in run(snow, Stmt(text, params))]


@pytest.fixture
def table(snow: Any) -> str:
    run(snow, Stmt(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    return f'{SCHEMA}."T{next(_n)}"'


def test_a_column_named_rowid_does_not_lose_the_updated_row(snow, table):
    """A source table may have a column called ROWID (not reserved in Snowflake). The rewrite deletes the old
    versions `WHERE rowid IN (...)`: in DuckDB a user column named rowid hides the pseudo-column."""
    _q(snow, f'CREATE TABLE {table} ("ROWID" NUMBER(38,0), "K" NUMBER(38,0), "A" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES (7, 1, 'a1'), (0, 2, 'a2'), (1, 3, 'a3')")
    (counts,) = _q(
        snow,
        f'MERGE INTO {table} AS t USING (SELECT 1 AS "K", \'changed\' AS "A") AS s ON t."K" = s."K" '
        'WHEN MATCHED THEN UPDATE SET "A" = s."A"',
    )
    assert counts == (1,)
    assert _q(snow, f'SELECT "ROWID", "K", "A" FROM {table} ORDER BY "K"') == [
        (7, 1, "changed"),
        (0, 2, "a2"),
        (1, 3, "a3"),
    ]


def test_a_column_named_rowid_other_rows_untouched(snow, table):
    """The matched row's user ROWID (0) equals DuckDB's internal rowid of another row: only K=2 changes."""
    _q(snow, f'CREATE TABLE {table} ("ROWID" NUMBER(38,0), "K" NUMBER(38,0), "A" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES (5, 1, 'a1'), (0, 2, 'a2'), (0, 3, 'a3')")
    _q(
        snow,
        f'MERGE INTO {table} AS t USING (SELECT 2 AS "K", 9 AS "ROWID", \'x\' AS "A") AS s ON t."K" = s."K" '
        'WHEN MATCHED THEN UPDATE SET "A" = s."A", "ROWID" = s."ROWID"',
    )
    assert _q(snow, f'SELECT "ROWID", "K", "A" FROM {table} ORDER BY "K"') == [
        (5, 1, "a1"),
        (9, 2, "x"),
        (0, 3, "a3"),
    ]


_BAD = (
    "MERGE INTO {t} AS t USING (SELECT 1 AS \"K\", 'changed' AS \"A\" UNION ALL SELECT 5, 'a5') AS s "
    'ON t."K" = s."K" WHEN MATCHED THEN UPDATE SET "A" = s."A" '
    'WHEN NOT MATCHED THEN INSERT ("K", "A", "KEEP") VALUES (s."K", s."A", NULL)'
)


def _seed(snow: Any, table: str) -> None:
    _q(snow, f'CREATE TABLE {table} ("K" NUMBER(38,0), "A" VARCHAR, "KEEP" VARCHAR NOT NULL)')
    _q(snow, f"INSERT INTO {table} VALUES (1, 'a1', 'k1'), (2, 'a2', 'k2')")


@pytest.mark.parametrize("prefix", ["/* load */ ", "-- load\n", "\n\t"])
def test_a_failing_merge_with_a_leading_comment_changes_nothing(snow, table, prefix):
    """A MERGE is one statement whatever precedes its keyword (a comment, a query-tag style prefix)."""
    _seed(snow, table)
    before = _q(snow, f'SELECT "K", "A", "KEEP" FROM {table} ORDER BY "K"')
    with pytest.raises(Exception, match="(?i)null"):
        _q(snow, prefix + _BAD.format(t=table))
    assert _q(snow, f'SELECT "K", "A", "KEEP" FROM {table} ORDER BY "K"') == before


def test_quoted_odd_names_and_no_alias(snow, table):
    """Columns with a space, a double quote and lower case; the target named without an alias."""
    cols = '"K", "my col", "it""s", "lower"'
    _q(snow, f'CREATE TABLE {table} ("K" NUMBER(38,0), "my col" VARCHAR, "it""s" VARCHAR, "lower" VARCHAR)')
    _q(snow, f"INSERT INTO {table} ({cols}) VALUES (1, 'm1', 'q1', 'l1'), (2, 'm2', 'q2', 'l2')")
    name = table.split(".")[-1]
    (counts,) = _q(
        snow,
        f'MERGE INTO {table} USING (SELECT 2 AS "K", \'M2\' AS "my col", \'Q2\' AS "it""s") AS s '
        f'ON {name}."K" = s."K" WHEN MATCHED THEN UPDATE SET "my col" = s."my col", "it""s" = s."it""s" '
        'WHEN NOT MATCHED THEN INSERT ("K", "my col", "it""s") VALUES (s."K", s."my col", s."it""s")',
    )
    assert counts == (0, 1)
    assert _q(snow, f"SELECT {cols} FROM {table} ORDER BY 1") == [(1, "m1", "q1", "l1"), (2, "M2", "Q2", "l2")]


@pytest.mark.parametrize("delete_first", [True, False])
def test_update_and_delete_clauses(snow, table, delete_first):
    """A full-mode style MERGE: a DELETE clause and an UPDATE clause, in either order."""
    _q(snow, f'CREATE TABLE {table} ("K" NUMBER(38,0), "A" VARCHAR, "KEEP" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES (1, 'a1', 'k1'), (2, 'a2', 'k2'), (3, 'a3', 'k3')")
    delete = "WHEN MATCHED AND s.\"OP\" = 'D' THEN DELETE "
    update = (
        'WHEN MATCHED THEN UPDATE SET "A" = s."A" '
        if delete_first
        else ('WHEN MATCHED AND s."OP" = \'U\' THEN UPDATE SET "A" = s."A" ')
    )
    clauses = delete + update if delete_first else update + delete
    _q(
        snow,
        f'MERGE INTO {table} AS t USING (SELECT 1 AS "K", \'D\' AS "OP", \'x\' AS "A" UNION ALL '
        f"SELECT 2, 'U', 'A2' UNION ALL SELECT 4, 'U', 'a4') AS s ON t.\"K\" = s.\"K\" {clauses}"
        'WHEN NOT MATCHED THEN INSERT ("K", "A") VALUES (s."K", s."A")',
    )
    assert _q(snow, f'SELECT "K", "A", "KEEP" FROM {table} ORDER BY "K"') == [
        (2, "A2", "k2"),
        (3, "a3", "k3"),
        (4, "a4", None),
    ]


def test_set_from_a_target_column_and_a_bind(snow, table):
    _q(snow, f'CREATE TABLE {table} ("K" NUMBER(38,0), "A" VARCHAR, "B" VARCHAR, "C" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES (1, 'a1', 'b1', 'c1'), (2, 'a2', 'b2', 'c2')")
    _q(
        snow,
        f'MERGE INTO {table} AS t USING (SELECT 2 AS "K", \'S\' AS "A") AS s ON t."K" = s."K" '
        'WHEN MATCHED THEN UPDATE SET "A" = t."B", "B" = s."A", "C" = ?',
        "bound",
    )
    assert _q(snow, f'SELECT * FROM {table} ORDER BY "K"') == [(1, "a1", "b1", "c1"), (2, "b2", "S", "bound")]


def test_the_same_merge_text_after_a_column_is_added(snow, table):
    """Schema drift between two runs of one MERGE text: the new column's values are kept, not stale."""
    _q(snow, f'CREATE TABLE {table} ("K" NUMBER(38,0), "A" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES (1, 'a1'), (2, 'a2')")
    text = (
        f'MERGE INTO {table} AS t USING (SELECT ? AS "K", ? AS "A") AS s ON t."K" = s."K" '
        'WHEN MATCHED THEN UPDATE SET "A" = s."A" WHEN NOT MATCHED THEN INSERT ("K", "A") VALUES (s."K", s."A")'
    )
    _q(snow, text, 1, "x1")
    _q(snow, f'ALTER TABLE {table} ADD COLUMN "NEW" VARCHAR')
    _q(snow, f'UPDATE {table} SET "NEW" = \'n\' || "K"')
    _q(snow, text, 2, "x2")
    _q(snow, text, 3, "x3")
    _q(snow, f'ALTER TABLE {table} DROP COLUMN "NEW"')
    _q(snow, text, 1, "y1")
    assert _q(snow, f'SELECT * FROM {table} ORDER BY "K"') == [(1, "y1"), (2, "x2"), (3, "x3")]


def test_the_same_select_after_a_column_is_added(snow, table):
    _q(snow, f'CREATE TABLE {table} ("K" NUMBER(38,0))')
    _q(snow, f"INSERT INTO {table} VALUES (1)")
    text = f"SELECT * FROM {table}"
    assert _q(snow, text) == [(1,)]
    _q(snow, f"ALTER TABLE {table} ADD COLUMN \"D\" VARCHAR DEFAULT 'z'")
    assert _q(snow, text) == [(1, "z")]


def test_identifier_bind_is_read_each_time(snow, table):
    """IDENTIFIER(?) names the table by a bind (https://docs.snowflake.com/en/sql-reference/identifier-literal):
    the same text with another bind reads another table (the translation cache must not keep the first)."""
    other = table[:-1] + '_B"'
    _q(snow, f'CREATE TABLE {table} ("V" VARCHAR)')
    _q(snow, f'CREATE TABLE {other} ("V" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES ('first')")
    _q(snow, f"INSERT INTO {other} VALUES ('second')")
    text = 'SELECT "V" FROM IDENTIFIER(?)'
    assert _q(snow, text, table.replace('"', "").replace("ANALYTICS.", "ANALYTICS.")) == [("first",)]
    assert _q(snow, text, other.replace('"', "")) == [("second",)]


@pytest.mark.parametrize("constraint", ['"K" NUMBER(38,0) PRIMARY KEY', '"K" NUMBER(38,0) UNIQUE'])
def test_update_of_a_table_with_a_primary_key_or_unique_constraint(snow, table, constraint):
    """Snowflake accepts PRIMARY KEY / UNIQUE and does not enforce them ("Overview of constraints"); an
    update of the key's row must work (the rewrite inserts the new version before deleting the old)."""
    _q(snow, f'CREATE TABLE {table} ({constraint}, "A" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES (1, 'a1'), (2, 'a2')")
    (counts,) = _q(
        snow,
        f'MERGE INTO {table} AS t USING (SELECT 1 AS "K", \'x\' AS "A") AS s ON t."K" = s."K" '
        'WHEN MATCHED THEN UPDATE SET "A" = s."A"',
    )
    assert counts == (1,)
    assert _q(snow, f'SELECT "K", "A" FROM {table} ORDER BY "K"') == [(1, "x"), (2, "a2")]


def test_a_kept_translation_does_not_skip_the_privilege_check(stack, snow, table):
    """The consumer (no role) reads a table; the app's role, never granted it, sends the same text: refused
    (the translation cache must not answer before the privilege model looks)."""
    from aurora_sync.snowflake import snowpark_session
    from tests.integration.test_app_procedures import app_connect

    _q(snow, f'CREATE TABLE {table} ("V" VARCHAR)')
    _q(snow, f"INSERT INTO {table} VALUES ('secret')")
    text = f'SELECT "V" FROM {table}'
    assert _q(snow, text) == [("secret",)]
    refused = pytest.raises(Exception, match="(?i)access control|not authorized|does not exist")
    with snowpark_session(app_connect(stack), "ANALYTICS") as session, refused:
        _q(session, text)


def test_the_same_text_in_another_current_schema_reads_that_schemas_table(stack, snow):
    """The translation cache keeps a statement's translation whatever the session's current schema (fakesnow's
    passes read it only for a table named DATABASES: translation_cache._reads_session); an unqualified name
    is resolved when DuckDB runs the statement, so the same text reads the current schema's table each time."""
    import tomllib

    from aurora_sync.config import parse_config
    from aurora_sync.snowflake import snowpark_session

    for name, rows in (("ATTACK_SCHEMA_A", 1), ("ATTACK_SCHEMA_B", 2)):
        _q(snow, f'CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."{name}"')
        _q(snow, f'CREATE OR REPLACE TABLE "ANALYTICS"."{name}"."T" ("V" VARCHAR)')
        _q(snow, f'INSERT INTO "ANALYTICS"."{name}"."T" VALUES ' + ", ".join(f"('{name}')" for _ in range(rows)))
    toml = stack.config_toml('[[tables]]\nsource = "public.x"\nprimary_key = ["id"]\nmode = "full"\n')
    config = parse_config(tomllib.loads(toml))
    text = 'SELECT "V", COUNT(*) FROM T GROUP BY "V"'
    with snowpark_session(config.snowflake_connect, config.database) as session:
        for name, rows in (("ATTACK_SCHEMA_A", 1), ("ATTACK_SCHEMA_B", 2), ("ATTACK_SCHEMA_A", 1)):
            _q(session, f'USE SCHEMA "ANALYTICS"."{name}"')
            assert _q(session, text) == [(name, rows)]
