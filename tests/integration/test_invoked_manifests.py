"""Signed manifests the exporter itself wrote that do not fit the table (issue 13): whoever may invoke the
exporter asks for another primary key or another mode than the table's configuration, and the exporter's
own export of a numeric watermark whose greatest value Snowflake cannot hold. Each: the target rows, the
watermark, the recorded status and reason, and the other table loading in the same cycle."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import FUNCTION, REGION
from stored_procs.orchestration.lambda_invoke import lambda_client
from sync_contract.manifest import manifest_key
from tests.integration.test_manifest_cross_checks import exported, statuses, target, write_manifest

pytestmark = pytest.mark.integration

BIG = "123456789012345678901234567890.123456"  # 30 integer digits: no NUMBER(38,18) holds it


def _invoke(endpoints: Any, table: str, **fields: Any) -> dict[str, Any]:
    """The exporter Lambda invoked directly (as anyone allowed to invoke it may), for public.<table>."""
    event = {"version": 1, "table": {"schema": "public", "name": table}, "low": None, **fields}
    response = lambda_client(REGION, endpoints.lambda_endpoint).invoke(
        FunctionName=FUNCTION, Payload=json.dumps(event).encode()
    )
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response and answer["status"] == "exported", answer
    return dict(answer)


def _export_now(h: Any, index: int) -> str:
    """Configured table `index` exported above its loaded watermark, as a cycle would; its export id."""
    spec = h.config.tables[index]
    return str(h.exporter.export(export_request(h.config, spec, h.watermark(spec.source_table)))["export_id"])


def _two(pg: Any, harness: Any, name: str, **options: str) -> Any:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, name text NOT NULL, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, 'n' || g, g FROM generate_series(1, 5) g")
    cur.execute(f"CREATE TABLE public.{name}_o (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{name}_o SELECT g, g * 10 FROM generate_series(1, 3) g")
    harness.add(f"public.{name}", ["id"], "v", late_row_guard="false", **options)
    return harness.add(f"public.{name}_o", ["id"], "v", late_row_guard="false")


def _rows(h: Any, table: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r) for r in h.query(f'SELECT "ID", "NAME", "V" FROM "ANALYTICS"."PUBLIC"."{table.upper()}" ORDER BY 1, 3')
    ]


def _report(report: Any, table: str) -> Any:
    return next(t for t in report.tables if t.spec.source_table == table)


def test_an_export_keyed_by_another_primary_key_is_quarantined_and_later_exports_load(pg, harness, endpoints):
    h = _two(pg, harness, "inv_pk")
    h.cycle()
    assert (h.watermark("inv_pk"), h.watermark("inv_pk_o")) == ("5", "30")
    cur = pg.cursor()
    cur.execute("UPDATE public.inv_pk SET name = 'renamed', v = 6 WHERE id = 1")
    cur.execute("INSERT INTO public.inv_pk_o VALUES (4, 40)")
    forged = _invoke(endpoints, "inv_pk", watermark_column="v", late_row_guard=False, low="5", primary_key=["id", "v"])
    other = _export_now(h, 1)

    report = h.cycle(export=False)
    status, error = statuses(h)[forged["export_id"]]
    assert status == "QUARANTINED"
    assert "is keyed by (id, v), but the table's configured primary_key is (id)" in error
    assert "set primary_key for it to that and resync it" in error and "DISCARD_MANIFEST" in error
    assert _rows(h, "inv_pk") == [(1, "n1", 1), (2, "n2", 2), (3, "n3", 3), (4, "n4", 4), (5, "n5", 5)]
    assert h.watermark("inv_pk") == "5"
    assert error in _report(report, "inv_pk").errors  # the cycle report carries the reason
    assert statuses(h)[other][0] == "LOADED"
    assert (target(h, "inv_pk_o"), h.watermark("inv_pk_o")) == ((4, 100), "40")

    cur.execute("INSERT INTO public.inv_pk VALUES (6, 'n6', 7)")
    report = h.cycle()  # the table's own export, keyed by (id), loads; the refused one does not hold it up
    assert not _report(report, "inv_pk").failed, _report(report, "inv_pk")
    assert _rows(h, "inv_pk") == [
        (1, "renamed", 6),
        (2, "n2", 2),
        (3, "n3", 3),
        (4, "n4", 4),
        (5, "n5", 5),
        (6, "n6", 7),
    ]
    assert h.watermark("inv_pk") == "7"
    assert statuses(h)[forged["export_id"]][0] == "QUARANTINED"


def test_a_full_or_keys_export_of_an_incremental_table_is_quarantined_and_later_exports_load(pg, harness, endpoints):
    """A snapshot ('full') of an incremental table: its window.high '<rows>:<fingerprint>' is no value of the
    watermark column, and ordering the pending batches failed every later run before any batch loaded. A key
    set for a table without delete detection: no key set applies to it."""
    h = _two(pg, harness, "inv_mode")
    h.cycle()
    cur = pg.cursor()
    cur.execute("INSERT INTO public.inv_mode VALUES (6, 'n6', 6)")
    cur.execute("DELETE FROM public.inv_mode WHERE id = 2")
    cur.execute("INSERT INTO public.inv_mode_o VALUES (4, 40)")
    full = _invoke(endpoints, "inv_mode", mode="full")
    keys = _invoke(endpoints, "inv_mode", mode="keys", watermark_column="v", late_row_guard=False)
    other = _export_now(h, 1)

    report = h.cycle(export=False)
    st = statuses(h)
    assert st[full["export_id"]][0] == "QUARANTINED"
    assert "is a 'full' export, but the table is configured as 'incremental'" in st[full["export_id"]][1]
    assert st[keys["export_id"]][0] == "QUARANTINED"
    assert "delete detection is off for the table" in st[keys["export_id"]][1]
    assert (target(h, "inv_mode"), h.watermark("inv_mode")) == ((5, 15), "5")  # no snapshot, no delete
    table = _report(report, "inv_mode")
    assert table.failed and any("is a 'full' export" in e for e in table.errors), table.errors
    assert (st[other][0], target(h, "inv_mode_o"), h.watermark("inv_mode_o")) == ("LOADED", (4, 100), "40")

    for _ in range(2):  # later exports load; the refused ones never count as waiting
        report = h.cycle()
        assert not _report(report, "inv_mode").failed, _report(report, "inv_mode")
    assert (target(h, "inv_mode"), h.watermark("inv_mode")) == ((6, 21), "6")
    attempts = h.query(f"SELECT ATTEMPTS FROM {h.control('MANIFESTS')} WHERE EXPORT_ID = ?", full["export_id"])
    assert attempts[0][0] <= 1  # refused once, at its first load


def test_an_incremental_export_of_a_full_table_is_quarantined_and_the_snapshot_loads(pg, harness, endpoints):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.inv_full (id int PRIMARY KEY, name text NOT NULL, v int NOT NULL)")
    cur.execute("INSERT INTO public.inv_full SELECT g, 'n' || g, g FROM generate_series(1, 3) g")
    h = harness.add("public.inv_full", ["id"])
    forged = _invoke(endpoints, "inv_full", watermark_column="v", late_row_guard=False)
    report = h.cycle()
    st = statuses(h)
    assert st[forged["export_id"]][0] == "QUARANTINED"
    assert "is a 'incremental' export, but the table is configured as 'full'" in st[forged["export_id"]][1]
    assert target(h, "inv_full") == (3, 6)
    cur.execute("DELETE FROM public.inv_full WHERE id = 3")
    report = h.cycle()
    assert not report.failed, report
    assert target(h, "inv_full") == (2, 3)


def test_a_greatest_watermark_snowflake_cannot_hold_is_set_aside_and_the_export_loads(pg, harness):
    """An unbounded numeric watermark whose greatest value has 30 integer digits: the exporter's own export
    LOADS, that row is set aside in STATE.QUARANTINE by the bad-values step, the watermark is its value."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.inv_big (id int PRIMARY KEY, w numeric NOT NULL)")
    cur.execute(f"INSERT INTO public.inv_big VALUES (1, 1), (2, 2.5), (3, {BIG})")
    cur.execute("CREATE TABLE public.inv_big_o (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.inv_big_o SELECT g, g * 10 FROM generate_series(1, 3) g")
    h = harness.add("public.inv_big", ["id"], "w", late_row_guard="false")
    h.add("public.inv_big_o", ["id"], "v", late_row_guard="false")
    report = h.cycle()
    assert not report.failed, [(t.errors, t.load) for t in report.tables]
    assert [s for s, _ in statuses(h).values()] == ["LOADED", "LOADED"], statuses(h)
    rows = h.query('SELECT "ID", CAST("W" AS VARCHAR) FROM "ANALYTICS"."PUBLIC"."INV_BIG" ORDER BY 1')
    assert [r[0] for r in rows] == [1, 2]
    assert h.watermark("inv_big") == BIG
    (aside,) = h.query(f"SELECT PRIMARY_KEY, REASON FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'inv_big'")
    assert json.loads(aside[0]) == {"ID": "3"} and "does not fit NUMBER(38,18) without rounding" in aside[1]
    assert (target(h, "inv_big_o"), h.watermark("inv_big_o")) == ((3, 60), "30")

    cur.execute("INSERT INTO public.inv_big VALUES (4, 123456789012345678901234567891)")
    report = h.cycle()  # the next export starts above it and loads too
    assert not report.failed, [(t.errors, t.load) for t in report.tables]
    assert h.watermark("inv_big") == "123456789012345678901234567891"
    assert len(h.query(f"SELECT 1 FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'inv_big'")) == 2


