"""`aurora-sync status` (issue 15, item 1) on the embedded stack: the state of each table's last run read
from the monitoring views (TABLE_STATUS, RUN_HISTORY) the local runner creates in its control schema;
exit 1 while a table's last run failed or it is quarantined, 0 once it recovered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.cli import main
from aurora_sync.status import iso
from stored_procs.orchestration import lease

pytestmark = pytest.mark.integration


def _status(h: Any, tmp_path: Path, capsys: Any, *args: str) -> tuple[int, str]:
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    capsys.readouterr()
    code = main(["status", "--config", str(config), *args])
    return code, capsys.readouterr().out


def _json(h: Any, tmp_path: Path, capsys: Any, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    code, out = _status(h, tmp_path, capsys, "--json", *args)
    return code, {t["table"]: t for t in json.loads(out)}


def _last_runs(h: Any) -> dict[str, tuple[Any, ...]]:
    """Each table's newest RUNS row: STATUS, FINISHED_AT, ROWS_LOADED, ERROR, RUN_ID."""
    rows = h.query(
        f"SELECT SOURCE_SCHEMA, SOURCE_TABLE, STATUS, FINISHED_AT, ROWS_LOADED, ERROR, RUN_ID FROM {h.control('RUNS')} "
        "ORDER BY FINISHED_AT"
    )
    return {f"{r[0]}.{r[1]}": (r[2], iso(r[3]), int(r[4] or 0), r[5], r[6]) for r in rows}


def _as_recorded(t: dict[str, Any]) -> tuple[Any, ...]:
    return (t["last_run_status"], t["last_run_at"], t["rows_last_run"], t["last_run_error"], t["last_run_id"])


def test_a_failed_table_exits_1_naming_its_error_until_a_run_succeeds(pg, harness, tmp_path, capsys) -> None:
    cur = pg.cursor()
    for name in ("st_ok", "st_gone"):
        cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v text, changed_at timestamptz NOT NULL)")
        cur.execute(f"INSERT INTO public.{name} SELECT g, 'v' || g, now() FROM generate_series(1, 5) g")
    h = harness.add("public.st_ok", ["id"], "changed_at").add("public.st_gone", ["id"], "changed_at")

    code, out = _status(h, tmp_path, capsys)  # nothing ran yet: no crash, and no control schema created
    assert code == 2 and f"no run recorded in ANALYTICS.{h.control_schema}" in " ".join(out.split()), out

    assert not h.cycle().failed
    cur.execute("INSERT INTO public.st_ok SELECT g, 'v' || g, now() FROM generate_series(6, 8) g")
    cur.execute("DROP TABLE public.st_gone")  # a real failure: its export cannot find it
    second = h.cycle()
    assert [t.spec.source for t in second.failed] == ["public.st_gone"]

    code, out = _status(h, tmp_path, capsys)
    assert code == 1, out
    assert max(len(line) for line in out.splitlines()) <= 80, out  # not a terminal: 80 columns
    flat = " ".join(line.strip() for line in out.splitlines())
    assert "public.st_gone FAILED: export failed" in flat and "does not exist in the source database" in flat
    assert "public.st_ok" in out and "SUCCEEDED" in out

    code, tables = _json(h, tmp_path, capsys)
    assert code == 1
    recorded = _last_runs(h)
    for name in ("public.st_ok", "public.st_gone"):
        assert _as_recorded(tables[name]) == recorded[name]  # the values RUNS holds
    assert tables["public.st_gone"]["state"] == "FAILED" and recorded["public.st_gone"][0] == "FAILED"
    assert (tables["public.st_ok"]["state"], tables["public.st_ok"]["rows_last_run"]) == ("SUCCEEDED", 3)
    assert tables["public.st_ok"]["last_success_at"] == recorded["public.st_ok"][1]
    assert tables["public.st_ok"]["watermark"] == h.watermark("st_ok")
    assert 0 <= tables["public.st_ok"]["lag_minutes"] <= 5  # a timestamp watermark of now()
    assert tables["public.st_gone"]["last_success_at"] < tables["public.st_gone"]["last_run_at"]

    # fixed: the table is back, with one row newer than the loaded watermark
    cur.execute("CREATE TABLE public.st_gone (id int PRIMARY KEY, v text, changed_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.st_gone SELECT g, 'v' || g, now() FROM generate_series(1, 6) g")
    cur.execute("INSERT INTO public.st_ok VALUES (9, 'v9', now())")
    assert not h.cycle().failed
    code, tables = _json(h, tmp_path, capsys, "--history", "3")
    assert code == 0, tables
    recorded = _last_runs(h)
    assert {name: t["state"] for name, t in tables.items()} == {
        "public.st_ok": "SUCCEEDED",
        "public.st_gone": "SUCCEEDED",
    }
    for name, t in tables.items():
        assert _as_recorded(t) == recorded[name]
    assert "does not exist" in tables["public.st_gone"]["last_error"]  # the newest error of any run
    assert tables["public.st_gone"]["last_error_at"] < tables["public.st_gone"]["last_run_at"]
    for name, t in tables.items():
        assert [r["status"] for r in t["history"]] == (
            ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"] if name == "public.st_ok" else ["SUCCEEDED", "FAILED", "SUCCEEDED"]
        )
        runs = h.query(
            f"SELECT RUN_ID, ROWS_LOADED, ERROR FROM {h.control('RUNS')} WHERE SOURCE_TABLE = ? "
            "ORDER BY FINISHED_AT DESC",
            name.split(".")[1],
        )
        assert [(r["run_id"], r["rows_loaded"], r["error"]) for r in t["history"]] == [tuple(r) for r in runs]
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ST_GONE"')[0][0] == 6

    code, out = _status(h, tmp_path, capsys, "--history", "3")
    assert code == 0
    history = out[out.index("last runs") :]
    lines = [line.split() for line in history.splitlines() if line.startswith("public.st_gone ")]
    assert [line[3] for line in lines if line[1] != "at"] == ["SUCCEEDED", "FAILED", "SUCCEEDED"], out
    assert "public.st_gone at " in history and "does not exist in the source database" in history


