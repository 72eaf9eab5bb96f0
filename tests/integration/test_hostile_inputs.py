"""Hostile inputs through the product on the embedded stack: a source column named rowid; rich markup in
table names and in errors carrying source values (status, reconcile); control characters in the log lines.
(Markdown on the dashboard: tests/integration/test_dashboard.py.)"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _target(h: Any, table: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in h.query(f'SELECT * FROM "ANALYTICS"."PUBLIC"."{table}" ORDER BY 1')]


def test_a_source_column_named_rowid_keeps_every_row(pg, harness):
    """PostgreSQL allows a column `rowid` (not reserved there nor in Snowflake). After an update of one row,
    the target must hold every source row once, with its new value."""
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.atk_rowid (id bigint PRIMARY KEY, rowid bigint, val text, updated_at timestamptz NOT NULL)"
    )
    # rowid 0 and 1 equal DuckDB's own row numbers of other rows
    cur.execute(
        "INSERT INTO public.atk_rowid VALUES (1, 1, 'a', '2026-01-01+00'), (2, 0, 'b', '2026-01-01+00'), "
        "(3, 7, 'c', '2026-01-01+00')"
    )
    h = harness.add("public.atk_rowid", ["id"], "updated_at")
    assert not h.cycle().failed
    cur.execute("UPDATE public.atk_rowid SET val = 'B', updated_at = '2026-01-02+00' WHERE id = 2")
    report = h.cycle()
    assert not report.failed
    (t,) = report.tables
    assert t.load["rows_updated"] == 1
    rows = [r[:3] for r in _target(h, "ATK_ROWID")]
    assert rows == [(1, 1, "a"), (2, 0, "B"), (3, 7, "c")]


# --- the dashboard (snowflake_app/streamlit/dashboard.py) run by Streamlit's own AppTest ---------------

_PAGE = """
import sys
from pathlib import Path
import streamlit
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/snowflake_app/streamlit")
import dashboard
from aurora_sync.dashboard import local_connection
dashboard.render(streamlit, *local_connection(Path({config!r})))
"""

LINK = "[log in again](https://evil.example/phish)"
IMAGE = "![](https://evil.example/pixel.png)"


def _markdown_bodies(at: Any) -> list[str]:
    """Text of every element Streamlit renders as Markdown (st.error/st.markdown/st.write...)."""
    bodies = [e.value for e in at.error] + [e.value for e in at.markdown] + [e.value for e in at.info]
    return [str(b) for b in bodies]


def _unescaped(link: str, bodies: list[str]) -> list[str]:
    return [b for b in bodies if link in b]


def _status(config: Any, columns: str = "200") -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", "status", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": columns, "TERM": "xterm-256color", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"},
    )


def test_status_shows_an_error_holding_a_closing_tag_as_text(pg, harness, tmp_path):
    """A repeated key value `[/bold]` (source data) ends up in the recorded error; `aurora-sync status`
    must still print every table (exit 1: a table is FAILED), not die on the text."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_rich (code text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.atk_rich VALUES ('[/bold]', '2026-01-01+00'), ('[/bold]', '2026-01-01+00')")
    h = harness.add("public.atk_rich", ["code"], "updated_at")
    assert h.cycle().failed
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    out = _status(config)
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert "public.atk_rich" in out.stdout and "FAILED" in out.stdout, (out.stdout, out.stderr)


def test_status_prints_a_table_name_with_markup_as_written(pg, harness, tmp_path):
    """A source table named with rich markup: status shows the name as written, no terminal hyperlink."""
    name = "atk[link=https://e.vl]x[/link]"
    cur = pg.cursor()
    cur.execute(f'CREATE TABLE public."{name}" (id int PRIMARY KEY, updated_at timestamptz NOT NULL)')
    cur.execute(f"INSERT INTO public.\"{name}\" VALUES (1, '2026-01-01+00')")
    h = harness.add(f'public."{name}"', ["id"], "updated_at")
    assert not h.cycle().failed
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    out = _status(config)
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    assert "\x1b]8;" not in out.stdout, "a terminal hyperlink was printed"
    assert name in out.stdout.replace("\n", ""), out.stdout


def test_a_redirected_run_writes_one_log_line_per_stage_whatever_the_table_name(pg, harness, tmp_path):
    """A source table whose name holds a carriage return and an escape sequence (PostgreSQL allows any
    character but NUL in a quoted name): each log line on stderr stays one line, with no raw control
    character that rewrites the terminal or forges a line."""
    import os

    name = "atk\r\x1b[2Kforged"
    cur = pg.cursor()
    cur.execute(f'CREATE TABLE public."{name}" (id int PRIMARY KEY, updated_at timestamptz NOT NULL)')
    cur.execute(f"INSERT INTO public.\"{name}\" VALUES (1, '2026-01-01+00')")
    h = harness.add(f'public."{name}"', ["id"], "updated_at")
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    out = subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert out.returncode == 0, out.stderr
    bad = [line for line in out.stderr.split("\n") if "\r" in line or "\x1b" in line]
    assert bad == [], bad


def test_reconcile_prints_a_table_name_with_markup_as_written(pg, harness, tmp_path):
    """`aurora-sync reconcile` on a table whose name holds a rich closing tag: it reports, it does not die."""
    import os

    name = "atk_rec[/x]"
    cur = pg.cursor()
    cur.execute(f'CREATE TABLE public."{name}" (id int PRIMARY KEY, updated_at timestamptz NOT NULL)')
    cur.execute(f"INSERT INTO public.\"{name}\" VALUES (1, '2026-01-01+00'), (2, '2026-01-01+00')")
    h = harness.add(f'public."{name}"', ["id"], "updated_at")
    assert not h.cycle().failed
    cur.execute(f"INSERT INTO public.\"{name}\" VALUES (3, '2026-01-01+00')")  # a row the target lacks
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    out = subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", "reconcile", "--config", str(config), "--rows"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "MarkupError" not in out.stderr, out.stderr
    assert name in out.stdout.replace("\n", ""), (out.stdout, out.stderr)


def test_a_key_repeated_in_one_export_loads_nothing_and_says_so(pg, harness):
    """The target MERGE no longer deduplicates: a key repeated in one batch must fail the batch before it
    (check_unique_keys), never insert the key twice (NOT MATCHED twice) nor keep one row at random."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_dupkey (code text, val int, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.atk_dupkey VALUES ('k1', 1, '2026-01-01+00'), ('k1', 2, '2026-01-01+00'), "
        "('k2', 3, '2026-01-01+00')"
    )
    h = harness.add("public.atk_dupkey", ["code"], "updated_at")
    (failed,) = h.cycle().failed
    assert any("not unique" in e and "code=k1 (2 rows)" in e for e in failed.errors), failed.errors
    target = h.query(
        "SELECT COUNT(*) FROM \"ANALYTICS\".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'PUBLIC' "
        "AND TABLE_NAME = 'ATK_DUPKEY'"
    )[0][0]
    if target:
        assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ATK_DUPKEY"')[0][0] == 0
    assert h.watermark("atk_dupkey") is None
    statuses = [r[0] for r in h.query(f"SELECT STATUS FROM {h.control('MANIFESTS')}")]
    assert statuses == ["QUARANTINED"]
    runs = [tuple(r) for r in h.query(f"SELECT STATUS FROM {h.control('RUNS')} WHERE SOURCE_TABLE = 'atk_dupkey'")]
    assert runs == [("FAILED",)]
