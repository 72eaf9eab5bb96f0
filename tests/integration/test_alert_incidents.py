"""Issue 15 review of the alerts: two evaluations at once send one message; a webhook that does not answer
costs one timeout, not one per notice; `aurora-sync alerts` notices a stale table with no run to finish;
a BUSY run never hides a FAILED table (status, alerts); `status` / `alerts` create nothing on a wrong
control schema."""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.alerts import evaluate_local
from aurora_sync.cli import main
from aurora_sync.config import parse_config
from aurora_sync.cycle import prepare, run_cycle
from aurora_sync.snowflake import snowpark_session
from stored_procs.orchestration import lease
from stored_procs.statement import Stmt, run
from tests.integration.receiver import silent_receiver, webhook_receiver

pytestmark = pytest.mark.integration


def _config(h: Any, url: str, timeout: float = 10):  # type: ignore[no-untyped-def]
    extra = f'\n[alerts]\nwebhook_url = "{url}"\ntimeout_seconds = {timeout}\n'
    return parse_config(tomllib.loads(h.toml + extra))


def _write(h: Any, tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(h.toml + f'\n[alerts]\nwebhook_url = "{url}"\n')
    return path


def _incidents(h: Any) -> list[Any]:
    return h.query(
        "SELECT SOURCE_TABLE, KIND, CLOSED_AT IS NOT NULL, OPEN_NOTIFIED_AT IS NOT NULL, CLOSE_NOTIFIED_AT IS NOT NULL "
        f"FROM {h.control('INCIDENTS')} ORDER BY SOURCE_TABLE, OPENED_AT, KIND"
    )


def _failing_table(pg: Any, name: str) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(f"ALTER TABLE public.{name} RENAME TO {name}_away")  # every export of it fails


def test_two_evaluations_at_once_send_one_message(pg, harness) -> None:  # type: ignore[no-untyped-def]
    _failing_table(pg, "ai_twice")
    h = harness.add("public.ai_twice", ["id"], "updated_at")
    assert [t.spec.source for t in h.cycle().failed] == ["public.ai_twice"]  # no [alerts]: nothing sent yet
    with webhook_receiver(delay_s=1.0) as hook, snowpark_session(h.config.snowflake_connect, h.config.database) as s2:
        config = _config(h, hook.url)
        start = threading.Barrier(2)
        outcomes: list[dict[str, Any]] = []

        def finalize(session: Any, run_id: str) -> None:
            start.wait()
            outcomes.append(evaluate_local(session, config.place, list(config.tables), run_id, config.alerts))

        threads = [threading.Thread(target=finalize, args=(s, r)) for s, r in ((h.snow, "run-a"), (s2, "run-b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(outcomes) == 2 and not any(o.get("error") for o in outcomes), outcomes
        assert [(p["body"]["event"], p["body"]["table"]) for p in hook.posts] == [("opened", "public.ai_twice")], (
            outcomes,
            h.query(f"SELECT * FROM {h.control('INCIDENTS')}"),
        )
        assert sum(len(o["opened"]) for o in outcomes) == 1
        run_cycle(h.snow, config, h.exporter)  # and the next run: nothing more
    assert len(hook.posts) == 1
    # one open incident, notified; when both MERGEs opened one (neither saw the other's), the second is
    # closed as a duplicate, silently (both notification times set)
    found = _incidents(h)
    assert [r for r in found if not r[2]] == [("ai_twice", "RUN_FAILED", False, True, False)]
    assert all(tuple(r) == ("ai_twice", "RUN_FAILED", True, True, True) for r in found if r[2])


def test_a_duplicate_incident_opened_by_a_concurrent_run_is_closed_silently(pg, harness) -> None:  # type: ignore[no-untyped-def]
    """What two MERGEs at once can leave (each opened an incident for one table and kind: neither saw the
    other's row) is made here by hand: one notice goes out, the duplicate is closed, and the end of the
    incident is notified once."""
    _failing_table(pg, "ai_dup")
    h = harness.add("public.ai_dup", ["id"], "updated_at")
    with webhook_receiver() as hook:
        config = _config(h, hook.url)
        run_cycle(h.snow, config, h.exporter)
        h.query(
            f"INSERT INTO {h.control('INCIDENTS')} (INCIDENT_ID, SOURCE_SCHEMA, SOURCE_TABLE, KIND, DETAIL, OPENED_AT) "
            "SELECT 'run-other/RUN_FAILED/public.ai_dup', SOURCE_SCHEMA, SOURCE_TABLE, KIND, DETAIL, OPENED_AT "
            f"FROM {h.control('INCIDENTS')}"
        )
        run_cycle(h.snow, config, h.exporter)
        pg.cursor().execute("ALTER TABLE public.ai_dup_away RENAME TO ai_dup")
        assert not run_cycle(h.snow, config, h.exporter).failed
        run_cycle(h.snow, config, h.exporter)
    assert [(p["body"]["event"], p["body"]["table"]) for p in hook.posts] == [
        ("opened", "public.ai_dup"),
        ("recovered", "public.ai_dup"),
    ]
    assert _incidents(h) == [("ai_dup", "RUN_FAILED", True, True, True)] * 2


def test_a_webhook_that_does_not_answer_costs_one_timeout_and_one_warning(pg, harness, caplog) -> None:  # type: ignore[no-untyped-def]
    names = [f"ai_down{i}" for i in range(5)]
    for name in names:
        _failing_table(pg, name)
    for name in names:
        harness.add(f"public.{name}", ["id"], "updated_at")
    h = harness
    assert len(h.cycle().failed) == 5  # no [alerts]: five incidents to open
    with silent_receiver() as silent:
        config = _config(h, silent.url, timeout=1)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aurora_sync.alerts"):
            started = time.monotonic()
            outcome = evaluate_local(h.snow, config.place, list(config.tables), "run-down", config.alerts)
            took = time.monotonic() - started
    warnings = [r.getMessage() for r in caplog.records if r.name == "aurora_sync.alerts"]
    assert len(warnings) == 1 and "did not answer within 1 s" in warnings[0], warnings
    assert "and 4 more alert(s) wait" in warnings[0] and "SECRET" not in warnings[0]
    assert silent.connections == 1 and len(outcome["undelivered"]) == 5 and outcome["opened"] == []
    assert took < 4, f"the alert step took {took:.1f} s: one timeout per notice?"
    assert [r[1:4] for r in _incidents(h)] == [("RUN_FAILED", False, False)] * 5
    with webhook_receiver() as hook:  # the webhook is back: the five go out, once each
        run_cycle(h.snow, _config(h, hook.url), h.exporter)
        run_cycle(h.snow, _config(h, hook.url), h.exporter)
    assert sorted(p["body"]["table"] for p in hook.posts) == [f"public.{n}" for n in names]


def test_aurora_sync_alerts_sends_stale_without_a_run_and_once(pg, harness, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.ai_stale (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
    h = harness.add("public.ai_stale", ["id"], "updated_at", freshness_sla_minutes="0.02")  # 1.2 seconds
    prepare(h.snow, h.config)  # what a run does first; it died there (killed, crashed): no RUNS row
    assert h.query(f"SELECT COUNT(*) FROM {h.control('RUNS')}") == [(0,)]
    with webhook_receiver() as hook:
        path = _write(h, tmp_path, hook.url)
        time.sleep(1.5)
        assert main(["alerts", "--config", str(path)]) == 0
        assert main(["alerts", "--config", str(path)]) == 0  # still stale: said once
    assert [(p["body"]["event"], p["body"]["kind"], p["body"]["table"]) for p in hook.posts] == [
        ("opened", "STALE", "public.ai_stale")
    ]
    assert "no successful run within 0.02 minutes" in hook.posts[0]["body"]["text"]
    assert "alerts: 1 opened, 0 recovered sent" in capsys.readouterr().out
    assert _incidents(h) == [("ai_stale", "STALE", False, True, False)]
    with webhook_receiver() as gone:
        dead = gone.url
    h.query(f"UPDATE {h.control('INCIDENTS')} SET OPEN_NOTIFIED_AT = NULL")  # one waits again
    assert main(["alerts", "--config", str(_write(h, tmp_path, dead))]) == 1  # not delivered: cron sees it


def test_a_busy_run_after_a_failed_one_leaves_the_table_failed(pg, harness, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _failing_table(pg, "ai_busy")
    h = harness.add("public.ai_busy", ["id"], "updated_at")
    with webhook_receiver() as hook:
        config = _config(h, hook.url)
        assert [t.spec.source for t in run_cycle(h.snow, config, h.exporter).failed] == ["public.ai_busy"]
        name = lease.table_lease("public", "ai_busy")
        assert lease.acquire(h.snow, config.place, name, "run-other/lane") is None
        try:
            run_cycle(h.snow, config, h.exporter)
        finally:
            lease.release(h.snow, config.place, name, "run-other/lane")
        statuses = h.query(f"SELECT STATUS FROM {h.control('RUNS')} ORDER BY FINISHED_AT DESC")
        assert [s for (s,) in statuses] == ["BUSY", "FAILED"]
        path = tmp_path / "sync.toml"
        path.write_text(h.toml)
        capsys.readouterr()
        assert main(["status", "--config", str(path), "--json"]) == 1
        assert '"state": "FAILED"' in capsys.readouterr().out
        run_cycle(h.snow, config, h.exporter)  # FAILED again: the same incident
    assert [(p["body"]["event"], p["body"]["kind"]) for p in hook.posts] == [("opened", "RUN_FAILED")]
    assert _incidents(h) == [("ai_busy", "RUN_FAILED", False, True, False)]


@pytest.mark.parametrize("command", ["status", "alerts"])
def test_a_wrong_control_schema_is_exit_2_and_creates_nothing(harness, tmp_path, capsys, command) -> None:  # type: ignore[no-untyped-def]
    h = harness.add("public.ai_typo", ["id"], "updated_at")
    with webhook_receiver() as hook:
        path = _write(h, tmp_path, hook.url)
        path.write_text(path.read_text().replace(h.control_schema, "CTL_TYPO"))
        capsys.readouterr()
        assert main([command, "--config", str(path)]) == 2
    out = capsys.readouterr().out
    assert "no run recorded in ANALYTICS.CTL_TYPO" in " ".join(out.split()), out
    assert hook.posts == []
    with pytest.raises(Exception, match="(?i)does not exist"):
        run(h.snow, Stmt('SELECT COUNT(*) FROM "ANALYTICS"."CTL_TYPO"."SYNC_TABLES"'))
    schemas = h.query("SELECT COUNT(*) FROM ANALYTICS.INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = 'CTL_TYPO'")
    assert schemas == [(0,)]
