"""Issue 14's statement budget, counted at the connector (benchmarks.statements): a cycle with nothing new
sends at most 6 statements for a table and no DDL; a 1 % change at most 20; both load the right rows."""

from __future__ import annotations

import pytest

from aurora_sync.cycle import run_cycle
from benchmarks.statements import counted_statements

pytestmark = pytest.mark.integration

DDL = ("CREATE ", "ALTER ", "DROP ")


def _cycle(harness):  # type: ignore[no-untyped-def]
    with counted_statements() as statements:
        report = run_cycle(harness.snow, harness.config, harness.exporter)
    assert not report.failed, [t.errors for t in report.failed]
    return report, statements


def test_no_change_and_one_percent_cycles_stay_within_the_budget(harness, pg) -> None:  # type: ignore[no-untyped-def]
    with pg.cursor() as cur:
        cur.execute(
            "CREATE TABLE public.budget (id bigint PRIMARY KEY, note text, amount numeric(12,2), "
            "updated_at timestamptz NOT NULL)"
        )
        cur.execute(
            "INSERT INTO public.budget SELECT g, 'n' || g, g / 100.0, '2026-01-01'::timestamptz + g * interval '1 s' "
            "FROM generate_series(1, 5000) g"
        )
    harness.add("public.budget", ["id"], "updated_at")
    first, _ = _cycle(harness)
    assert first.tables[0].load["rows_loaded"] == 5000

    idle, statements = _cycle(harness)
    assert idle.tables[0].load["status"] == "NO_CHANGE"
    assert idle.tables[0].load["watermark_before"] == harness.watermark("budget")  # shown though nothing loaded
    assert len(statements) <= 6, "\n".join(statements)
    assert not [s for s in statements if s.upper().startswith(DDL)], "\n".join(statements)

    with pg.cursor() as cur:  # 1 % of the rows, with a newer watermark
        cur.execute("UPDATE public.budget SET note = note || '!', updated_at = now() WHERE id % 100 = 0")
    changed, statements = _cycle(harness)
    assert (changed.tables[0].load["status"], changed.tables[0].load["rows_updated"]) == ("SUCCEEDED", 50)
    assert len(statements) <= 20, "\n".join(statements)
    assert harness.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."BUDGET" WHERE "NOTE" LIKE \'%!\'')[0][0] == 50
    with pg.cursor() as cur:
        cur.execute("SELECT max(updated_at)::text FROM public.budget")
        assert harness.watermark("budget") == cur.fetchone()[0]

    again, statements = _cycle(harness)  # idle again: no RUNS row, the summary says NO_CHANGE
    assert again.tables[0].load["status"] == "NO_CHANGE"
    assert len(statements) <= 6, "\n".join(statements)


def test_a_changed_control_definition_runs_the_ddl_once(harness, pg) -> None:  # type: ignore[no-untyped-def]
    """The control DDL runs when its recorded version differs (a new release), then no more."""
    with pg.cursor() as cur:
        cur.execute("CREATE TABLE public.budget2 (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
        cur.execute("INSERT INTO public.budget2 VALUES (1, '2026-01-01')")
    harness.add("public.budget2", ["id"], "updated_at")
    _cycle(harness)
    harness.query(f"UPDATE {harness.control('SETTINGS')} SET VALUE = 'older' WHERE NAME = 'control_version'")
    _, statements = _cycle(harness)
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS") for s in statements)
    _, statements = _cycle(harness)
    assert not [s for s in statements if s.upper().startswith(DDL)], "\n".join(statements)


def test_a_new_session_with_the_control_schema_in_place_saves_a_new_table(harness, pg) -> None:  # type: ignore[no-untyped-def]
    """A later `aurora-sync run` (a new session) runs no control DDL, so it sets no current schema: adding a
    table to sync.toml then must still save and load it (the emulator's MERGE needed a current schema)."""
    from aurora_sync.snowflake import snowpark_session

    with pg.cursor() as cur:
        cur.execute("CREATE TABLE public.budget3 (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
        cur.execute("CREATE TABLE public.budget4 (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
        cur.execute("INSERT INTO public.budget3 VALUES (1, '2026-01-01'), (2, '2026-01-02')")
        cur.execute("INSERT INTO public.budget4 VALUES (7, '2026-01-03')")
    harness.add("public.budget3", ["id"], "updated_at")
    _cycle(harness)
    harness.add("public.budget4", ["id"], "updated_at")
    config = harness.config
    with snowpark_session(config.snowflake_connect, config.database) as session:
        report = run_cycle(session, config, harness.exporter)
    assert not report.failed, [t.errors for t in report.failed]
    assert harness.query('SELECT "ID" FROM "ANALYTICS"."PUBLIC"."BUDGET4"') == [(7,)]


def test_the_manifests_of_several_tables_come_in_with_one_copy(harness, pg) -> None:  # type: ignore[no-untyped-def]
    with pg.cursor() as cur:
        for name in ("budget5", "budget6", "budget7"):
            cur.execute(f"CREATE TABLE public.{name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
            cur.execute(
                f"INSERT INTO public.{name} SELECT g, '2026-01-01'::timestamptz + g * interval '1 s' "
                "FROM generate_series(1, 30) g"
            )
            harness.add(f"public.{name}", ["id"], "updated_at")
    report, statements = _cycle(harness)
    assert [t.load["rows_loaded"] for t in report.tables] == [30, 30, 30]
    copies = [s for s in statements if s.startswith("COPY INTO") and '"INBOX"' in s]
    assert len(copies) == 1, copies
    for name in ("budget5", "budget6", "budget7"):
        assert harness.query(f'SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."{name.upper()}"')[0][0] == 30


def test_a_full_table_with_no_change_reads_no_row_and_says_so(harness, pg) -> None:  # type: ignore[no-untyped-def]
    with pg.cursor() as cur:
        cur.execute("CREATE TABLE public.budget8 (id bigint PRIMARY KEY, v text)")
        cur.execute("INSERT INTO public.budget8 SELECT g, 'v' || g FROM generate_series(1, 200) g")
    harness.add("public.budget8", ["id"])  # no watermark column: mode = "full"
    first, _ = _cycle(harness)
    assert first.tables[0].load["rows_loaded"] == 200
    idle, statements = _cycle(harness)
    assert (idle.tables[0].export["status"], idle.tables[0].export["checked_by"]) == ("no_change", "change token")
    assert len(statements) <= 6, "\n".join(statements)
