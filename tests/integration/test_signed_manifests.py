"""Manifest signatures (issue 13 item 3): a writer of the bucket's manifests/ prefix without the key
cannot make the app load anything. Each attack below was possible before manifests were signed; now
the forged manifest is quarantined with the signature's reason, the real export loads, the watermark is
the real one, and the other table loads in the same cycle."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest
from rich.console import Console

from aurora_sync.cycle import export_request
from aurora_sync.report import print_cycle
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs.loading import manifest_keys
from sync_contract.manifest import manifest_key
from sync_contract.signing import SigningKey, sign

pytestmark = pytest.mark.integration


def _s3(h: Any) -> Any:
    return boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)


def _export(h: Any, index: int) -> tuple[str, dict[str, Any]]:
    """Run the exporter for table `index`; its manifest's key and document (signed by the exporter)."""
    spec = h.config.tables[index]
    done = h.exporter.export(export_request(h.config, spec, None))
    key = PREFIX + manifest_key(spec.source_schema, spec.source_table, done["export_id"])
    return key, json.loads(_s3(h).get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _put(h: Any, key: str, doc: dict[str, Any]) -> None:
    _s3(h).put_object(Bucket=BUCKET, Key=key, Body=json.dumps(doc).encode())


def _quarantined(h: Any) -> list[tuple[str, str, str]]:
    return h.query(
        f"SELECT EXPORT_ID, SOURCE_TABLE, ERROR FROM {h.control('MANIFESTS')} WHERE STATUS = 'QUARANTINED' "
        "ORDER BY ERROR"
    )


def _tables(pg: Any, harness: Any, target: str, other: str) -> Any:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{target} (id int PRIMARY KEY, name text NOT NULL, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{target} SELECT g, 'n' || g, g FROM generate_series(1, 5) g")
    cur.execute(f"CREATE TABLE public.{other} (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{other} SELECT g, g * 10 FROM generate_series(1, 3) g")
    h = harness.add(f"public.{target}", ["id"], "v", late_row_guard="false")
    return h.add(f"public.{other}", ["id"], "v", late_row_guard="false")


def test_forged_manifests_are_quarantined_and_the_real_export_loads(pg, harness):
    """The three attacks of the issue, on copies of a real signed manifest: a far-future window.high (the
    watermark would jump and later rows never be exported), an empty copy with the same export id in
    another table's folder (the real export would be skipped as known), two column names swapped (values
    in the wrong columns). None carries a signature that matches its content."""
    h = _tables(pg, harness, "sg_target", "sg_other")
    _, real = _export(h, 0)
    future = {**real, "export_id": "x-future", "window": {**real["window"], "high": "99999999"}}
    _put(h, PREFIX + manifest_key("public", "sg_target", "x-future"), future)
    empty = {**real, "rows": 0, "files": [], "bytes": 0}
    _put(h, PREFIX + manifest_key("public", "sg_other", real["export_id"]), empty)
    names = [c["name"] for c in real["columns"]]
    swapped = {
        **real,
        "export_id": "x-swapped",
        "columns": [{**c, "name": {"name": "v", "v": "name"}.get(c["name"], c["name"])} for c in real["columns"]],
    }
    assert [c["name"] for c in swapped["columns"]] != names
    _put(h, PREFIX + manifest_key("public", "sg_target", "x-swapped"), swapped)

    _export(h, 1)
    report = h.cycle(export=False)

    # the run says so (aurora-sync run prints each one), and the ledger records them
    console = Console(record=True, width=400)
    print_cycle(console, report, "sync cycle")
    assert len(report.quarantined) == 3
    assert console.export_text().count("manifest quarantined at intake as invalid-") == 3
    quarantined = _quarantined(h)
    assert len(quarantined) == 3, quarantined
    assert all("signature.value: does not match the manifest's content" in str(e) for _, _, e in quarantined)
    # a forged document never takes the id it claims: the real export with that id is not skipped
    assert all(export.startswith("invalid-") for export, _, _ in quarantined)
    assert h.query('SELECT COUNT(*), SUM("V"), MAX("NAME") FROM "ANALYTICS"."PUBLIC"."SG_TARGET"')[0] == (5, 15, "n5")
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."SG_OTHER"')[0] == (3, 60)
    assert (h.watermark("sg_target"), h.watermark("sg_other")) == ("5", "30")
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0

    # the watermark did not jump: a row added later is exported and loads
    pg.cursor().execute("INSERT INTO public.sg_target VALUES (6, 'n6', 6)")
    h.cycle()
    assert h.watermark("sg_target") == "6"
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."SG_TARGET"')[0][0] == 6


def test_unsigned_and_unknown_key_manifests_are_quarantined_and_a_rotated_key_is_accepted(pg, harness, monkeypatch):
    """Unsigned: quarantined naming the missing signature. Signed with a key the procedures do not hold:
    quarantined naming the key id. During a rotation the secret holds both keys, and a manifest signed
    with the new one loads."""
    h = _tables(pg, harness, "sg_rotated", "sg_unsigned")
    new_key = SigningKey("k-next", os.urandom(32))
    rotated_key, rotated = _export(h, 0)
    _put(h, rotated_key, sign(rotated, new_key))
    unsigned_key, unsigned = _export(h, 1)
    _put(h, unsigned_key, {k: v for k, v in unsigned.items() if k != "signature"})

    h.cycle(export=False)  # the procedures hold the stack's key only
    reasons = {table: str(error) for _, table, error in _quarantined(h)}
    assert "signature: is missing: the manifest is unsigned" in reasons["sg_unsigned"]
    assert "signature.key_id: 'k-next' is not a key the procedures hold" in reasons["sg_rotated"]
    assert new_key.secret.hex() not in reasons["sg_rotated"]
    assert (h.watermark("sg_rotated"), h.watermark("sg_unsigned")) == (None, None)

    # rotation step 1: the secret holds the old and the new key; the exporter signs with the new one
    monkeypatch.setenv(manifest_keys.ENV, f"{os.environ[manifest_keys.ENV]},k-next:{new_key.secret.hex()}")
    pg.cursor().execute("INSERT INTO public.sg_rotated VALUES (6, 'n6', 6)")
    again_key, again = _export(h, 0)
    _put(h, again_key, sign(again, new_key))
    h.cycle(export=False)
    assert h.watermark("sg_rotated") == "6"
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."SG_ROTATED"')[0] == (6, 21)


def test_without_a_key_nothing_is_taken_in_and_nothing_is_lost(pg, harness, monkeypatch):
    """No key configured: intake fails naming the setting; the manifest stays in the stage, and once the
    key is back it loads."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.sg_nokey (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.sg_nokey SELECT g, g FROM generate_series(1, 4) g")
    h = harness.add("public.sg_nokey", ["id"], "v", late_row_guard="false")
    _export(h, 0)
    keys = os.environ[manifest_keys.ENV]
    monkeypatch.delenv(manifest_keys.ENV)
    report = h.cycle(export=False)
    assert report.failed
    assert any("no manifest signing key" in e for t in report.failed for e in t.errors), report
    assert h.query(f"SELECT COUNT(*) FROM {h.control('MANIFESTS')}")[0][0] == 0
    assert h.watermark("sg_nokey") is None

    monkeypatch.setenv(manifest_keys.ENV, keys)
    assert not h.cycle(export=False).failed
    assert h.watermark("sg_nokey") == "4"
    assert h.query('SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."SG_NOKEY"')[0] == (4, 10)


def test_a_refused_document_is_retried_only_when_the_exporter_signed_it(pg, harness):
    """RETRY_MANIFEST of a forged document (two columns swapped) is refused naming DISCARD_MANIFEST, and
    nothing loads; a document the exporter signed that intake refused for its place (a copy under another
    file name) may be retried."""
    from stored_procs.configuration.app_config import InvalidSetting
    from stored_procs.loading import retry_guard
    from tests.integration.signed import signed_body

    h = _tables(pg, harness, "sg_retry", "sg_retry_other")
    key, real = _export(h, 0)
    swapped = {
        **real,
        "columns": [{**c, "name": {"name": "v", "v": "name"}.get(c["name"], c["name"])} for c in real["columns"]],
    }
    _put(h, key, swapped)  # the real manifest replaced by a forged one
    _export(h, 1)
    h.cycle(export=False)
    ((forged, _, reason),) = _quarantined(h)
    assert forged.startswith("invalid-") and "signature.value" in str(reason)

    place, session = h.config.place, h.snow  # RETRY_MANIFEST runs this guard at the app's place
    with pytest.raises(InvalidSetting, match=r"cannot be retried: .*DISCARD_MANIFEST"):
        retry_guard.check(session, place, forged)
    assert h.query(f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE EXPORT_ID = ?", forged)[0][0] == "QUARANTINED"
    h.cycle(export=False)
    assert h.watermark("sg_retry") is None and h.watermark("sg_retry_other") == "30"

    # signed by the exporter but refused for its file name: the guard lets it through
    misplaced = PREFIX + manifest_key("public", "sg_retry", "another-name")
    _s3(h).put_object(Bucket=BUCKET, Key=misplaced, Body=signed_body(real))
    h.cycle(export=False)
    refused = [e for e, _, r in _quarantined(h) if e != forged]
    assert len(refused) == 1
    retry_guard.check(session, place, refused[0])  # no error