def test_rows_set_aside_quarantine_the_table_until_a_run_sets_none_aside(pg, harness, tmp_path, capsys) -> None:
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.st_days (id int PRIMARY KEY, day date, v int NOT NULL)")
    cur.execute("INSERT INTO public.st_days VALUES (1, '2026-01-01', 1), (2, 'infinity', 2)")
    h = harness.add("public.st_days", ["id"], "v", late_row_guard="false")
    assert not h.cycle().failed
    code, tables = _json(h, tmp_path, capsys)
    t = tables["public.st_days"]
    assert code == 1
    assert (t["state"], t["last_run_status"], t["rows_set_aside_last_run"], t["quarantined_rows"]) == (
        "QUARANTINED",
        "SUCCEEDED",
        1,
        1,
    )
    assert t["lag_minutes"] is None  # an integer watermark has no lag
    code, out = _status(h, tmp_path, capsys)
    assert code == 1 and "1 row(s) set aside by the last run" in " ".join(out.split())

    cur.execute("INSERT INTO public.st_days VALUES (3, '2026-01-03', 3)")
    assert not h.cycle().failed
    code, tables = _json(h, tmp_path, capsys)
    t = tables["public.st_days"]
    assert code == 0
    assert (t["state"], t["rows_set_aside_last_run"], t["quarantined_rows"]) == ("SUCCEEDED", 0, 1)


def test_a_held_lease_is_busy_and_missing_views_are_created(pg, harness, tmp_path, capsys) -> None:
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.st_busy (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.st_busy VALUES (1, 1)")
    h = harness.add("public.st_busy", ["id"], "v", late_row_guard="false")
    assert not h.cycle().failed
    h.query(f"DROP VIEW {h.control('TABLE_STATUS')}")  # dropped by hand: status creates it again
    name = lease.table_lease("public", "st_busy")
    assert lease.acquire(h.snow, h.config.place, name, "other-run/1") is None
    try:
        code, tables = _json(h, tmp_path, capsys)
        t = tables["public.st_busy"]
        assert code == 0 and t["state"] == "BUSY" and t["busy"].startswith("held by other-run/1 until ")
        assert t["last_run_status"] == "SUCCEEDED"
        cur.execute("INSERT INTO public.st_busy VALUES (2, 2)")
        assert h.cycle().tables[0].load["status"] == "BUSY"  # this run leaves the table to the holder
        code, tables = _json(h, tmp_path, capsys)
        t = tables["public.st_busy"]  # a BUSY row is not the table's last run (it did nothing)
        assert code == 0 and (t["state"], t["last_run_status"]) == ("BUSY", "SUCCEEDED")
    finally:
        lease.release(h.snow, h.config.place, name, "other-run/1")
    # the holder went away without loading it: the last run is still the one that loaded; the next run loads
    code, out = _status(h, tmp_path, capsys)
    assert code == 0 and "SUCCEEDED" in out and "BUSY" not in out
    assert not h.cycle().failed
    code, tables = _json(h, tmp_path, capsys)
    assert code == 0 and (tables["public.st_busy"]["state"], tables["public.st_busy"]["rows_last_run"]) == (
        "SUCCEEDED",
        1,
    )
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ST_BUSY"')[0][0] == 2
