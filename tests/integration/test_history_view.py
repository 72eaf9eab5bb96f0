"""A history table's current view `<TARGET>_CURRENT` (docs/CUSTOMIZATION.md "History", "The current
view"): every load of the table reads whether the view exists and has the table's columns, in the ledger
statement it reads the target's columns with, and creates or rebuilds it when it is missing (a load that
stopped between the table and its view, a view the app could not create, one dropped by hand) or stale
(a column added to the table without the view's rebuild); a rebuild keeps the grants consumers made on
the view (COPY GRANTS); a changed cycle with a current view sends no DDL."""

from __future__ import annotations

import pytest

from aurora_sync.snowflake import snowpark_session
from benchmarks.statements import counted_statements
from stored_procs.statement import Stmt, run
from tests.integration.test_app_procedures import app_connect
from tests.integration.test_history import _ok, _table, at, versions

pytestmark = pytest.mark.integration

VIEW = '"ANALYTICS"."PUBLIC"."HIST_VIEW_CURRENT"'
ANALYST = "HIST_VIEW_ANALYST"


def _view_columns(h) -> list[str]:
    rows = h.query(
        'SELECT COLUMN_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? '
        "ORDER BY ORDINAL_POSITION",
        "PUBLIC",
        "HIST_VIEW_CURRENT",
    )
    return [r[0] for r in rows]


def _as_analyst(stack, text: str) -> list[tuple]:
    """The view read by a consumer role that was granted SELECT on it (not its owner)."""
    with snowpark_session(app_connect(stack, ANALYST), "ANALYTICS") as session:
        return [tuple(r) for r in run(session, Stmt(text))]


def test_a_missing_or_stale_current_view_is_rebuilt_by_the_next_load_keeping_its_grants(pg, harness, stack):
    _table(pg, "hist_view")
    cur = pg.cursor()
    cur.executemany("INSERT INTO public.hist_view VALUES (%s, %s, %s)", [(1, "a", at(1)), (2, "b", at(1))])
    h = harness.add("public.hist_view", ["id"], "updated_at", history="true")
    _ok(h.cycle())
    assert _view_columns(h) == ["ID", "V", "UPDATED_AT", "_VALID_FROM"]
    for grant in (
        f'GRANT USAGE ON DATABASE "ANALYTICS" TO ROLE {ANALYST}',
        f'GRANT USAGE ON SCHEMA "ANALYTICS"."PUBLIC" TO ROLE {ANALYST}',
        f"GRANT SELECT ON VIEW {VIEW} TO ROLE {ANALYST}",
    ):
        h.query(grant)
    assert _as_analyst(stack, f'SELECT "ID", "V" FROM {VIEW} ORDER BY "ID"') == [(1, "a"), (2, "b")]

    # a change with the view as it should be: the view untouched, its columns read in the ledger statement
    cur.execute("UPDATE public.hist_view SET v = 'a2', updated_at = %s WHERE id = 1", (at(2),))
    with counted_statements() as statements:
        _ok(h.cycle())
    assert not [s for s in statements if "CREATE OR REPLACE VIEW" in s.upper()], statements
    assert len([s for s in statements if "INFORMATION_SCHEMA.COLUMNS" in s]) == 1, statements
    assert _as_analyst(stack, f'SELECT "ID", "V" FROM {VIEW} ORDER BY "ID"') == [(1, "a2"), (2, "b")]

    # a column added in the source: the view is rebuilt with it, and the consumer's grant stays (COPY GRANTS)
    cur.execute("ALTER TABLE public.hist_view ADD COLUMN region text")
    cur.execute("UPDATE public.hist_view SET region = 'eu', updated_at = %s WHERE id = 2", (at(3),))
    _ok(h.cycle())
    assert _view_columns(h) == ["ID", "V", "UPDATED_AT", "_VALID_FROM", "REGION"]
    assert _as_analyst(stack, f'SELECT "ID", "V", "REGION" FROM {VIEW} ORDER BY "ID"') == [
        (1, "a2", None),
        (2, "b", "eu"),
    ]

    # stale: the view lacks a column the table has (a load that stopped after ALTER TABLE ... ADD COLUMN,
    # before the view's rebuild); the next load rebuilds it, the grant kept
    h.query(f'CREATE OR REPLACE VIEW {VIEW} COPY GRANTS AS SELECT "ID" FROM "ANALYTICS"."PUBLIC"."HIST_VIEW"')
    cur.execute("UPDATE public.hist_view SET v = 'b4', updated_at = %s WHERE id = 2", (at(4),))
    _ok(h.cycle())
    assert _view_columns(h) == ["ID", "V", "UPDATED_AT", "_VALID_FROM", "REGION"]
    assert _as_analyst(stack, f'SELECT "ID", "V", "REGION" FROM {VIEW} ORDER BY "ID"') == [
        (1, "a2", None),
        (2, "b4", "eu"),
    ]

    # missing: a load that stopped between the table and its view, a view the app could not create (no
    # CREATE VIEW: a note), or one dropped by hand; the next load creates it
    h.query(f"DROP VIEW {VIEW}")
    cur.execute("UPDATE public.hist_view SET v = 'a5', updated_at = %s WHERE id = 1", (at(5),))
    _ok(h.cycle())
    assert _view_columns(h) == ["ID", "V", "UPDATED_AT", "_VALID_FROM", "REGION"]
    assert [tuple(r) for r in h.query(f'SELECT "ID", "V", "REGION" FROM {VIEW} ORDER BY "ID"')] == [
        (1, "a5", None),
        (2, "b4", "eu"),
    ]
    assert [(r[0], r[1], r[4]) for r in versions(h, "HIST_VIEW")] == [
        (1, "a", False),
        (1, "a2", False),
        (1, "a5", True),
        (2, "b", False),
        (2, "b", False),
        (2, "b4", True),
    ]