def test_an_unholdable_window_high_that_no_staged_row_carries_is_still_quarantined(pg, harness):
    """The relaxation is no way around the check: a signed `window.high` beyond every staged row, too large
    for the target type, that no staged row carries, is still refused."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.inv_far (id int PRIMARY KEY, w numeric NOT NULL, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.inv_far VALUES (1, 1, 1), (2, 2, 2), (3, {BIG}, 3)")
    cur.execute("CREATE TABLE public.inv_far_o (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.inv_far_o SELECT g, g * 10 FROM generate_series(1, 3) g")
    h = harness.add("public.inv_far", ["id"], "w", late_row_guard="false")
    h.add("public.inv_far_o", ["id"], "v", late_row_guard="false")
    real = exported(h, 0)
    assert real["window"]["high"] == BIG
    exported(h, 1)
    far = "9" * 33
    write_manifest(
        h, manifest_key("public", "inv_far", real["export_id"]), {**real, "window": {**real["window"], "high": far}}
    )
    h.cycle(export=False)
    status, error = statuses(h)[real["export_id"]]
    assert status == "QUARANTINED" and f"its window.high is '{far}'" in error
    assert (target(h, "inv_far"), h.watermark("inv_far")) == ((0, None), None)
    assert (target(h, "inv_far_o"), h.watermark("inv_far_o")) == ((3, 60), "30")


def test_the_tables_own_export_of_the_same_window_replaces_the_refused_one_and_loads(pg, harness, endpoints):
    """The refused export and the table's own next export cover the same window, so they have one export id
    (sync_contract.manifest.export_id does not hold the key): the own one, a later signed attempt of that
    id, replaces the refused one in the ledger (stored_procs/loading/duplicates.py) and loads."""
    h = _two(pg, harness, "inv_same")
    h.cycle()
    pg.cursor().execute("UPDATE public.inv_same SET name = 'renamed', v = 6 WHERE id = 1")
    forged = _invoke(
        endpoints, "inv_same", watermark_column="v", late_row_guard=False, low="5", primary_key=["id", "v"]
    )
    h.cycle(export=False)
    assert statuses(h)[forged["export_id"]][0] == "QUARANTINED"
    assert h.watermark("inv_same") == "5"

    report = h.cycle()
    assert not _report(report, "inv_same").failed, _report(report, "inv_same")
    assert statuses(h)[forged["export_id"]][0] == "LOADED"  # the same id, now the table's own manifest
    assert _rows(h, "inv_same") == [(1, "renamed", 6), (2, "n2", 2), (3, "n3", 3), (4, "n4", 4), (5, "n5", 5)]
    assert h.watermark("inv_same") == "6"
    assert (target(h, "inv_same_o"), h.watermark("inv_same_o")) == ((3, 60), "30")
