"""An export an operator discarded, written again by the exporter under the same id (the same window), is
refused loudly until a resync or RETRY_MANIFEST: the table never waits in silence."""

from __future__ import annotations

import pytest

from aurora_sync.cycle import export_request

pytestmark = pytest.mark.integration


def _export(h, spec, low):  # type: ignore[no-untyped-def]
    return h.exporter.export(export_request(h.config, spec, low))


def test_a_discarded_export_written_again_fails_loudly_until_a_resync(pg, harness):
    import json

    import boto3

    from aurora_sync.stack.stack import BUCKET, PREFIX
    from stored_procs.configuration.table_config import resync_table
    from stored_procs.loading.discard import discard
    from stored_procs.orchestration.runs import new_run_id
    from sync_contract.manifest import manifest_key
    from tests.integration.signed import signed_body

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_qw (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.atk_qw SELECT g, g FROM generate_series(1, 5) g")
    h = harness.add("public.atk_qw", ["id"], "v", late_row_guard="false")
    assert not h.cycle().failed
    (spec,) = h.config.tables
    cur.execute("INSERT INTO public.atk_qw SELECT g, g FROM generate_series(6, 8) g")
    result = _export(h, spec, "5")
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint)
    key = PREFIX + manifest_key("public", "atk_qw", result["export_id"])
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    doc["window"]["high"] = "999"  # would move the watermark past rows never exported
    s3.put_object(Bucket=BUCKET, Key=key, Body=signed_body(doc))
    first = h.cycle(export=False)
    assert first.failed
    assert h.watermark("atk_qw") == "5"
    # idle cycles: the table stays FAILED (stuck behind the quarantined export), never NO_CHANGE
    for _ in range(2):
        r = h.cycle()
        assert r.failed and r.tables[0].load["status"] == "FAILED", r.tables[0].load
    from tests.integration.test_cycle_state_edges import _views

    _views(h)
    q = h.query(f"SELECT QUARANTINED, LAST_RUN_STATUS FROM {h.control('TABLE_STATUS')} WHERE SOURCE_TABLE = 'atk_qw'")
    assert tuple(q[0]) == (True, "FAILED"), q
    # the operator discards every quarantined export of the table; the next cycles must load rows 6..8
    ids = h.query(
        f"SELECT EXPORT_ID FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'atk_qw' AND STATUS = 'QUARANTINED'"
    )
    for (export_id,) in ids:
        discard(h.snow, h.config.place, export_id, "tampered", new_run_id())
    # the exporter writes the window (5,8] again under the export id just discarded: intake skips it as
    # known, so the run must fail saying so, not report NO_CHANGE while rows 6..8 never load
    again = h.cycle()
    assert again.failed
    assert any(
        "an export id an operator discarded" in e for e in again.tables[0].errors + again.tables[0].export_problems
    )
    (status, error) = h.query(
        f"SELECT STATUS, ERROR FROM {h.control('RUNS')} WHERE RUN_ID = ? AND SOURCE_TABLE = 'atk_qw'", again.run_id
    )[0]
    assert status == "FAILED" and "RETRY_MANIFEST" in error and "resync" in error
    assert h.watermark("atk_qw") == "5"
    # the fix it names: a resync exports the table anew under new ids, and every row loads
    resync_table(h.snow, h.config.place, "public.atk_qw", new_run_id())
    assert not h.cycle().failed
    assert h.watermark("atk_qw") == "8"
    assert [x[0] for x in h.query('SELECT "ID" FROM "ANALYTICS"."PUBLIC"."ATK_QW" ORDER BY "ID"')] == list(range(1, 9))
