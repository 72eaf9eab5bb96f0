"""The dashboard's verdicts (stored_procs/monitoring/dashboard_sql.py): freshness against the SLA, the
failing tables and why, SLAs read from SYNC_TABLES.OPTIONS."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stored_procs.monitoring import dashboard_sql as q

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 12, 0, 0)


@pytest.mark.parametrize(
    ("state", "success", "sla", "verdict"),
    [
        ("FAILED", NOW, 60.0, "failing"),  # failing wins over a recent success
        ("QUARANTINED", NOW, None, "failing"),  # and over no SLA
        ("SUCCEEDED", NOW - timedelta(minutes=5), None, "no SLA"),
        ("NEVER_RUN", None, 60.0, "not run yet"),
        ("SUCCEEDED", NOW - timedelta(minutes=59), 60.0, "on time"),
        ("NO_CHANGE", NOW - timedelta(minutes=60), 60.0, "on time"),  # the alerts' rule: more than the SLA
        ("SUCCEEDED", NOW - timedelta(minutes=60, seconds=1), 60.0, "late"),
        ("WAITING", None, 60.0, "late"),  # ran, never succeeded
        ("SUCCEEDED", datetime(2026, 11, 29, 12, 50, tzinfo=timezone(timedelta(hours=1))), 10.0, "on time"),
    ],
)
def test_freshness(state, success, sla, verdict) -> None:
    assert q.freshness(state, success, sla, NOW) == verdict


def test_slas_read_the_option_and_ignore_what_is_not_one() -> None:
    rows = [
        {"SOURCE": "public.a", "OPTIONS": '{"freshness_sla_minutes": 30, "lookback": null}'},
        {"SOURCE": "public.b", "OPTIONS": '{"numeric_scale": {}}'},
        {"SOURCE": "public.c", "OPTIONS": None},
        {"SOURCE": "public.d", "OPTIONS": "not json"},
        {"SOURCE": "public.e", "OPTIONS": '{"freshness_sla_minutes": "30"}'},
    ]
    assert q.slas(rows) == {"public.a": 30.0, "public.b": None, "public.c": None, "public.d": None, "public.e": None}


def _status(source: str, state: str, **more: object) -> dict[str, object]:
    row: dict[str, object] = {
        "SOURCE": source,
        "STATE": state,
        "LAST_RUN_ID": "run-1",
        "LAST_RUN_AT": NOW,
        "LAST_SUCCESS_AT": NOW,
        "LAST_RUN_ERROR": None,
        "QUARANTINED_MANIFESTS": 0,
        "ROWS_SET_ASIDE_LAST_RUN": 0,
    }
    row.update(more)
    return row


def test_failing_tables_are_the_failed_and_quarantined_states_with_why() -> None:
    status = [
        _status("public.ok", "SUCCEEDED"),
        _status("public.gone", "FAILED", LAST_RUN_ERROR="export failed: public.gone does not exist"),
        _status("public.held", "QUARANTINED", QUARANTINED_MANIFESTS=2, ROWS_SET_ASIDE_LAST_RUN=3),
        _status("public.wait", "WAITING", LAST_RUN_ERROR="an older error"),
    ]
    assert [(f["TABLE"], f["WHY"]) for f in q.failing(status)] == [
        ("public.gone", "export failed: public.gone does not exist"),
        (
            "public.held",
            "2 export(s) quarantined: RETRY_MANIFEST or DISCARD_MANIFEST; "
            "3 row(s) set aside by the last run (QUARANTINED_ROWS)",
        ),
    ]
    shown = q.tables(status, {"public.ok": 60.0}, NOW)
    assert [(t["TABLE"], t["FRESHNESS"]) for t in shown] == [
        ("public.ok", "on time"),
        ("public.gone", "failing"),
        ("public.held", "failing"),
        ("public.wait", "no SLA"),
    ]


def test_pivot_leaves_out_unknown_values() -> None:
    history = [
        {"SOURCE": "public.a", "FINISHED_AT": NOW, "LAG_MINUTES": None},
        {"SOURCE": "public.a", "FINISHED_AT": NOW + timedelta(hours=1), "LAG_MINUTES": 4},
        {"SOURCE": "public.b", "FINISHED_AT": NOW, "LAG_MINUTES": None},
    ]
    assert q.pivot(history, "LAG_MINUTES") == {"public.a": {NOW + timedelta(hours=1): 4}}
