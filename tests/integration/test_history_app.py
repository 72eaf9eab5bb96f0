"""`history` through the app's procedures (docs/CUSTOMIZATION.md "History"): ADD_TABLE(... OPTIONS =>
{'history': TRUE}) keeps every version, RECONCILE_TABLE compares the current versions, and turning
history off for the loaded target is refused by CONFIGURE_TABLE naming the fix."""

from __future__ import annotations

import pytest

from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.statement import Stmt, run
from tests.integration.test_app_procedures import app, call  # noqa: F401 (the fixture)
from tests.integration.test_history import at

pytestmark = pytest.mark.integration


def test_add_table_with_history_keeps_versions_and_history_cannot_be_turned_off_in_place(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_hist (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.executemany("INSERT INTO public.app_hist VALUES (%s, %s, %s)", [(1, "a", at(1)), (2, "b", at(1))])
    ep = stack.endpoints
    call(app, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(app, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(app, "SET_TARGET_DATABASE", "ANALYTICS")
    added = call(
        app,
        "ADD_TABLE",
        "public.app_hist",
        ["id"],
        "updated_at",
        "incremental",
        "APP_HIST.ITEMS",
        None,
        {"history": True},
    )
    assert added["history"] is True
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    cur.execute("UPDATE public.app_hist SET v = 'b2', updated_at = %s WHERE id = 2", (at(2),))
    synced = call(app, "SYNC_ALL")
    assert synced["status"] == "SUCCEEDED", synced
    rows = run(
        app,
        Stmt(
            'SELECT "ID", "V", "_VALID_TO" IS NULL, "_IS_CURRENT" FROM "ANALYTICS"."APP_HIST"."ITEMS" '
            'ORDER BY "ID", "_VALID_FROM"'
        ),
    )
    assert [tuple(r) for r in rows] == [(1, "a", True, True), (2, "b", False, False), (2, "b2", True, True)]
    current = run(app, Stmt('SELECT "ID", "V" FROM "ANALYTICS"."APP_HIST"."ITEMS_CURRENT" ORDER BY "ID"'))
    assert [tuple(r) for r in current] == [(1, "a"), (2, "b2")]
    clean = call(app, "RECONCILE_TABLE", "public.app_hist")
    assert (clean["status"], clean["source_rows"], clean["target_rows"]) == ("CLEAN", 2, 2)

    with pytest.raises(InvalidSetting) as refused:
        call(app, "CONFIGURE_TABLE", "public.app_hist", {"history": False})
    assert "history is off, but the target is a history table" in str(refused.value)
    assert refused.value.key == "history"
    assert call(app, "SHOW_CONFIG")["tables"][0]["history"] is True
