"""Fan-out exports (lambda_exporter.fan_out): one table exported by several Lambda invocations, each a
key range in a snapshot of its own; counted where they reach the Lambda endpoint (tests/integration/
lambda_proxy.py), loaded as one batch, reconciled against the source."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aurora_sync import fan_out_driver
from aurora_sync.cycle import CycleReport, run_cycle
from aurora_sync.export_client import LambdaExporter
from aurora_sync.reconcile import reconcile
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from lambda_exporter.event import ExportRequest
from sync_contract.manifest import manifest_prefix, parse_manifest
from tests.integration.lambda_proxy import LambdaProxy

ROWS = 3000
MAX_ROWS = 1000  # three parts


@pytest.fixture
def proxy(endpoints):
    running = LambdaProxy(endpoints.lambda_endpoint)
    yield running
    running.close()


class HookedExporter:
    """The Lambda exporter behind the proxy; `after(request, answer)` runs after each invocation
    (the plan's and each part's), sequentially (one part at a time), so a test can change the source
    between two part invocations."""

    def __init__(self, harness, proxy: LambdaProxy, after: Callable[[ExportRequest, dict], None] | None = None):
        self.lam = LambdaExporter(harness.config.exporter.lambda_function or "", REGION, proxy.url)
        self.after = after

    def export(self, request: ExportRequest) -> dict[str, Any]:
        def call(r: ExportRequest) -> dict[str, Any]:
            answer = self.lam._invoke(r.to_event())
            if self.after is not None:
                self.after(r, answer)
            return answer

        if request.max_rows_per_invocation is None:
            return call(request)
        return fan_out_driver.run(call, request, parallel=1)

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.lam.reconcile(event)


def _cycle(harness, exporter) -> CycleReport:
    return run_cycle(harness.snow, harness.config, exporter)


def _manifests(endpoints, table: str) -> list:
    s3 = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", table)).get("Contents", [])
    return [parse_manifest(json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())) for o in listed]


def _clean(harness, endpoints, table: str) -> None:
    spec = next(t for t in harness.config.tables if t.source_table == table)
    (result,) = reconcile(harness.snow, endpoints.pg_dsn, harness.config.database, [spec])
    assert result.error is None and result.clean, (result.missing, result.extra, result.different)
    assert result.source_rows == result.target_rows


def _target(harness, table: str) -> dict[int, Any]:
    return dict(harness.query(f'SELECT "ID", "NOTE" FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'))


def _rows_read(pg, table: str) -> int:
    """Rows read from public.<table> so far (pg_stat_user_tables). A backend's counts arrive when it exits
    or goes idle, at most about a second later (PostgreSQL 15+): read until two readings agree."""
    last = -1
    for _ in range(20):
        time.sleep(0.6)
        cur = pg.cursor()
        cur.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables "
            "WHERE schemaname = 'public' AND relname = %s",
            (table,),
        )
        now = int(cur.fetchone()[0])
        if now == last:
            return now
        last = now
    return last


def _counted(pg, table: str, counter: str, at_least: int) -> None:
    """Wait until pg_stat_user_tables.<counter> of public.<table> reaches `at_least` (a backend's counts
    arrive up to about a second after it goes idle; the change token reads them)."""
    assert counter in ("n_tup_upd", "n_tup_del")
    for _ in range(50):
        cur = pg.cursor()
        cur.execute(f"SELECT {counter} FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = %s", (table,))
        if int(cur.fetchone()[0]) >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"PostgreSQL never counted {counter} of {table}")


def _create(pg, table: str, watermark: bool = True) -> None:
    cur = pg.cursor()
    stamp = ", updated_at timestamptz NOT NULL DEFAULT clock_timestamp()" if watermark else ""
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, note text{stamp})")
    cur.execute(f"INSERT INTO public.{table} (id, note) SELECT g, 'n' || g FROM generate_series(1, {ROWS}) g")


def test_one_table_through_several_invocations_reconciles_clean(pg, endpoints, harness, proxy):
    _create(pg, "fan_big")
    harness.add("public.fan_big", ["id"], "updated_at", max_rows_per_invocation=str(MAX_ROWS))
    report = _cycle(harness, HookedExporter(harness, proxy))

    (table,) = report.tables
    assert not table.errors and table.export is not None
    reached = proxy.reached("public.fan_big")
    assert [i.part for i in reached] == [None, 0, 1, 2]  # the plan, then each part in an invocation of its own
    assert table.export["invocations"] == 4 and table.export["chunks"] == 3
    manifests = sorted(_manifests(endpoints, "fan_big"), key=lambda m: m.chunk_index)
    assert [(m.chunk_index, m.chunk_count) for m in manifests] == [(0, 3), (1, 3), (2, 3)]
    assert len({m.created_at for m in manifests}) == 1  # the plan's time: one batch
    assert len({m.part.snapshot_at for m in manifests}) == 3  # three snapshots
    assert [m.part.key_from for m in manifests] == [None, manifests[1].part.key_from, manifests[2].part.key_from]
    assert all(m.rows > 0 for m in manifests) and sum(m.rows for m in manifests) == ROWS
    assert table.load["status"] == "SUCCEEDED" and table.load["rows_loaded"] == ROWS
    high = manifests[0].window.high
    assert harness.watermark("fan_big") == high == table.export["window"]["high"]
    _clean(harness, endpoints, "fan_big")

    again = _cycle(harness, HookedExporter(harness, proxy))  # nothing changed: no plan of parts
    assert again.tables[0].export["status"] == "no_change"
    assert [i.part for i in proxy.reached("public.fan_big")][4:] == [None]


def test_rows_changed_between_part_invocations_are_not_lost(pg, endpoints, harness, proxy):
    _create(pg, "fan_moving")
    harness.add(
        "public.fan_moving",
        ["id"],
        "updated_at",
        max_rows_per_invocation=str(MAX_ROWS),
        delete_detection='"delete"',
        keys_interval_hours="0",
    )
    cur = pg.cursor()
    done: list[int] = []

    def between(request: ExportRequest, answer: dict) -> None:
        if request.part is not None and request.part.index == 0 and not done:  # part 0 exported, 1 and 2 not yet
            done.append(1)
            cur.execute("INSERT INTO public.fan_moving (id, note) VALUES (5000, 'inserted')")  # last part's range
            cur.execute("UPDATE public.fan_moving SET note = 'early', updated_at = clock_timestamp() WHERE id = 10")
            cur.execute("UPDATE public.fan_moving SET note = 'late', updated_at = clock_timestamp() WHERE id = 2990")
            cur.execute("DELETE FROM public.fan_moving WHERE id IN (20, 2980)")

    first = _cycle(harness, HookedExporter(harness, proxy, between))
    assert done and not first.tables[0].errors
    assert [i.part for i in proxy.reached("public.fan_moving")][:4] == [None, 0, 1, 2]
    high = first.tables[0].export["window"]["high"]
    assert first.tables[0].load["status"] == "SUCCEEDED"
    rows = _target(harness, "fan_moving")
    assert rows[10] == "n10" and 5000 not in rows  # part 0 ran before the change; the insert is above high

    second = _cycle(harness, HookedExporter(harness, proxy))  # the next cycle starts at the fan-out's high
    assert not second.tables[0].errors
    rows = _target(harness, "fan_moving")
    assert (rows[10], rows[2990], rows[5000]) == ("early", "late", "inserted")
    assert 20 not in rows and 2980 not in rows
    assert harness.watermark("fan_moving") > high
    _clean(harness, endpoints, "fan_moving")


def test_a_failed_part_is_retried_alone(pg, endpoints, harness, proxy):
    _create(pg, "fan_retry")
    harness.add("public.fan_retry", ["id"], "updated_at", max_rows_per_invocation=str(MAX_ROWS))
    proxy.fail_parts[1] = 1  # part 1's first invocation times out
    report = _cycle(harness, HookedExporter(harness, proxy))

    assert not report.tables[0].errors
    sent = [(i.part, i.failed) for i in proxy.invocations if i.table == "public.fan_retry"]
    assert sent == [(None, False), (0, False), (1, True), (1, False), (2, False)]  # only part 1 again
    assert report.tables[0].export["invocations"] == 5
    assert report.tables[0].load["rows_loaded"] == ROWS
    _clean(harness, endpoints, "fan_retry")


def test_the_watermark_waits_for_every_part(pg, endpoints, harness, proxy):
    _create(pg, "fan_gap")
    harness.add("public.fan_gap", ["id"], "updated_at", max_rows_per_invocation=str(MAX_ROWS))
    proxy.fail_parts[1] = fan_out_driver.PART_ATTEMPTS  # part 1 fails every attempt of this cycle
    failed = _cycle(harness, HookedExporter(harness, proxy))

    (table,) = failed.tables
    assert any("fan-out part 2 of 3" in e and "timed out" in e for e in table.errors), table.errors
    assert sorted(m.chunk_index for m in _manifests(endpoints, "fan_gap")) == [0, 2]  # written, not loaded
    assert harness.watermark("fan_gap") is None
    status, error = harness.query(
        f"SELECT STATUS, ERROR FROM {harness.control('RUNS')} WHERE SOURCE_TABLE = 'fan_gap'"
    )[0]
    assert status == "FAILED" and "fan-out part 2 of 3" in error
    statuses = harness.query(f"SELECT STATUS FROM {harness.control('MANIFESTS')} WHERE SOURCE_TABLE = 'fan_gap'")
    assert sorted(s for (s,) in statuses) == ["NEW", "NEW"]  # waiting for the missing part

    second = _cycle(harness, HookedExporter(harness, proxy))  # a new plan, every part this time
    assert not second.tables[0].errors and second.tables[0].load["rows_loaded"] == ROWS
    assert harness.watermark("fan_gap") == second.tables[0].export["window"]["high"]
    statuses = harness.query(f"SELECT STATUS FROM {harness.control('MANIFESTS')} WHERE SOURCE_TABLE = 'fan_gap'")
    assert sorted(s for (s,) in statuses) == ["LOADED"] * 3 + ["SUPERSEDED"] * 2
    _clean(harness, endpoints, "fan_gap")


def test_a_full_mode_table_fanned_out(pg, endpoints, harness, proxy):
    _create(pg, "fan_full", watermark=False)
    harness.add("public.fan_full", ["id"], max_rows_per_invocation=str(MAX_ROWS))
    cur = pg.cursor()
    changed: list[int] = []

    def after_plan(request: ExportRequest, answer: dict) -> None:
        if answer.get("status") == "fan_out" and not changed:  # the table changes before its parts run
            changed.append(1)
            cur.execute("UPDATE public.fan_full SET note = 'changed' WHERE id = 2500")

    report = _cycle(harness, HookedExporter(harness, proxy, after_plan))
    (table,) = report.tables
    assert not table.errors, table.errors
    # plan, parts 0 and 1, part 2 refused (its range changed since the plan), plan again, three parts
    assert [i.part for i in proxy.reached("public.fan_full")] == [None, 0, 1, 2, None, 0, 1, 2]
    assert table.load["rows_loaded"] == ROWS and _target(harness, "fan_full")[2500] == "changed"
    fingerprint = table.export["window"]["high"]
    assert harness.watermark("fan_full") == fingerprint
    _clean(harness, endpoints, "fan_full")

    # unchanged: the parts' fingerprints add up to the table's. The update's counts may have reached the
    # statistics after the second plan read its change token: then this cycle fingerprints once more
    _counted(pg, "fan_full", "n_tup_upd", 1)
    settle = _cycle(harness, HookedExporter(harness, proxy))
    assert settle.tables[0].export["status"] == "no_change"
    before = _rows_read(pg, "fan_full")
    again = _cycle(harness, HookedExporter(harness, proxy))
    assert again.tables[0].export["status"] == "no_change"
    assert [i.part for i in proxy.reached("public.fan_full")][8:] == [None, None]  # no part invoked
    assert _rows_read(pg, "fan_full") == before  # the change token: no fingerprint, no row read
    cur.execute("DELETE FROM public.fan_full WHERE id = 1")
    _counted(pg, "fan_full", "n_tup_del", 1)  # the change token sees counts once flushed (change_check)
    third = _cycle(harness, HookedExporter(harness, proxy))
    assert not third.tables[0].errors and 1 not in _target(harness, "fan_full")
    _clean(harness, endpoints, "fan_full")


def test_a_text_key_split_at_sampled_percentiles_through_the_in_process_exporter(pg, endpoints, harness, monkeypatch):
    """Above SAMPLE_ABOVE rows the key ranges come from a block sample; they still cover every row. The
    local runner without a Lambda (LocalExporter) fans out the same way, each part a separate call."""
    from aurora_sync.cycle import export_request
    from aurora_sync.export_client import LocalExporter
    from lambda_exporter import fan_out

    monkeypatch.setattr(fan_out, "SAMPLE_ABOVE", 100)
    monkeypatch.setattr(fan_out, "SAMPLE_ROWS", 400)
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fan_text (id text PRIMARY KEY, note text, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.fan_text SELECT md5(g::text), 'n' || g, now() - interval '1 hour' "
        "FROM generate_series(1, 5000) g"
    )
    cur.execute("ANALYZE public.fan_text")  # reltuples: the estimate the plan sizes from
    harness.add("public.fan_text", ["id"], "updated_at", max_rows_per_invocation="1000")
    spec = harness.config.tables[0]
    answer = LocalExporter(endpoints.pg_dsn, endpoints.s3_endpoint).export(export_request(harness.config, spec, None))

    assert answer["status"] == "exported" and answer["rows"] == 5000
    assert answer["chunks"] >= 3 and answer["invocations"] == answer["chunks"] + 1
    manifests = sorted(_manifests(endpoints, "fan_text"), key=lambda m: m.chunk_index)
    bounds = [m.part.key_to for m in manifests[:-1]]
    assert bounds == sorted(bounds) and all(m.rows > 0 for m in manifests)
    report = harness.cycle(export=False)
    assert report.tables[0].load["rows_loaded"] == 5000
    _clean(harness, endpoints, "fan_text")
