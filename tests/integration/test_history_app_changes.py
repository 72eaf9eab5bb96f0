"""Changing a loaded table through the app's procedures (docs/CUSTOMIZATION.md "History", "Changing a
history table"; docs/CONFIGURATION.md ADD_TABLE): CONFIGURE_TABLE and ADD_TABLE refuse a rename of a
loaded column or another primary key of a history table whose target exists, naming the option, saving
nothing; with a new target the table restarts into a new history table. ADD_TABLE of a configured table
without OPTIONS keeps its rename and history (it once reset them: the table restarted, or was refused)."""

from __future__ import annotations

import pytest

from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.statement import Stmt, run
from tests.integration.test_app_procedures import app, call  # noqa: F401 (the fixture)
from tests.integration.test_history import at

pytestmark = pytest.mark.integration


def _rows(app, text: str) -> list[tuple]:  # noqa: F811
    return [tuple(r) for r in run(app, Stmt(text))]


def _table_config(app, source: str) -> dict:  # noqa: F811
    (found,) = [t for t in call(app, "SHOW_CONFIG")["tables"] if t["source"] == source]
    return found


def test_the_app_refuses_changes_a_history_table_cannot_take_and_add_table_keeps_options(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_hc (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.executemany("INSERT INTO public.app_hc VALUES (%s, %s, %s)", [(1, "a", at(1)), (2, "b", at(1))])
    cur.execute("CREATE TABLE public.app_rn (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_rn VALUES (1, 'x', %s)", (at(1),))
    ep = stack.endpoints
    call(app, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(app, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(app, "SET_TARGET_DATABASE", "ANALYTICS")
    call(
        app, "ADD_TABLE", "public.app_hc", ["id"], "updated_at", "incremental", "APP_HC.ITEMS", None, {"history": True}
    )
    renamed = {"rename": {"v": "VALUE"}}
    call(app, "ADD_TABLE", "public.app_rn", ["id"], "updated_at", "incremental", "APP_HC.RENAMED", None, renamed)
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    loaded = _rows(app, 'SELECT "ID", "V", "_IS_CURRENT" FROM "ANALYTICS"."APP_HC"."ITEMS" ORDER BY "ID"')
    assert loaded == [(1, "a", True), (2, "b", True)]

    for procedure, args, option in (
        ("CONFIGURE_TABLE", ("public.app_hc", {"rename": {"v": "VALUE"}}), "rename"),
        ("CONFIGURE_TABLE", ("public.app_hc", {"rename": {"id": "ITEM_ID"}}), "rename"),
        ("CONFIGURE_TABLE", ("public.app_hc", {"primary_key": ["id", "v"]}), "primary_key"),
        (
            "ADD_TABLE",
            ("public.app_hc", ["id"], "updated_at", "incremental", None, None, {"rename": {"v": "VALUE"}}),
            "rename",
        ),
    ):
        with pytest.raises(InvalidSetting) as refused:
            call(app, procedure, *args)
        assert refused.value.key == option, (procedure, args)
        assert "give the table a new target at the same time" in refused.value.reason
        saved = _table_config(app, "public.app_hc")
        assert (saved["rename"], saved["primary_key"], saved["history"]) == ({}, ["id"], True)

    # ADD_TABLE again without OPTIONS: rename and history kept, nothing restarted
    again = call(app, "ADD_TABLE", "public.app_hc", ["id"], "updated_at", "incremental")
    assert (again["action"], again["history"], again["target"]) == ("updated", True, "APP_HC.ITEMS")
    assert "resync" not in again
    kept = call(app, "ADD_TABLE", "public.app_rn", ["id"], "updated_at", "incremental")
    assert (kept["rename"], kept["target"]) == ({"v": "VALUE"}, "APP_HC.RENAMED") and "resync" not in kept
    cur.execute("UPDATE public.app_hc SET v = 'b2', updated_at = %s WHERE id = 2", (at(2),))
    cur.execute("UPDATE public.app_rn SET v = 'y', updated_at = %s WHERE id = 1", (at(2),))
    synced = call(app, "SYNC_ALL")
    assert synced["status"] == "SUCCEEDED", synced
    assert _rows(
        app, 'SELECT "ID", "V", "_IS_CURRENT" FROM "ANALYTICS"."APP_HC"."ITEMS" ORDER BY "ID", "_VALID_FROM"'
    ) == [
        (1, "a", True),
        (2, "b", False),
        (2, "b2", True),
    ]
    assert _rows(app, 'SELECT "ID", "VALUE" FROM "ANALYTICS"."APP_HC"."RENAMED"') == [(1, "y")]

    # the rename with a new target: the table restarts into a new history table, the old one kept
    moved = call(app, "CONFIGURE_TABLE", "public.app_hc", {"rename": {"v": "VALUE"}, "target": "APP_HC.ITEMS_V2"})
    assert "resync" in moved
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    assert _rows(app, 'SELECT "ID", "VALUE", "_IS_CURRENT" FROM "ANALYTICS"."APP_HC"."ITEMS_V2" ORDER BY "ID"') == [
        (1, "a", True),
        (2, "b2", True),
    ]
    assert len(_rows(app, 'SELECT 1 FROM "ANALYTICS"."APP_HC"."ITEMS"')) == 3
