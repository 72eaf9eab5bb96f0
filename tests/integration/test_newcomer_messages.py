"""Messages a newcomer met in a trial (issue 16): a quarantined row's REASON gives one reason per column and
no trailing separator; the history refusal names the table once (the summary or the caller names it);
`aurora-sync resync` of a history table says what happens to it (a merge, never a swap)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest

from aurora_sync.config import ConfigError
from tests.integration.test_cli import _cli  # the CLI as a user runs it

pytestmark = pytest.mark.integration


def test_a_quarantined_row_has_one_reason_per_column_and_no_trailing_separator(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.msg_q (id int PRIMARY KEY, amount numeric(12,2), code text, v int NOT NULL)")
    cur.execute("INSERT INTO public.msg_q VALUES (1, 1.25, 'ab', 1), (2, 12345.67, 'ab', 2), (3, 12345.67, 'abcd', 3)")
    h = harness.add(
        "public.msg_q",
        ["id"],
        "v",
        late_row_guard="false",
        type_overrides='{ amount = "NUMBER(5,2)", code = "VARCHAR(3)" }',
        allow_lossy="true",
    )
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"], t.load["rows_quarantined"]) == ("SUCCEEDED", 1, 2), t.load
    rows = h.query(
        f"SELECT PARSE_JSON(PRIMARY_KEY):ID::VARCHAR, REASON FROM {h.control('QUARANTINE')} "
        "WHERE SOURCE_TABLE = 'msg_q' ORDER BY 1"
    )
    reasons = {r[0]: r[1] for r in rows}
    assert sorted(reasons) == ["2", "3"]
    amount = reasons["2"]
    assert amount.startswith("AMOUNT (numeric(12,2)): does not fit NUMBER(5,2)"), amount
    assert amount.count("AMOUNT (") == 1 and not amount.rstrip().endswith(";") and "; " not in amount
    both = reasons["3"].split("; ")
    assert [r.split(" (")[0] for r in both] == ["AMOUNT", "CODE"], reasons["3"]
    assert both[0] == amount and both[1].startswith("CODE (text): does not fit VARCHAR(3)"), both
    assert [tuple(r) for r in h.query('SELECT "ID", "AMOUNT", "CODE" FROM "ANALYTICS"."PUBLIC"."MSG_Q"')] == [
        (1, pytest.approx(1.25), "ab")
    ]


def _at(hour: int) -> datetime.datetime:
    return datetime.datetime(2026, 3, 1, hour, tzinfo=datetime.UTC)


def test_the_history_refusal_names_the_table_once_and_resync_of_a_history_table_says_it_merges(pg, harness, tmp_path):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.msg_hist (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.msg_hist VALUES (1, 'a', %s)", (_at(1),))
    h = harness.add("public.msg_hist", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    h.tables = []
    h.add("public.msg_hist", ["id"], "updated_at", history="true")
    with pytest.raises(ConfigError) as refused:
        h.cycle()
    said = str(refused.value)
    assert not refused.value.reason.startswith("public.msg_hist")  # the key (tables[0].history) names the table
    assert refused.value.reason.startswith(
        "history = true, but the target was loaded without history: its rows are plain rows, and they cannot be "
        "turned into versions in place. Nothing was merged: give the table a new target"
    ), said
    assert "(or versions rows)" not in said

    config = tmp_path / "sync.toml"
    h.tables = []
    h.add("public.msg_hist", ["id"], "updated_at", history="true", target='"PUBLIC.MSG_HIST_V"')
    config.write_text(h.toml)
    assert _cli("run", "--config", str(config)).returncode == 0
    done = _cli("resync", "--config", str(config), "--table", "public.msg_hist")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "it is merged into the history table (never swapped)" in text and "one swap" not in text, text


def _cli80(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_reconcile_fits_80_columns_and_says_how_transformed_columns_are_compared(pg, harness, tmp_path):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.order_items (id int PRIMARY KEY, email text, v int NOT NULL)")
    cur.execute("INSERT INTO public.order_items SELECT g, 'A' || g || '@X.COM', g FROM generate_series(1, 4) g")
    h = harness.add("public.order_items", ["id"], "v", late_row_guard="false", transform='{ EMAIL = "LOWER(EMAIL)" }')
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)
    assert _cli80("run", "--config", str(config)).returncode == 0
    for args in ((), ("--rows",)):
        done = _cli80("reconcile", "--config", str(config), *args)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert all(len(line) <= 80 for line in lines), lines
        (row,) = [line for line in lines if line.startswith("public.order_items ")]
        assert row.split()[1:3] == ["4", "4"] and row.split()[-1] == "match" and "…" not in row, row
        assert (
            "public.order_items: email compared by presence only (NULL or not): the target holds them transformed"
            in " ".join(done.stdout.split())
        )
    h.query('UPDATE "ANALYTICS"."PUBLIC"."ORDER_ITEMS" SET "EMAIL" = NULL WHERE "ID" = 2')
    found = _cli80("reconcile", "--config", str(config), "--rows")
    assert found.returncode == 1 and "public.order_items: (id=2) differs in email" in found.stdout, found.stdout
    (row,) = [line for line in found.stdout.splitlines() if line.startswith("public.order_items ")]
    assert row.split()[-1] == "MISMATCH", row
    buckets = _cli80("reconcile", "--config", str(config))
    assert buckets.returncode == 1 and "public.order_items: (id=2) is in both, with other values" in buckets.stdout


def test_a_history_table_counts_an_update_as_one_version_opened_and_one_closed(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.msg_hcount (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.msg_hcount VALUES (1, 'a', %s), (2, 'b', %s)", (_at(1), _at(1)))
    h = harness.add("public.msg_hcount", ["id"], "updated_at", history="true")

    def counts() -> tuple[int, int, int]:
        (t,) = h.cycle().tables
        assert t.load["status"] in ("SUCCEEDED", "NO_CHANGE"), t.load
        return t.load["rows_inserted"], t.load["rows_updated"], t.load["rows_deleted"]

    assert counts() == (2, 0, 0)
    cur.execute("UPDATE public.msg_hcount SET v = 'a2', updated_at = %s WHERE id = 1", (_at(2),))
    assert counts() == (1, 1, 0)  # `+1 ~1 -0` in the summary: the new version opened, the old one closed
    versions = h.query(
        'SELECT "ID", "V", "_VALID_TO" IS NULL, "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."MSG_HCOUNT" ORDER BY 1, 2'
    )
    assert [tuple(r) for r in versions] == [(1, "a", False, False), (1, "a2", True, True), (2, "b", True, True)]
    assert h.query('SELECT "_VALID_TO" FROM "ANALYTICS"."PUBLIC"."MSG_HCOUNT" WHERE "V" = \'b\'')[0][0] is None
