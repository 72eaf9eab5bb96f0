"""Targets the app may write and readers may read, with the emulator checking privileges as Snowflake does.

The app's procedures run as their own role (`app` fixture); the consumer is a session without a role
(the emulator's account administrator); analysts log in with roles of their own. The emulator refuses
what a role neither owns nor was granted (aurora_sync.stack.emulator.privileges), so these tests fail
where a real account would refuse the app or its readers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs.configuration.app_config import NotConfigured
from stored_procs.statement import Stmt, run
from tests.integration import test_app_procedures as procedures

pytestmark = pytest.mark.integration
app = procedures.app  # the fixture: a fresh app database, its procedures running as APP_ROLE
APP_ROLE, app_connect, call = procedures.APP_ROLE, procedures.app_connect, procedures.call
_numbers = itertools.count(1)


@pytest.fixture
def target_db(snow) -> str:
    """A target database the consumer owns, granted to the app as consumer_setup.sql grants it."""
    name = f"PRIVDB_{next(_numbers)}"
    run(snow, Stmt(f'CREATE DATABASE "{name}"'))
    run(snow, Stmt(f'GRANT USAGE, CREATE SCHEMA ON DATABASE "{name}" TO ROLE {APP_ROLE}'))
    return name


def as_role(stack: Any, role: str, database: str) -> Iterator[Any]:
    return snowpark_session(app_connect(stack, role), database)  # type: ignore[return-value]


def refused(session: Any, text: str, message: str) -> None:
    with pytest.raises(SnowparkSQLException, match=message):
        run(session, Stmt(text))


def app_name(session: Any) -> str:
    return str(run(session, Stmt("SELECT CURRENT_DATABASE() AS D"))[0][0])


def _register(app: Any, stack: Any, database: str | None = None) -> None:
    """The app's stage and exporter on the embedded stack, and the target database if given."""
    ep = stack.endpoints
    call(app, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(app, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    if database:
        call(app, "SET_TARGET_DATABASE", database)


def test_the_emulator_refuses_what_a_role_neither_owns_nor_was_granted(stack, snow):
    db = f"PRIVDB_{next(_numbers)}"
    run(snow, Stmt(f'CREATE DATABASE "{db}"'))  # the consumer's: it owns PUBLIC
    with as_role(stack, "EMU_APP", db) as writer, as_role(stack, "EMU_ANALYST", db) as analyst:
        refused(
            writer, f'CREATE TABLE "{db}"."PUBLIC"."T" (X INT)', "Insufficient privileges to operate on schema 'PUBLIC'"
        )
        refused(writer, f'CREATE SCHEMA "{db}"."OWN"', f"Insufficient privileges to operate on database '{db}'")
        run(snow, Stmt(f'GRANT USAGE, CREATE SCHEMA ON DATABASE "{db}" TO ROLE EMU_APP'))
        run(writer, Stmt(f'CREATE SCHEMA "{db}"."OWN"'))
        run(writer, Stmt(f'CREATE TABLE "{db}"."OWN"."T" (X INT)'))
        run(writer, Stmt(f'INSERT INTO "{db}"."OWN"."T" VALUES (1), (2)'))
        # an analyst sees nothing it was not granted, as Snowflake words it
        refused(analyst, f'SELECT X FROM "{db}"."OWN"."T"', "does not exist or not authorized")
        run(writer, Stmt(f'GRANT USAGE ON SCHEMA "{db}"."OWN" TO APPLICATION ROLE READER'))
        run(writer, Stmt(f'GRANT SELECT ON TABLE "{db}"."OWN"."T" TO APPLICATION ROLE READER'))
        refused(analyst, f'SELECT X FROM "{db}"."OWN"."T"', "does not exist or not authorized")
        run(snow, Stmt("GRANT APPLICATION ROLE EMU_APP_INSTANCE.READER TO ROLE EMU_ANALYST"))
        run(snow, Stmt(f'GRANT USAGE ON DATABASE "{db}" TO ROLE EMU_ANALYST'))
        assert sorted(r[0] for r in run(analyst, Stmt(f'SELECT X FROM "{db}"."OWN"."T"'))) == [1, 2]
        # only the owner grants; SWAP WITH carries the grants with the tables
        refused(analyst, f'GRANT SELECT ON TABLE "{db}"."OWN"."T" TO ROLE EMU_ANALYST', "Insufficient privileges")
        run(writer, Stmt(f'CREATE TABLE "{db}"."OWN"."T2" (X INT)'))
        run(writer, Stmt(f'INSERT INTO "{db}"."OWN"."T2" VALUES (3)'))
        run(writer, Stmt(f'ALTER TABLE "{db}"."OWN"."T" SWAP WITH "{db}"."OWN"."T2"'))
        refused(analyst, f'SELECT X FROM "{db}"."OWN"."T"', "does not exist or not authorized")
        assert sorted(r[0] for r in run(analyst, Stmt(f'SELECT X FROM "{db}"."OWN"."T2"'))) == [1, 2]
        # a schema the consumer owns, once granted, takes the app's tables
        run(snow, Stmt(f'GRANT USAGE, CREATE TABLE ON SCHEMA "{db}"."PUBLIC" TO ROLE EMU_APP'))
        run(writer, Stmt(f'CREATE TABLE "{db}"."PUBLIC"."T" (X INT)'))


def test_targets_go_where_the_app_may_write_and_readers_keep_reading_them(pg, app, stack, snow, target_db):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.priv_orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.priv_orders SELECT g, 'n' || g, now() FROM generate_series(1, 20) g")
    cur.execute("CREATE TABLE public.priv_items (id int PRIMARY KEY, label text)")
    cur.execute("INSERT INTO public.priv_items SELECT g, 'item ' || g FROM generate_series(1, 5) g")
    name = app_name(app)
    _register(app, stack)

    # a database the consumer did not grant: the message is the GRANT
    run(snow, Stmt('CREATE DATABASE IF NOT EXISTS "PRIV_UNGRANTED"'))
    with pytest.raises(
        NotConfigured, match=f'GRANT USAGE, CREATE SCHEMA ON DATABASE "PRIV_UNGRANTED" TO APPLICATION "{name}"'
    ):
        call(app, "SET_TARGET_DATABASE", "PRIV_UNGRANTED")
    call(app, "SET_TARGET_DATABASE", target_db)

    # without a target: a schema the app creates (public -> PG_PUBLIC), readable by the reader role
    added = call(app, "ADD_TABLE", "public.priv_orders", ["id"], "updated_at")
    assert added["target"] == "PG_PUBLIC.PRIV_ORDERS" and "notes" not in added
    # the consumer's PUBLIC: refused, naming the grant, and nothing is saved
    with pytest.raises(
        NotConfigured, match=rf'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" TO APPLICATION "{name}"'
    ):
        call(app, "ADD_TABLE", "public.priv_items", ["id"], None, "full", "PUBLIC.PRIV_ITEMS")
    assert [t["source"] for t in call(app, "SHOW_CONFIG")["tables"]] == ["public.priv_orders"]
    run(snow, Stmt(f'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" TO ROLE {APP_ROLE}'))
    added = call(app, "ADD_TABLE", "public.priv_items", ["id"], None, "full", "PUBLIC.PRIV_ITEMS")
    assert added["target"] == "PUBLIC.PRIV_ITEMS"
    assert "belongs to another role" in added["notes"][0]  # its USAGE is the consumer's to grant

    first = call(app, "SYNC_ALL")
    assert first["status"] == "SUCCEEDED", first["steps"]
    orders = f'SELECT "ID", "NOTE" FROM "{target_db}"."PG_PUBLIC"."PRIV_ORDERS" ORDER BY "ID"'
    items = f'SELECT "ID", "LABEL" FROM "{target_db}"."PUBLIC"."PRIV_ITEMS" ORDER BY "ID"'
    with as_role(stack, "PRIV_ANALYST", target_db) as analyst:
        refused(analyst, orders, "does not exist or not authorized")
        # what consumer_setup.sql step 8 runs for the analysts
        run(snow, Stmt(f"GRANT APPLICATION ROLE {name}.AURORA_SYNC_READER TO ROLE PRIV_ANALYST"))
        run(snow, Stmt(f'GRANT USAGE ON DATABASE "{target_db}" TO ROLE PRIV_ANALYST'))
        assert [tuple(r) for r in run(analyst, Stmt(orders))] == [(i, f"n{i}") for i in range(1, 21)]
        refused(analyst, items, "does not exist or not authorized")  # PUBLIC's USAGE: not the app's to give
        run(snow, Stmt(f'GRANT USAGE ON SCHEMA "{target_db}"."PUBLIC" TO ROLE PRIV_ANALYST'))
        assert [tuple(r) for r in run(analyst, Stmt(items))] == [(i, f"item {i}") for i in range(1, 6)]

        # a schema change and a replace (full mode: shadow, swap): readers keep reading the new values
        cur.execute("ALTER TABLE public.priv_orders ADD COLUMN qty int")
        cur.execute("UPDATE public.priv_orders SET qty = id * 10, updated_at = now() WHERE id <= 3")
        cur.execute("UPDATE public.priv_items SET label = 'renamed ' || id WHERE id = 2")
        cur.execute("DELETE FROM public.priv_items WHERE id = 5")
        assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
        qty = f'SELECT "ID", "QTY" FROM "{target_db}"."PG_PUBLIC"."PRIV_ORDERS" WHERE "QTY" IS NOT NULL ORDER BY "ID"'
        assert [tuple(r) for r in run(analyst, Stmt(qty))] == [(1, 10), (2, 20), (3, 30)]
        assert [tuple(r) for r in run(analyst, Stmt(items))] == [
            (1, "item 1"),
            (2, "renamed 2"),
            (3, "item 3"),
            (4, "item 4"),
        ]


def test_a_target_schema_the_app_may_not_write_fails_only_its_table_until_granted(pg, app, stack, snow, target_db):
    """A table added before the target database was known, into the consumer's PUBLIC: CHECK_READY
    notes it, its load fails naming the GRANT with its export kept pending, the other table loads in the
    same run (the root task does not fail: Snowflake would suspend the graph for every table), and once
    granted the next run loads it."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.priv_early (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.priv_early SELECT g, now() FROM generate_series(1, 6) g")
    cur.execute("CREATE TABLE public.priv_fine (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.priv_fine SELECT g, now() FROM generate_series(1, 4) g")
    name = app_name(app)
    _register(app, stack)
    # added before the target database is known: nothing to check yet
    call(app, "ADD_TABLE", "public.priv_early", ["id"], "updated_at", "incremental", "PUBLIC.PRIV_EARLY")
    call(app, "ADD_TABLE", "public.priv_fine", ["id"], "updated_at")
    call(app, "SET_TARGET_DATABASE", target_db)
    grant = f'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" TO APPLICATION "{name}"'
    ready = call(app, "CHECK_READY")
    assert ready["ready"] is True and any(grant in note for note in ready["notes"])

    first = call(app, "SYNC_ALL")
    assert first["tasks"]["ROOT"] == "SUCCEEDED"
    assert first["status"] == "FAILED" and first["tables_failed"] == ["public.priv_early"]
    error = run(
        app, Stmt("SELECT ERROR FROM STATE.RUNS WHERE RUN_ID = ? AND SOURCE_TABLE = 'priv_early'", (first["run_id"],))
    )
    assert grant in error[0][0]
    statuses = run(app, Stmt("SELECT STATUS FROM STATE.MANIFESTS WHERE SOURCE_TABLE = 'priv_early'"))
    assert [r[0] for r in statuses] == ["NEW"]  # not a failed attempt: kept for the next run
    fine = f'SELECT COUNT(*) FROM "{target_db}"."PG_PUBLIC"."PRIV_FINE"'
    assert run(snow, Stmt(fine))[0][0] == 4
    tables = f"SELECT COUNT(*) FROM \"{target_db}\".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'PUBLIC'"
    assert run(snow, Stmt(tables))[0][0] == 0  # no probe left behind

    run(snow, Stmt(f'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" TO ROLE {APP_ROLE}'))
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    early = f'SELECT COUNT(*), MIN("ID"), MAX("ID") FROM "{target_db}"."PUBLIC"."PRIV_EARLY"'
    assert tuple(run(snow, Stmt(early))[0]) == (6, 1, 6)


def test_the_plain_deployment_grants_its_reader_account_role(pg, app, stack, snow, target_db):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.priv_plain (id int PRIMARY KEY, label text)")
    cur.execute("INSERT INTO public.priv_plain SELECT g, 'p' || g FROM generate_series(1, 4) g")
    # what tools/plain_deploy.py writes into STATE.SETTINGS
    for name, value in (("deployment", "plain"), ("reader_role", "PRIV_PLAIN_READER")):
        run(app, Stmt("INSERT INTO STATE.SETTINGS (NAME, VALUE, UPDATED_AT) SELECT ?, ?, SYSDATE()", (name, value)))
    _register(app, stack, target_db)
    added = call(app, "ADD_TABLE", "public.priv_plain", ["id"], None, "full")
    assert added["target"] == "PG_PUBLIC.PRIV_PLAIN"
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    run(snow, Stmt(f'GRANT USAGE ON DATABASE "{target_db}" TO ROLE PRIV_PLAIN_READER'))
    query = f'SELECT "ID", "LABEL" FROM "{target_db}"."PG_PUBLIC"."PRIV_PLAIN" ORDER BY "ID"'
    with as_role(stack, "PRIV_PLAIN_READER", target_db) as reader:
        assert [tuple(r) for r in run(reader, Stmt(query))] == [(i, f"p{i}") for i in range(1, 5)]
        cur.execute("UPDATE public.priv_plain SET label = 'q' || id WHERE id > 2")
        assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"  # a replace: shadow, grant, swap
        assert [tuple(r) for r in run(reader, Stmt(query))] == [(1, "p1"), (2, "p2"), (3, "q3"), (4, "q4")]
    with as_role(stack, "PRIV_OTHER_ROLE", target_db) as other:
        refused(other, query, "does not exist or not authorized")


def test_enable_schedule_grants_the_readers_targets_loaded_before_they_had_a_role(pg, app, stack, snow, target_db):
    """The upgrade path: targets loaded while the deployment had no reader role (an earlier release)
    become readable when ENABLE_SCHEDULE runs, as the upgrade notes ask."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.priv_old (id int PRIMARY KEY, label text)")
    cur.execute("INSERT INTO public.priv_old SELECT g, 'o' || g FROM generate_series(1, 3) g")
    run(app, Stmt("INSERT INTO STATE.SETTINGS (NAME, VALUE, UPDATED_AT) SELECT 'deployment', 'plain', SYSDATE()"))
    _register(app, stack, target_db)
    call(app, "ADD_TABLE", "public.priv_old", ["id"], None, "full")
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"  # no reader role: nothing granted
    run(snow, Stmt(f'GRANT USAGE ON DATABASE "{target_db}" TO ROLE PRIV_LATE_READER'))
    query = f'SELECT "ID", "LABEL" FROM "{target_db}"."PG_PUBLIC"."PRIV_OLD" ORDER BY "ID"'
    with as_role(stack, "PRIV_LATE_READER", target_db) as reader:
        refused(reader, query, "does not exist or not authorized")
        late = (
            "INSERT INTO STATE.SETTINGS (NAME, VALUE, UPDATED_AT) SELECT 'reader_role', 'PRIV_LATE_READER', SYSDATE()"
        )
        run(app, Stmt(late))
        call(procedures.TaskRecordingSession(app), "ENABLE_SCHEDULE", "60 MINUTES")  # tasks: recorded
        assert [tuple(r) for r in run(reader, Stmt(query))] == [(1, "o1"), (2, "o2"), (3, "o3")]


def test_adding_a_configured_table_again_without_a_target_keeps_its_target(app, target_db):
    """A table configured by an earlier release (its target in the old default place) and re-enabled
    with ADD_TABLE and no target stays where it is: moving it would restart it into a new table."""
    call(app, "SET_TARGET_DATABASE", target_db)
    first = call(app, "ADD_TABLE", "public.priv_keep", ["id"], "updated_at", "incremental", "KEPT.PRIV_KEEP")
    assert first["target"] == "KEPT.PRIV_KEEP"
    call(app, "REMOVE_TABLE", "public.priv_keep")
    again = call(app, "ADD_TABLE", "public.priv_keep", ["id"], "updated_at")
    assert (again["action"], again["target"], "resync" in again) == ("updated", "KEPT.PRIV_KEEP", False)
    new = call(app, "ADD_TABLE", "public.priv_new", ["id"], "updated_at")
    assert new["target"] == "PG_PUBLIC.PRIV_NEW"


def test_a_revoked_create_table_fails_the_replace_naming_the_grant_and_keeps_the_target(
    pg, app, stack, snow, target_db
):
    """A full table in the consumer's PUBLIC, granted, then CREATE TABLE revoked: the next replace
    cannot build its shadow there. The table fails naming the GRANT, before any batch is touched (its
    export stays NEW), the target keeps its rows, and once granted again the next run replaces it."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.priv_rev (id int PRIMARY KEY, label text)")
    cur.execute("INSERT INTO public.priv_rev SELECT g, 'a' FROM generate_series(1, 3) g")
    run(snow, Stmt(f'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" TO ROLE {APP_ROLE}'))
    _register(app, stack, target_db)
    call(app, "ADD_TABLE", "public.priv_rev", ["id"], None, "full", "PUBLIC.PRIV_REV")
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    run(snow, Stmt(f'REVOKE CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" FROM ROLE {APP_ROLE}'))
    cur.execute("UPDATE public.priv_rev SET label = 'b'")
    second = call(app, "SYNC_ALL")
    assert second["status"] == "FAILED" and second["tables_failed"] == ["public.priv_rev"]
    error = run(app, Stmt("SELECT ERROR FROM STATE.RUNS WHERE RUN_ID = ?", (second["run_id"],)))[0][0]
    assert f'GRANT USAGE, CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC"' in error
    labels = f'SELECT "LABEL", COUNT(*) FROM "{target_db}"."PUBLIC"."PRIV_REV" GROUP BY 1'
    assert [tuple(r) for r in run(snow, Stmt(labels))] == [("a", 3)]
    statuses = "SELECT STATUS, COUNT(*) FROM STATE.MANIFESTS WHERE SOURCE_TABLE = 'priv_rev' GROUP BY 1 ORDER BY 1"
    assert [tuple(r) for r in run(app, Stmt(statuses))] == [("LOADED", 1), ("NEW", 1)]  # not a failed attempt
    run(snow, Stmt(f'GRANT CREATE TABLE ON SCHEMA "{target_db}"."PUBLIC" TO ROLE {APP_ROLE}'))
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    assert [tuple(r) for r in run(snow, Stmt(labels))] == [("b", 3)]


def test_configure_table_with_an_empty_target_goes_back_to_the_default(app, target_db):
    call(app, "SET_TARGET_DATABASE", target_db)
    assert call(app, "ADD_TABLE", "public.priv_reset", ["id"], None, "full", "ELSEWHERE.T")["target"] == "ELSEWHERE.T"
    assert call(app, "CONFIGURE_TABLE", "public.priv_reset", {"target": ""})["target"] == "PG_PUBLIC.PRIV_RESET"
    assert call(app, "CONFIGURE_TABLE", "public.priv_reset", {"target": None})["target"] == "PG_PUBLIC.PRIV_RESET"
