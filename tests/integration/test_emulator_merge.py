"""The emulator's MERGE (aurora_sync/stack/emulator/merge_rewrite.py): a matched UPDATE runs as an insert of
the new versions and a delete of the old rows, and the MERGE applies whole or not at all, as Snowflake's
(https://docs.snowflake.com/en/sql-reference/sql/merge, https://docs.snowflake.com/en/sql-reference/transactions).
Each test asserts the target's rows and the counts the MERGE reports, through the real connector."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from stored_procs.statement import Stmt, run

pytestmark = pytest.mark.integration

SCHEMA = '"ANALYTICS"."EMULATOR_MERGE"'
T = f'{SCHEMA}."TARGET"'


@pytest.fixture
def target(snow: Any) -> str:
    run(snow, Stmt(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    run(
        snow,
        Stmt(
            f'CREATE OR REPLACE TABLE {T} ("K" NUMBER(38,0) NOT NULL, "A" VARCHAR, "B" NUMBER(10,2), '
            '"KEEP" VARCHAR NOT NULL, "NOTE" VARCHAR)'
        ),
    )
    run(
        snow,
        Stmt(
            f"INSERT INTO {T} VALUES (1, 'a1', 1.10, 'k1', 'n1'), (2, 'a2', 2.20, 'k2', NULL), "
            "(3, 'a3', 3.30, 'k3', 'n3')"
        ),
    )
    return T


def _rows(snow: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in run(snow, Stmt(f'SELECT "K", "A", "B", "KEEP", "NOTE" FROM {T} ORDER BY "K"'))]


def _merge(source: str, condition: str = "") -> str:
    return (
        f'MERGE INTO {T} AS t USING ({source}) AS s ON t."K" = s."K" '
        f'WHEN MATCHED{condition} THEN UPDATE SET "A" = s."A", "B" = s."B", "NOTE" = NULL '
        'WHEN NOT MATCHED THEN INSERT ("K", "A", "B", "KEEP") VALUES (s."K", s."A", s."B", \'new\')'
    )


def test_matched_rows_take_the_set_values_and_keep_the_others(snow, target):
    source = 'SELECT 2 AS "K", \'A2\' AS "A", 22.5 AS "B" UNION ALL SELECT 4, \'a4\', 4.4'
    (counts,) = run(snow, Stmt(_merge(source)))
    assert tuple(counts) == (1, 1)  # inserted, updated
    assert _rows(snow) == [
        (1, "a1", Decimal("1.10"), "k1", "n1"),
        (2, "A2", Decimal("22.5"), "k2", None),  # KEEP, which the clause does not set, is kept
        (3, "a3", Decimal("3.30"), "k3", "n3"),
        (4, "a4", Decimal("4.4"), "new", None),
    ]


def test_a_matched_row_the_condition_excludes_is_left_alone(snow, target):
    source = 'SELECT 1 AS "K", \'X\' AS "A", 9 AS "B" UNION ALL SELECT 3, \'Y\', 8'
    (counts,) = run(snow, Stmt(_merge(source, ' AND s."K" = 3')))
    assert tuple(counts) == (0, 1)
    assert _rows(snow)[0] == (1, "a1", Decimal("1.10"), "k1", "n1")
    assert _rows(snow)[2] == (3, "Y", Decimal("8"), "k3", None)
    assert len(_rows(snow)) == 3


def test_a_merge_that_fails_part_way_changes_nothing(snow, target):
    """The update of key 1 succeeds and the insert of key 5 breaks KEEP's NOT NULL: neither is applied."""
    before = _rows(snow)
    source = 'SELECT 1 AS "K", \'changed\' AS "A", 5 AS "B" UNION ALL SELECT 5, \'a5\', 5'
    bad = (
        f'MERGE INTO {T} AS t USING ({source}) AS s ON t."K" = s."K" '
        'WHEN MATCHED THEN UPDATE SET "A" = s."A", "B" = s."B" '
        'WHEN NOT MATCHED THEN INSERT ("K", "A", "B", "KEEP") VALUES (s."K", s."A", s."B", NULL)'
    )
    with pytest.raises(Exception, match="(?i)null"):
        run(snow, Stmt(bad))
    assert _rows(snow) == before


def test_a_set_value_from_a_bind_keeps_the_in_place_update(snow, target):
    """A bind in SET is not a column the candidates hold: fakesnow's UPDATE runs, with the same result."""
    text = f'MERGE INTO {T} AS t USING (SELECT 3 AS "K") AS s ON t."K" = s."K" WHEN MATCHED THEN UPDATE SET "NOTE" = ?'
    (counts,) = run(snow, Stmt(text, ("bound",)))
    assert tuple(counts) == (1,)
    assert _rows(snow)[2] == (3, "a3", Decimal("3.30"), "k3", "bound")


