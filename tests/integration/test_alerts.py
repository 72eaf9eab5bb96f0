"""Alerts of `aurora-sync run` ([alerts] webhook_url): one message per incident, one when it is over, whatever
the number of runs in between; a stale table by its freshness_sla_minutes; a webhook that cannot be reached
is a warning, never a failed run, and its message goes out next run."""

from __future__ import annotations

import logging
import time
import tomllib

import pytest

from aurora_sync.config import parse_config
from aurora_sync.cycle import run_cycle
from tests.integration.receiver import webhook_receiver

pytestmark = pytest.mark.integration


def _config(h, url: str, fmt: str = "generic"):  # type: ignore[no-untyped-def]
    return parse_config(tomllib.loads(h.toml + f'\n[alerts]\nwebhook_url = "{url}"\nformat = "{fmt}"\n'))


def _incidents(h):  # type: ignore[no-untyped-def]
    return h.query(
        "SELECT SOURCE_TABLE, KIND, CLOSED_AT IS NOT NULL, OPEN_NOTIFIED_AT IS NOT NULL, CLOSE_NOTIFIED_AT IS NOT NULL "
        f"FROM {h.control('INCIDENTS')} ORDER BY OPENED_AT, KIND"
    )


def _last_status(h, table: str) -> str:  # type: ignore[no-untyped-def]
    rows = h.query(f"SELECT STATUS FROM {h.control('RUNS')} WHERE SOURCE_TABLE = ? ORDER BY FINISHED_AT DESC", table)
    return str(rows[0][0])


