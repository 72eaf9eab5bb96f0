"""Default target schemas, privilege checks, readers and lanes, tried with inputs their authors did not
write (the issue-12 attack), kept as regression tests."""

from __future__ import annotations

from typing import Any

import pytest

from stored_procs.configuration.app_config import InvalidSetting, NotConfigured
from stored_procs.statement import Stmt, run
from tests.integration import test_app_procedures as procedures
from tests.integration import test_privileges as privileges

pytestmark = pytest.mark.integration
app = procedures.app  # the fixtures: an app running as its own role, a target database granted to it
target_db = privileges.target_db
call, _register = procedures.call, privileges._register


def _rows(session: Any, text: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in run(session, Stmt(text))]


def test_source_schemas_public_and_pg_public_would_share_one_default_target_and_are_refused(pg, app, stack, target_db):
    """public.atk_o and pg_public.atk_o both default to PG_PUBLIC.ATK_O: the second must be refused."""
    cur = pg.cursor()
    cur.execute('CREATE SCHEMA IF NOT EXISTS "PG_PUBLIC"')
    cur.execute("CREATE TABLE public.atk_o (id int PRIMARY KEY, v text)")
    cur.execute('CREATE TABLE "PG_PUBLIC".atk_o (id int PRIMARY KEY, v text)')
    cur.execute("INSERT INTO public.atk_o VALUES (1, 'from public'), (2, 'from public')")
    cur.execute("INSERT INTO \"PG_PUBLIC\".atk_o VALUES (1, 'from pg_public')")
    _register(app, stack, target_db)
    first = call(app, "ADD_TABLE", "public.atk_o", ["id"], None, "full")
    assert first["target"] == "PG_PUBLIC.ATK_O"
    with pytest.raises(InvalidSetting, match="would both load into"):
        call(app, "ADD_TABLE", "PG_PUBLIC.atk_o", ["id"], None, "full")


def test_source_schemas_public_and_quoted_public_share_one_default_target_and_are_refused(pg, app, stack, target_db):
    """ "Public".atk_m and public.atk_m: both default to PG_PUBLIC.ATK_M."""
    cur = pg.cursor()
    cur.execute('CREATE SCHEMA IF NOT EXISTS "Public"')
    cur.execute('CREATE TABLE "Public".atk_m (id int PRIMARY KEY)')
    cur.execute("CREATE TABLE public.atk_m (id int PRIMARY KEY)")
    _register(app, stack, target_db)
    assert call(app, "ADD_TABLE", "public.atk_m", ["id"], None, "full")["target"] == "PG_PUBLIC.ATK_M"
    with pytest.raises(InvalidSetting, match="would both load into"):
        call(app, "ADD_TABLE", '"Public".atk_m', ["id"], None, "full")


def test_a_source_schema_named_information_schema_gets_a_schema_of_its_own(app, stack, target_db):
    """A source schema literally named information_schema (PG has one): its default target must not be
    the database's INFORMATION_SCHEMA."""
    _register(app, stack, target_db)
    out = call(app, "ADD_TABLE", "information_schema.atk_x", ["id"], None, "full")
    assert out["target"] == "PG_INFORMATION_SCHEMA.ATK_X"
    out = call(app, "ADD_TABLE", '"Information_Schema".atk_y', ["id"], None, "full")
    assert out["target"] == "PG_INFORMATION_SCHEMA.ATK_Y"


def test_a_pg_public_the_consumer_created_is_refused_naming_the_grant(pg, app, stack, snow, target_db):
    """The consumer created PG_PUBLIC itself (e.g. from an earlier tool): the default target schema is
    not the app's. Expect ADD_TABLE to name the grant (or the target option)."""
    run(snow, Stmt(f'CREATE SCHEMA "{target_db}"."PG_PUBLIC"'))
    pg.cursor().execute("CREATE TABLE public.atk_pre (id int PRIMARY KEY)")
    _register(app, stack, target_db)
    with pytest.raises(NotConfigured, match=f'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PG_PUBLIC"'):
        call(app, "ADD_TABLE", "public.atk_pre", ["id"], None, "full")


@pytest.mark.parametrize("target", ['"ünï cødé"."Tàblé"', '"lower"."lower"', '"PG_Public"."X"'])
def test_targets_with_unusual_names_load_and_readers_read_them(pg, app, stack, snow, target_db, target):
    cur = pg.cursor()
    src = f"atk_odd_{abs(hash(target)) % 100000}"
    cur.execute(f"CREATE TABLE public.{src} (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.{src} SELECT g, now() FROM generate_series(1, 4) g")
    _register(app, stack, target_db)
    call(app, "ADD_TABLE", f"public.{src}", ["id"], "updated_at", "incremental", target)
    first = call(app, "SYNC_ALL")
    assert first["status"] == "SUCCEEDED", first["tables"]
    name = privileges.app_name(app)
    role = f"ATK_ODD_{abs(hash(target)) % 100000}"
    run(snow, Stmt(f"GRANT APPLICATION ROLE {name}.AURORA_SYNC_READER TO ROLE {role}"))
    run(snow, Stmt(f'GRANT USAGE ON DATABASE "{target_db}" TO ROLE {role}'))
    with privileges.as_role(stack, role, target_db) as analyst:
        assert _rows(analyst, f'SELECT COUNT(*) FROM "{target_db}".{target}') == [(4,)]


def test_a_table_removed_and_one_added_between_intake_and_the_lanes_lose_nothing(pg, app, stack, target_db):
    """5 tables on 4 lanes as the task graph runs them (each lane reads SYNC_TABLES itself). After INTAKE
    one table is removed and another added; lanes 2..4 run after lane 1. Expect every enabled table
    loaded by this run or the next, nothing lost, the removed one left alone."""
    from stored_procs import handlers
    from stored_procs.orchestration import runs

    cur = pg.cursor()
    names = [f"atk_lane_{i}" for i in range(6)]
    for i, n in enumerate(names):
        cur.execute(f"CREATE TABLE public.{n} (id int PRIMARY KEY, v timestamptz NOT NULL)")
        cur.execute(f"INSERT INTO public.{n} SELECT g, now() - interval '1 hour' FROM generate_series(1, {i + 2}) g")
    _register(app, stack, target_db)
    for n in names[:5]:
        call(app, "ADD_TABLE", f"public.{n}", ["id"], "v")
    place = handlers.app_place(app)
    run_id = "atk-lanes-1"
    call(app, "REQUEST_EXPORTS", run_id, True)
    intake = handlers.intake_manifests_at(app, place, run_id)
    assert len(intake["tables_to_load"]) == 5
    home = privileges.app_name(app)

    def lane(k: int) -> dict[str, Any]:
        try:
            return handlers.load_lane_at(app, place, target_db, k, 4, run_id)
        finally:
            run(app, Stmt(f'USE DATABASE "{home}"'))

    lane(1)
    call(app, "REMOVE_TABLE", f"public.{names[1]}")
    call(app, "ADD_TABLE", f"public.{names[5]}", ["id"], "v")
    for k in (2, 3, 4):
        lane(k)
    runs.finalize(app, place, run_id)
    call(app, "SYNC_ALL")  # what the interrupted run left (the added table) loads now
    for i, n in enumerate(names):
        if i == 1:
            continue
        got = _rows(app, f'SELECT COUNT(*) FROM "{target_db}"."PG_PUBLIC"."{n.upper()}"')
        assert got == [(i + 2,)], (n, got)
