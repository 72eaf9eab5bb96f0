"""Manifests a writer of the bucket's manifests/ prefix could plant (issue 13, items 1 and 5, begun):
counts beyond bigint, a boolean manifest_version, export ids and file keys outside the safe character
sets. Each is quarantined with its reason and removed from INBOX; the other tables load in the same
cycle, and later cycles are not held up by it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from sync_contract.manifest import manifest_key
from tests.integration.signed import signed_body

pytestmark = pytest.mark.integration


def _plant(h: Any, table: str, name: str, doc: dict[str, Any]) -> None:
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=PREFIX + manifest_key("public", table, name), Body=signed_body(doc))


def _real_manifest(h: Any, index: int) -> dict[str, Any]:
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)
    done = h.exporter.export(export_request(h.config, h.config.tables[index], None))
    key = PREFIX + manifest_key(
        h.config.tables[index].source_schema, h.config.tables[index].source_table, done["export_id"]
    )
    return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


TAMPERED = {
    "huge_rows": (lambda d: {**d, "export_id": "huge-rows", "rows": 10**40}, "rows: must be an integer from 0 to"),
    "huge_chunks": (
        lambda d: {**d, "export_id": "huge-chunks", "chunk": {"index": 0, "count": 10**40}},
        "chunk.count: must be an integer from 0 to",
    ),
    "boolean_version": (lambda d: {**d, "export_id": "bool-version", "manifest_version": True}, "manifest_version"),
    "export_id_path": (lambda d: {**d, "export_id": "../other"}, "export_id: '../other' must be 1 to 128"),
    "wildcard_key": (
        lambda d: {**d, "export_id": "wildcard", "files": [{**d["files"][0], "key": d["files"][0]["key"] + "*"}]},
        "holds a character a file key may not",
    ),
}


def test_tampered_manifests_are_quarantined_and_the_other_tables_load(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.um_target (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.um_target SELECT g, g FROM generate_series(1, 5) g")
    cur.execute("CREATE TABLE public.um_other (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.um_other SELECT g, g * 10 FROM generate_series(1, 3) g")
    h = harness.add("public.um_target", ["id"], "v", late_row_guard="false")
    h.add("public.um_other", ["id"], "v", late_row_guard="false")
    real = _real_manifest(h, 0)
    for name, (tamper, _) in TAMPERED.items():
        _plant(h, "um_target", f"tampered-{name}", tamper(real))

    h.cycle()
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0
    rows = h.query(
        f"SELECT EXPORT_ID, STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE STATUS = 'QUARANTINED' ORDER BY EXPORT_ID"
    )
    errors = [str(r[2]) for r in rows]
    assert all(r[1] == "QUARANTINED" for r in rows) and len(rows) == len(TAMPERED)
    for name, (_, reason) in TAMPERED.items():
        assert any(reason in e for e in errors), (name, errors)
    # the real export of the tampered table and the other table load in the same cycle
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."UM_TARGET"')[0] == (5, 15)
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."UM_OTHER"')[0] == (3, 60)
    assert (h.watermark("um_target"), h.watermark("um_other")) == ("5", "30")

    # later cycles are not held up: new rows of both tables arrive
    cur.execute("INSERT INTO public.um_target VALUES (6, 6)")
    cur.execute("INSERT INTO public.um_other VALUES (4, 40)")
    h.cycle()
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."UM_TARGET"')[0][0] == 6
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."UM_OTHER"')[0][0] == 4
