"""`rename` and the schema map in the Native App, through its procedures on the embedded stack:
CORE.SET_SCHEMA_MAP gives ADD_TABLE's default target schema, ADD_TABLE's OPTIONS carries `rename` (and the
other table options), and the renamed primary key and watermark column go through SYNC_ALL's load, updates,
key-set deletes, the QUARANTINED_ROWS view, RECONCILE_TABLE and a resync; a changed map keeps configured
tables where they are (and says how to move one); a changed rename restarts the table."""

from __future__ import annotations

import json

import pytest

from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.statement import Stmt, run
from tests.integration.test_app_procedures import app, call  # noqa: F401  (app: a fixture)

pytestmark = pytest.mark.integration

RENAME = {"client_id": "CLIENT_KEY", "email_address": "EMAIL", "changed_at": "MODIFIED_AT"}


def _registered(session, stack) -> None:
    from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION

    ep = stack.endpoints
    call(session, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(session, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(session, "SET_TARGET_DATABASE", "ANALYTICS")


def _rows(session, target: str) -> dict[int, str]:
    rows = run(session, Stmt(f'SELECT "CLIENT_KEY", "EMAIL" FROM {target} ORDER BY 1'))
    return {r[0]: r[1] for r in rows}


def test_schema_map_and_rename_through_the_app_procedures(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE SCHEMA IF NOT EXISTS crm_app")
    cur.execute(
        "CREATE TABLE crm_app.clients (client_id int PRIMARY KEY, email_address text, joined date, "
        "changed_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO crm_app.clients SELECT g, 'c' || g || '@example.com', DATE '2026-03-01', clock_timestamp() "
        "FROM generate_series(1, 8) g"
    )
    _registered(app, stack)
    with pytest.raises(InvalidSetting, match=r"^schema_map\.crm_app: .*one of the app's own schemas"):
        call(app, "SET_SCHEMA_MAP", {"crm_app": "state"})
    with pytest.raises(InvalidSetting, match=r"^schema_map\.crm_app: target schema 'raw crm' is not a name"):
        call(app, "SET_SCHEMA_MAP", {"crm_app": "raw crm"})
    mapped = call(app, "SET_SCHEMA_MAP", {"crm_app": "raw_crm_app"})
    assert (mapped["schema_map"], mapped["kept_their_target"]) == ({"crm_app": "RAW_CRM_APP"}, [])

    with pytest.raises(InvalidSetting, match=r"^options\.mode: is an argument of ADD_TABLE itself"):
        call(app, "ADD_TABLE", "crm_app.clients", ["client_id"], "changed_at", "incremental", None, None, {"mode": "x"})
    with pytest.raises(InvalidSetting, match=r"^table\.rename\.email_address: '_DELETED' is _DELETED"):
        call(
            app,
            "ADD_TABLE",
            "crm_app.clients",
            ["client_id"],
            "changed_at",
            "incremental",
            None,
            None,
            {"rename": {"email_address": "_DELETED"}},
        )
    with pytest.raises(InvalidSetting, match=r"^table\.rename\.email_address: .*column 'client_id' is 'CLIENT_ID'"):
        call(
            app,
            "ADD_TABLE",
            "crm_app.clients",
            ["client_id"],
            "changed_at",
            "incremental",
            None,
            None,
            {"rename": {"email_address": "client_id"}},
        )
    assert call(app, "SHOW_CONFIG")["tables"] == []  # nothing saved

    options = {"rename": RENAME, "delete_detection": "delete", "keys_interval_hours": 0}
    added = call(app, "ADD_TABLE", "crm_app.clients", ["client_id"], "changed_at", "incremental", None, None, options)
    assert (added["target"], added["rename"]) == ("RAW_CRM_APP.CLIENTS", RENAME)
    target = '"ANALYTICS"."RAW_CRM_APP"."CLIENTS"'
    first = call(app, "SYNC_ALL")
    assert first["status"] == "SUCCEEDED", first
    assert _rows(app, target) == {i: f"c{i}@example.com" for i in range(1, 9)}
    watermark = run(app, Stmt("SELECT WATERMARK_COLUMN, WATERMARK FROM STATE.WATERMARKS"))[0]
    assert watermark[0] == "changed_at" and watermark[1] is not None  # the source column, as configured

    cur.execute(
        "UPDATE crm_app.clients SET email_address = 'new@example.com', changed_at = clock_timestamp() "
        "WHERE client_id = 1"
    )
    cur.execute("DELETE FROM crm_app.clients WHERE client_id = 2")
    cur.execute("INSERT INTO crm_app.clients VALUES (9, 'c9@example.com', 'infinity', clock_timestamp())")
    second = call(app, "SYNC_ALL")
    assert second["status"] == "SUCCEEDED", second
    expected = {i: f"c{i}@example.com" for i in range(3, 9)} | {1: "new@example.com"}
    assert _rows(app, target) == expected
    (key, reason, values) = run(app, Stmt("SELECT PRIMARY_KEY, REASON, ROW_VALUES FROM CORE.QUARANTINED_ROWS"))[0]
    assert json.loads(key) == {"CLIENT_KEY": "9"} and reason.startswith("JOINED (date)")
    assert json.loads(values)["EMAIL"] == "c9@example.com"
    status = run(app, Stmt("SELECT SOURCE_TABLE, TARGET_SCHEMA, QUARANTINED_ROWS FROM CORE.TABLE_STATUS"))
    assert [tuple(r) for r in status] == [("clients", "RAW_CRM_APP", 1)]

    cur.execute(
        "UPDATE crm_app.clients SET joined = DATE '2026-03-02', changed_at = clock_timestamp() WHERE client_id = 9"
    )
    clean = call(app, "RECONCILE_TABLE", "crm_app.clients")
    assert (clean["status"], clean["missing"], clean["source_rows"], clean["target_rows"]) == ("DIFFERENT", 1, 8, 7)
    assert call(app, "RESYNC_TABLE", "crm_app.clients")["manifests_superseded"] >= 2
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    assert _rows(app, target) == expected | {9: "c9@example.com"}
    clean = call(app, "RECONCILE_TABLE", "crm_app.clients")
    assert (clean["status"], clean["source_rows"], clean["target_rows"]) == ("CLEAN", 8, 8), clean

    # a mapped target another table has is refused naming the map's entry
    call(app, "ADD_TABLE", "public.crm_orders", ["id"], None, "full", "RAW_CRM_APP.ORDERS")
    with pytest.raises(InvalidSetting, match=r"^schema_map\.crm_app: public\.crm_orders and crm_app\.orders would"):
        call(app, "ADD_TABLE", "crm_app.orders", ["id"], None, "full")
    call(app, "REMOVE_TABLE", "public.crm_orders")

    # a new map moves no configured table: it lists the table and the call that moves it
    moved = call(app, "SET_SCHEMA_MAP", {"crm_app": "RAW_CRM_V2"})
    (kept,) = [k for k in moved["kept_their_target"] if k["table"] == "crm_app.clients"]
    assert (kept["table"], kept["target"], kept["mapped"]) == (
        "crm_app.clients",
        "RAW_CRM_APP.CLIENTS",
        "RAW_CRM_V2.CLIENTS",
    )
    assert kept["move"] == "CALL CORE.CONFIGURE_TABLE('crm_app.clients', {'target': 'RAW_CRM_V2.CLIENTS'})"
    assert [t["target"] for t in call(app, "SHOW_CONFIG")["tables"] if t["source"] == "crm_app.clients"] == [
        "RAW_CRM_APP.CLIENTS"
    ]

    # a changed rename restarts the table: every row gets the new column
    changed = call(app, "CONFIGURE_TABLE", "crm_app.clients", {"rename": {**RENAME, "joined": "JOINED_ON"}})
    assert "rename" in changed["resync"] and "'joined': 'JOINED_ON'" in changed["resync"], changed
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    joined = run(app, Stmt(f'SELECT COUNT(*), COUNT("JOINED_ON") FROM {target}'))[0]
    assert tuple(joined) == (8, 8)
    assert call(app, "RECONCILE_TABLE", "crm_app.clients")["status"] == "CLEAN"
    call(app, "SET_SCHEMA_MAP", None)
    assert call(app, "SET_SCHEMA_MAP", {})["schema_map"] == {}