def test_a_target_row_two_source_rows_would_update_fails_the_merge(snow, target):
    """ERROR_ON_NONDETERMINISTIC_MERGE (TRUE by default): https://docs.snowflake.com/en/sql-reference/sql/merge."""
    before = _rows(snow)
    source = "SELECT 2 AS \"K\", 'x' AS \"A\", 1 AS \"B\" UNION ALL SELECT 2, 'y', 2 UNION ALL SELECT 7, 'a7', 7"
    with pytest.raises(Exception, match="Duplicate row detected during DML action"):
        run(snow, Stmt(_merge(source)))
    assert _rows(snow) == before  # neither version of key 2, and not key 7 either


def test_a_full_join_inside_the_source_is_kept(snow, target):
    """The emulator turns fakesnow's own FULL join of target and source into a RIGHT join, never one the
    MERGE's source holds: key 9 exists only on the left of the source's FULL JOIN and must be inserted."""
    source = (
        'SELECT COALESCE(a."K", b."K") AS "K", COALESCE(a."A", b."A") AS "A", 1 AS "B" '
        'FROM (SELECT 9 AS "K", \'a9\' AS "A") AS a FULL JOIN (SELECT 8 AS "K", \'a8\' AS "A") AS b '
        'ON a."K" = b."K"'
    )
    (counts,) = run(snow, Stmt(_merge(source)))
    assert tuple(counts) == (2, 0)
    assert [r[:2] for r in _rows(snow)][-2:] == [(8, "a8"), (9, "a9")]


def test_a_merge_bounded_by_a_key_range_applies_only_inside_it(snow, target):
    """The ON's numeric range bounds (sql.merge's `t.K BETWEEN lo AND hi`) are sent to DuckDB as numbered
    binds, the same values in every part: a source row whose target row lies outside is inserted again
    (NOT MATCHED), as on Snowflake, and rows inside are updated; a second MERGE with other bounds too."""
    source = 'SELECT 1 AS "K", \'A1\' AS "A", 1 AS "B" UNION ALL SELECT 3, \'A3\', 3'
    text = (
        f'MERGE INTO {T} AS t USING ({source}) AS s ON t."K" = s."K" AND t."K" BETWEEN 2 AND 3 '
        'WHEN MATCHED THEN UPDATE SET "A" = s."A" '
        'WHEN NOT MATCHED THEN INSERT ("K", "A", "B", "KEEP") VALUES (s."K", s."A", s."B", \'new\')'
    )
    (counts,) = run(snow, Stmt(text))
    assert tuple(counts) == (1, 1)  # key 1 lies outside 2..3: not matched, inserted; key 3 updated
    assert [r[:2] for r in _rows(snow)] == [(1, "a1"), (1, "A1"), (2, "a2"), (3, "A3")]
    (counts,) = run(snow, Stmt(text.replace("BETWEEN 2 AND 3", "BETWEEN 1 AND 1").replace("'A1'", "'B1'")))
    assert tuple(counts) == (1, 2)  # both rows of key 1 now match and are updated; key 3 lies outside: inserted
    assert [r[:2] for r in _rows(snow)] == [(1, "B1"), (1, "B1"), (2, "a2"), (3, "A3"), (3, "A3")]


def test_target_columns_read_by_rowid_for_the_matched_rows_only(snow, target):
    """With a source that is one SELECT naming its columns, the emulator's join reads only the ON's target
    columns, and the other target columns of the matched rows by rowid (rewrites._target_by_rowid): a
    source row matching two target rows updates both, each keeping its own KEEP; a condition on a target
    column outside the ON (KEEP) reads the matched row's own value; an unmatched source row is inserted."""
    run(snow, Stmt(f"INSERT INTO {T} VALUES (2, 'a2b', 2.30, 'k2b', 'n2b')"))
    source = (
        'SELECT v."K" AS "K", v."A" AS "A", v."B" AS "B" FROM '
        "(VALUES (2, 'A2', 22.5), (3, 'A3', 33), (5, 'a5', 5.5)) AS v (\"K\", \"A\", \"B\")"
    )
    (counts,) = run(snow, Stmt(_merge(source, " AND t.\"KEEP\" <> 'k3'")))
    assert tuple(counts) == (1, 2)  # inserted, updated
    assert sorted(_rows(snow), key=lambda r: (r[0], r[3])) == [
        (1, "a1", Decimal("1.10"), "k1", "n1"),
        (2, "A2", Decimal("22.5"), "k2", None),
        (2, "A2", Decimal("22.5"), "k2b", None),
        (3, "a3", Decimal("3.30"), "k3", "n3"),  # matched, but the condition on its KEEP excludes it
        (5, "a5", Decimal("5.5"), "new", None),
    ]
