"""`aurora-sync run` with its output redirected (not a terminal): one log line per table and stage on
stderr, with rows, bytes and seconds (docs/RUNBOOK.md, "Watching a run"); the summary alone on stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

LINE = re.compile(
    r"(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) run=(?P<run>\S+) table=(?P<table>\S+) stage=(?P<stage>\w+) "
    r"rows=(?P<rows>\d+|-) bytes=(?P<bytes>\d+|-) seconds=(?P<seconds>\d+\.\d{3}) status=(?P<status>\w+)"
    r"(?: detail=(?P<detail>.+))?"
)


def _run(config: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, str]]]:
    result = subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", "run", "--config", config],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},  # loopback emulators: unsigned
        check=False,
    )
    lines = result.stderr.splitlines()
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), result.stderr  # every stderr line is a log line
    return result, [m.groupdict() for m in parsed if m]


def test_a_redirected_run_logs_each_table_and_stage_with_its_timings(pg, harness):
    cur = pg.cursor()
    for name in ("log_orders", "log_items"):
        cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, note text, v int NOT NULL)")
        cur.execute(f"INSERT INTO public.{name} SELECT g, 'note ' || g, g FROM generate_series(1, 40) g")
        harness.add(f"public.{name}", ["id"], "v", late_row_guard="false")
    folder = tempfile.TemporaryDirectory()  # not tmp_path: another pytest process may clear its base
    config = Path(folder.name) / "sync.toml"
    config.write_text(harness.toml)

    result, lines = _run(str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stage=" not in result.stdout and "public.log_orders" in result.stdout  # the summary, on stdout
    (run_id,) = {line["run"] for line in lines}
    recorded = harness.query(f"SELECT DISTINCT RUN_ID FROM {harness.control('RUNS')}")
    assert [r[0] for r in recorded] == [run_id]  # the run the log names is the one in RUNS
    by = {(line["table"], line["stage"]): line for line in lines}
    for table in ("public.log_orders", "public.log_items"):
        export, copy, merge, load = (by[(table, s)] for s in ("export", "copy", "merge", "load"))
        assert (export["rows"], export["status"]) == ("40", "ok") and int(export["bytes"]) > 0
        assert (copy["rows"], copy["bytes"]) == ("40", export["bytes"])  # the files the export wrote
        assert (merge["rows"], load["rows"], load["status"]) == ("40", "40", "ok")
        assert float(load["seconds"]) >= float(copy["seconds"]) + float(merge["seconds"]) - 0.002
    assert by[("-", "intake")]["rows"] == "2"  # two manifests taken in
    stages = [line["stage"] for line in lines]
    assert stages[0] == "prepare" and stages[-2:] == ["finalize", "cycle"]
    assert by[("-", "cycle")]["status"] == "ok"
    assert harness.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."LOG_ITEMS"')[0] == (40, 820)

    cur.execute("UPDATE public.log_items SET v = v + 100 WHERE id <= 5")
    again, lines = _run(str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    by = {(line["table"], line["stage"]): line for line in lines}
    assert (by[("public.log_orders", "export")]["status"], by[("public.log_orders", "load")]["status"]) == (
        "no_change",
        "no_change",
    )
    assert ("public.log_orders", "copy") not in by  # nothing was loaded for it
    assert (by[("public.log_items", "merge")]["rows"], by[("public.log_items", "load")]["rows"]) == ("5", "5")
    assert harness.watermark("log_items") == "105"  # ids 1..5 now hold 101..105
    folder.cleanup()
