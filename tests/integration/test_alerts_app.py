"""Alerts of the Native App: through a notification integration the consumer creates and grants, named with
CORE.SET_ALERT_INTEGRATION; the FINALIZER calls SYSTEM$SEND_SNOWFLAKE_NOTIFICATION once per incident and once
when it is over. The emulator POSTs a webhook integration's message to its URL (aurora_sync.stack.emulator.
notifications), here a local receiver standing in for Slack."""

from __future__ import annotations

import pytest

from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.statement import Stmt, run
from tests.integration.receiver import webhook_receiver
from tests.integration.test_app_procedures import APP_ROLE, app, call, configure  # noqa: F401 (app: a fixture)

pytestmark = pytest.mark.integration


def test_the_app_notifies_each_incident_once_through_the_bound_integration(pg, app, stack, snow) -> None:  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.apa_orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.apa_orders SELECT g, now() FROM generate_series(1, 30) g")
    configure(app, stack, "public.apa_orders", "APP_ALERTS.APA_ORDERS")
    with webhook_receiver() as hook:
        run(
            snow,
            Stmt(
                "CREATE NOTIFICATION INTEGRATION APA_HOOK TYPE = WEBHOOK ENABLED = TRUE "
                f"WEBHOOK_URL = '{hook.url}' WEBHOOK_BODY_TEMPLATE = '{{\"text\": \"SNOWFLAKE_WEBHOOK_MESSAGE\"}}' "
                "WEBHOOK_HEADERS = ('Content-Type' = 'application/json')"
            ),
        )
        with pytest.raises(InvalidSetting, match="GRANT USAGE ON INTEGRATION APA_HOOK TO APPLICATION"):
            call(app, "SET_ALERT_INTEGRATION", "apa_hook")  # not granted yet: refused, nothing saved
        assert hook.posts == []
        run(snow, Stmt(f"GRANT USAGE ON INTEGRATION APA_HOOK TO ROLE {APP_ROLE}"))  # the emulator's app is a role
        assert call(app, "SET_ALERT_INTEGRATION", "apa_hook") == {"alerts": "APA_HOOK", "test_message": "sent"}
        assert hook.texts() == ["aurora-sync: alerts of this app will come here"]
        added = call(app, "ADD_TABLE", "public.apa_orders", ["id"], "updated_at", "incremental", None, 120)
        assert (added["action"], added["freshness_sla_minutes"], added["target"]) == (
            "updated",
            120.0,
            "APP_ALERTS.APA_ORDERS",
        )
        configured = call(app, "CONFIGURE_TABLE", "public.apa_orders", {"freshness_sla_minutes": 90})
        assert configured["freshness_sla_minutes"] == 90.0

        first = call(app, "SYNC_ALL")
        assert first["status"] == "SUCCEEDED" and first["alerts"] == {"opened": [], "recovered": [], "undelivered": []}
        cur.execute("ALTER TABLE public.apa_orders RENAME TO apa_orders_away")
        for _ in range(3):
            failing = call(app, "SYNC_ALL")
            assert failing["tables"]["public.apa_orders"]["status"] == "FAILED"
        assert len(hook.posts) == 2, hook.texts()
        assert hook.posts[1]["content_type"] == "application/json"  # the integration's header and template
        assert hook.texts()[1].startswith("aurora-sync ALERT public.apa_orders: run failed: export failed")

        cur.execute("ALTER TABLE public.apa_orders_away RENAME TO apa_orders")
        cur.execute("INSERT INTO public.apa_orders VALUES (31, now())")
        recovered = call(app, "SYNC_ALL")
        assert recovered["tables"]["public.apa_orders"]["status"] == "SUCCEEDED"
        assert len(recovered["alerts"]["recovered"]) == 1
        assert call(app, "SYNC_ALL")["alerts"]["recovered"] == []  # over: said once
    assert len(hook.posts) == 3
    assert hook.texts()[2].startswith("aurora-sync RECOVERED public.apa_orders: run failed since")
    assert run(app, Stmt('SELECT COUNT(*) FROM "ANALYTICS"."APP_ALERTS"."APA_ORDERS"'))[0][0] == 31
    incidents = run(app, Stmt("SELECT KIND, CLOSED_AT IS NOT NULL, CLOSE_NOTIFIED_AT IS NOT NULL FROM STATE.INCIDENTS"))
    assert [tuple(r) for r in incidents] == [("RUN_FAILED", True, True)]

    assert call(app, "SET_ALERT_INTEGRATION", None) == {"alerts": "off"}
    assert "alerts" not in call(app, "SYNC_ALL")  # no destination: nothing evaluated
