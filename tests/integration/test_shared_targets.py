"""Two sources, one target (issue 11, item 5): `public.orders` and `public."ORDERS"` are two tables in
PostgreSQL but both default to `PUBLIC.ORDERS` in Snowflake. Refused when sync.toml is read and by
ADD_TABLE / CONFIGURE_TABLE, before anything is exported or loaded; the target keeps one table's rows."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from aurora_sync.config import ConfigError
from aurora_sync.stack.stack import BUCKET, PREFIX
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.statement import Stmt, run
from sync_contract.manifest import manifest_prefix
from tests.integration import test_app_procedures as procedures
from tests.integration.conftest import Harness
from tests.integration.test_cli import _cli

pytestmark = pytest.mark.integration
app = procedures.app  # the fixture: a fresh app database made from the app's own files
call = procedures.call


def _two_tables(pg: Any, lower: str) -> None:
    """`public.<lower>` and `public."<LOWER>"`: ids 1..3 in both, told apart by `who`."""
    cur = pg.cursor()
    for name, who in ((lower, "lower"), (f'"{lower.upper()}"', "upper")):
        cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, who text NOT NULL, updated_at int NOT NULL)")
        cur.execute(f"INSERT INTO public.{name} SELECT g, %s, g FROM generate_series(1, 3) g", (who,))


def _has_table(session: Any, schema: str, table: str) -> bool:
    text = "SELECT COUNT(*) FROM ANALYTICS.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"
    return bool(run(session, Stmt(text, (schema, table)))[0][0])


def _has_schema(session: Any, schema: str) -> bool:
    text = "SELECT COUNT(*) FROM ANALYTICS.INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = ?"
    return bool(run(session, Stmt(text, (schema,)))[0][0])


def _exported(stack: Any, schema: str, table: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix(schema, table))
    return [o["Key"] for o in listed.get("Contents", [])]


def _flat(text: str) -> str:
    return " ".join(text.split())  # the console wraps long lines


def test_sync_toml_with_two_sources_for_one_target_is_refused_before_anything_loads(pg, harness, tmp_path):
    _two_tables(pg, "st_orders")
    h = harness.add("public.st_orders", ["id"], "updated_at", late_row_guard="false").add(
        'public."ST_ORDERS"', ["id"], "updated_at", late_row_guard="false"
    )
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)

    result = _cli("run", "--config", str(config))

    assert result.returncode == 2, result.stdout + result.stderr
    said = _flat(result.stdout)
    assert (
        'sync config tables[1].target: public.st_orders and public.ST_ORDERS would both load into "PUBLIC"."ST_ORDERS"'
        in said
    )
    assert "Give public.ST_ORDERS a target of its own" in said
    with pytest.raises(ConfigError, match=r"tables\[1\]\.target: public\.st_orders and public\.ST_ORDERS"):
        _ = h.config
    # nothing exported, no control schema made (so no RUNS, no watermark), no target table
    assert _exported(h.stack, "public", "st_orders") == [] and _exported(h.stack, "public", "ST_ORDERS") == []
    assert not _has_schema(h.snow, h.control_schema)
    assert not _has_table(h.snow, "PUBLIC", "ST_ORDERS")

    # with a target of its own each table loads whole: three rows per table, none overwritten
    h = Harness(h.stack, h.snow).add("public.st_orders", ["id"], "updated_at", late_row_guard="false")
    h.add('public."ST_ORDERS"', ["id"], "updated_at", target='"PUBLIC.ST_ORDERS_UPPER"', late_row_guard="false")
    config.write_text(h.toml)
    again = _cli("run", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    for target, who in (("ST_ORDERS", "lower"), ("ST_ORDERS_UPPER", "upper")):
        rows = h.query(f'SELECT "ID", "WHO" FROM "ANALYTICS"."PUBLIC"."{target}" ORDER BY "ID"')
        assert [tuple(r) for r in rows] == [(1, who), (2, who), (3, who)]
    runs = h.query(f"SELECT SOURCE_TABLE, STATUS, ERROR FROM {h.control('RUNS')} ORDER BY SOURCE_TABLE")
    assert [tuple(r) for r in runs] == [("ST_ORDERS", "SUCCEEDED", None), ("st_orders", "SUCCEEDED", None)]
    assert (h.watermark("st_orders"), h.watermark("ST_ORDERS")) == ("3", "3")


def test_sync_toml_refuses_a_target_in_its_control_schema(pg, harness, tmp_path):
    pg.cursor().execute("CREATE TABLE public.st_ctl (id int PRIMARY KEY, updated_at int NOT NULL)")
    h = harness.add(
        "public.st_ctl", ["id"], "updated_at", target=f'"{harness.control_schema}.MANIFESTS"', late_row_guard="false"
    )
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    result = _cli("run", "--config", str(config))
    assert result.returncode == 2
    assert f'target "{h.control_schema}"."MANIFESTS" is in schema "{h.control_schema}"' in _flat(result.stdout)
    assert not _has_schema(h.snow, h.control_schema)


def test_sync_toml_refuses_the_target_of_a_table_it_no_longer_lists(pg, harness, tmp_path):
    """A table dropped from sync.toml keeps its target table (and rows) in the control schema's
    database: a new table of the file may not load into it."""
    _two_tables(pg, "st_later")
    h = harness.add("public.st_later", ["id"], "updated_at", late_row_guard="false")
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    assert _cli("run", "--config", str(config)).returncode == 0
    h.tables = []
    config.write_text(h.add('public."ST_LATER"', ["id"], "updated_at", late_row_guard="false").toml)
    result = _cli("run", "--config", str(config))
    assert result.returncode == 2, result.stdout
    said = _flat(result.stdout)
    assert 'public.st_later and public.ST_LATER would both load into "PUBLIC"."ST_LATER"' in said
    assert "is no longer in this file; its target table is kept" in said
    rows = h.query('SELECT "WHO", COUNT(*) FROM "ANALYTICS"."PUBLIC"."ST_LATER" GROUP BY "WHO"')
    assert [tuple(r) for r in rows] == [("lower", 3)]  # the first table's rows only


def _sync_tables(session: Any) -> list[tuple[Any, ...]]:
    text = "SELECT SOURCE_TABLE, TARGET_SCHEMA, TARGET_TABLE, ENABLED FROM STATE.SYNC_TABLES ORDER BY SOURCE_TABLE"
    return [tuple(r) for r in run(session, Stmt(text))]


def test_add_table_and_configure_table_refuse_a_target_another_table_has(pg, app, stack):
    _two_tables(pg, "ap_orders")
    procedures.configure(app, stack, "public.ap_orders", "AP_SHARED.AP_ORDERS")
    call(app, "CONFIGURE_TABLE", "public.ap_orders", {"late_row_guard": False})  # an integer watermark
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"

    # the same target spelled as given, and in another case (one table where quoted case is ignored)
    for target in ("AP_SHARED.AP_ORDERS", "ap_shared.ap_orders"):
        with pytest.raises(
            InvalidSetting, match=r"target: public\.ap_orders and public\.AP_ORDERS would both load into "
        ):
            call(app, "ADD_TABLE", 'public."AP_ORDERS"', ["id"], "updated_at", "incremental", target)
    with pytest.raises(InvalidSetting, match=r'is in schema "STATE", which holds the sync\'s own tables'):
        call(app, "ADD_TABLE", 'public."AP_ORDERS"', ["id"], "updated_at", "incremental", "STATE.MANIFESTS")
    with pytest.raises(InvalidSetting, match=r"ends in __AURORA_SYNC_SHADOW"):
        call(
            app,
            "ADD_TABLE",
            'public."AP_ORDERS"',
            ["id"],
            "updated_at",
            "incremental",
            "AP_SHARED.AP_ORDERS__AURORA_SYNC_SHADOW",
        )
    assert _sync_tables(app) == [("ap_orders", "AP_SHARED", "AP_ORDERS", True)]

    # configuring another table onto the taken target is refused too, and changes nothing
    call(app, "ADD_TABLE", 'public."AP_ORDERS"', ["id"], "updated_at", "incremental", "AP_SHARED.AP_ORDERS_UPPER")
    call(app, "CONFIGURE_TABLE", 'public."AP_ORDERS"', {"late_row_guard": False})
    with pytest.raises(InvalidSetting, match=r"public\.ap_orders and public\.AP_ORDERS would both load into"):
        call(app, "CONFIGURE_TABLE", 'public."AP_ORDERS"', {"target": "AP_SHARED.AP_ORDERS"})
    # a removed table keeps its target table and can come back: its target stays taken
    call(app, "REMOVE_TABLE", "public.ap_orders")
    with pytest.raises(
        InvalidSetting, match=r"public\.ap_orders \(removed from replication, but its target table is kept"
    ):
        call(app, "CONFIGURE_TABLE", 'public."AP_ORDERS"', {"target": "AP_SHARED.AP_ORDERS"})
    assert _sync_tables(app) == [
        ("AP_ORDERS", "AP_SHARED", "AP_ORDERS_UPPER", True),
        ("ap_orders", "AP_SHARED", "AP_ORDERS", False),
    ]

    # the next cycle loads public."AP_ORDERS" into its own target; public.ap_orders' rows are untouched
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    for target, who in (("AP_ORDERS", "lower"), ("AP_ORDERS_UPPER", "upper")):
        rows = run(app, Stmt(f'SELECT "ID", "WHO" FROM "ANALYTICS"."AP_SHARED"."{target}" ORDER BY "ID"'))
        assert [tuple(r) for r in rows] == [(1, who), (2, who), (3, who)]
    marks = run(app, Stmt("SELECT SOURCE_TABLE, WATERMARK FROM STATE.WATERMARKS ORDER BY SOURCE_TABLE"))
    assert [tuple(r) for r in marks] == [("AP_ORDERS", "3"), ("ap_orders", "3")]


def test_a_new_target_for_a_synced_table_is_filled_whole(pg, harness):
    """Moving a synced table to another target restarts it (as a new watermark column does): the new
    target gets every row, not only those changed since."""
    pg.cursor().execute("CREATE TABLE public.st_moved (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    pg.cursor().execute("INSERT INTO public.st_moved SELECT g, now() FROM generate_series(1, 3) g")
    h = harness.add("public.st_moved", ["id"], "updated_at")
    assert not h.cycle().failed
    h.tables = []
    h.add("public.st_moved", ["id"], "updated_at", target='"PUBLIC.ST_MOVED_NEW"')
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ST_MOVED_NEW"')[0][0] == 3