def test_one_message_per_incident_across_failing_runs_and_one_when_it_recovers(pg, harness) -> None:  # type: ignore[no-untyped-def]
    cur = pg.cursor()
    for name in ("al_orders", "al_items"):
        cur.execute(f"CREATE TABLE public.{name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
        cur.execute(
            f"INSERT INTO public.{name} SELECT g, '2026-03-01'::timestamptz + g * interval '1 s' "
            "FROM generate_series(1, 20) g"
        )
    h = harness.add("public.al_orders", ["id"], "updated_at").add("public.al_items", ["id"], "updated_at")
    with webhook_receiver() as hook:
        config = _config(h, hook.url)
        assert not run_cycle(h.snow, config, h.exporter).failed
        assert hook.posts == []  # healthy: nothing to say

        cur.execute("ALTER TABLE public.al_orders RENAME TO al_orders_away")  # every export of it fails
        for _ in range(3):
            report = run_cycle(h.snow, config, h.exporter)
            assert [t.spec.source for t in report.failed] == ["public.al_orders"]
            assert _last_status(h, "al_orders") == "FAILED"
        assert len(hook.posts) == 1, hook.texts()
        (opened,) = [p["body"] for p in hook.posts]
        assert (opened["event"], opened["kind"], opened["table"]) == ("opened", "RUN_FAILED", "public.al_orders")
        assert "export failed" in opened["detail"] and opened["text"].startswith("aurora-sync ALERT public.al_orders")
        assert hook.posts[0]["path"] == "/services/T0/B0/SECRET"

        cur.execute("ALTER TABLE public.al_orders_away RENAME TO al_orders")
        cur.execute("INSERT INTO public.al_orders VALUES (21, '2026-03-02')")
        assert not run_cycle(h.snow, config, h.exporter).failed
        assert not run_cycle(h.snow, config, h.exporter).failed  # and an idle run after: nothing more
    assert [(p["body"]["event"], p["body"]["table"]) for p in hook.posts] == [
        ("opened", "public.al_orders"),
        ("recovered", "public.al_orders"),
    ]
    assert hook.posts[1]["body"]["text"].startswith("aurora-sync RECOVERED public.al_orders: run failed since")
    assert h.query('SELECT COUNT(*), MAX("ID") FROM "ANALYTICS"."PUBLIC"."AL_ORDERS"') == [(21, 21)]
    assert h.watermark("al_orders").startswith("2026-03-02")
    assert _incidents(h) == [("al_orders", "RUN_FAILED", True, True, True)]


def test_a_table_past_its_freshness_sla_is_one_stale_incident(pg, harness) -> None:  # type: ignore[no-untyped-def]
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.al_stale (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.al_stale VALUES (1, '2026-03-01')")
    h = harness.add("public.al_stale", ["id"], "updated_at", freshness_sla_minutes="0.05")  # 3 seconds
    with webhook_receiver() as hook:
        config = _config(h, hook.url, "slack")
        assert config.tables[0].freshness_sla_minutes == 0.05
        assert not run_cycle(h.snow, config, h.exporter).failed
        cur.execute("ALTER TABLE public.al_stale RENAME TO al_stale_away")
        run_cycle(h.snow, config, h.exporter)  # failing, not yet stale
        assert [p["body"]["text"].split(":")[1].strip() for p in hook.posts] == ["run failed"]
        time.sleep(3.5)
        run_cycle(h.snow, config, h.exporter)
        run_cycle(h.snow, config, h.exporter)  # still stale: no second message
        texts = [p["body"]["text"] for p in hook.posts]
        assert len(texts) == 2 and texts[1].startswith(
            "aurora-sync ALERT public.al_stale: stale beyond its freshness SLA"
        )
        assert "within 0.05 minutes" in texts[1]
        assert set(hook.posts[1]["body"]) == {"text"}  # the slack format: its `text` only

        cur.execute("ALTER TABLE public.al_stale_away RENAME TO al_stale")
        assert not run_cycle(h.snow, config, h.exporter).failed
    recovered = sorted(p["body"]["text"] for p in hook.posts[2:])
    assert len(recovered) == 2 and all(t.startswith("aurora-sync RECOVERED public.al_stale") for t in recovered)
    assert sorted((k, closed) for _, k, closed, *_ in _incidents(h)) == [("RUN_FAILED", True), ("STALE", True)]


def test_an_unreachable_webhook_is_a_warning_and_its_message_goes_out_next_run(pg, harness, caplog) -> None:  # type: ignore[no-untyped-def]
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.al_down (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
    h = harness.add("public.al_down", ["id"], "updated_at")
    cur.execute("ALTER TABLE public.al_down RENAME TO al_down_away")
    with webhook_receiver() as gone:
        dead_url = gone.url
    with caplog.at_level(logging.WARNING, logger="aurora_sync.alerts"):
        report = run_cycle(h.snow, _config(h, dead_url), h.exporter)
    assert [t.spec.source for t in report.failed] == ["public.al_down"]  # failed by its export, not by the alert
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "aurora_sync.alerts"]
    assert "alert not delivered (opened RUN_FAILED public.al_down)" in warning and "127.0.0.1" in warning
    assert "SECRET" not in warning and "\n" not in warning
    assert _incidents(h) == [("al_down", "RUN_FAILED", False, False, False)]

    with webhook_receiver() as hook:
        run_cycle(h.snow, _config(h, hook.url), h.exporter)
        run_cycle(h.snow, _config(h, hook.url), h.exporter)
    assert [(p["body"]["event"], p["body"]["table"]) for p in hook.posts] == [("opened", "public.al_down")]
    assert _incidents(h) == [("al_down", "RUN_FAILED", False, True, False)]


def test_alerts_add_one_statement_to_a_run_in_which_no_incident_opens_or_closes(pg, harness) -> None:  # type: ignore[no-untyped-def]
    """The statement budget (test_statement_budget.py: an idle run <= 6) holds with a destination: the alert
    step is one MERGE over INCIDENTS while nothing opens or closes; without [alerts] it sends nothing."""
    from benchmarks.statements import counted_statements

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.al_budget (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.al_budget SELECT g, '2026-03-01'::timestamptz + g * interval '1 s' "
        "FROM generate_series(1, 50) g"
    )
    h = harness.add("public.al_budget", ["id"], "updated_at", freshness_sla_minutes="60")
    with webhook_receiver() as hook:
        config = _config(h, hook.url)
        assert not run_cycle(h.snow, config, h.exporter).failed
        with counted_statements() as plain:
            assert not run_cycle(h.snow, h.config, h.exporter).failed  # no [alerts]
        with counted_statements() as alerted:
            report = run_cycle(h.snow, config, h.exporter)
    assert report.tables[0].load["status"] == "NO_CHANGE" and hook.posts == []

    def alert_step(statements: list[str]) -> list[str]:  # the state read only probes INCIDENTS
        return [s for s in statements if '"INCIDENTS"' in s and not s.startswith("SELECT x.V")]

    assert alert_step(plain) == []
    (merge,) = alert_step(alerted)
    assert merge.startswith("MERGE INTO") and '"INCIDENTS"' in merge.split(" USING ")[0]
    assert len(alerted) == len(plain) + 1 <= 6, "\n".join(alerted)
