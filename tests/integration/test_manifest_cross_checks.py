"""Manifests that parse but must not load as they are (issue 13, items 2 and 3): a window that cannot be
ordered, a file outside its table's folder, an export id arriving again with other contents, a
window.high that is not the staged rows' greatest watermark. Each is quarantined with its reason, the
target and the watermark stay as the genuine exports leave them, and the other tables load in the same
cycle. Every manifest a test writes goes through `write_manifest` (signed as the exporter signs)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aurora_sync.cycle import export_request, prepare
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs import ledger
from stored_procs.loading.discard import discard
from stored_procs.loading.manifest_checks import digest
from sync_contract.manifest import manifest_key, parse_manifest
from tests.integration.signed import signed_body

pytestmark = pytest.mark.integration


def write_manifest(h: Any, key: str, doc: dict[str, Any]) -> None:
    """`doc` written at `key` (relative to the stack's export prefix) as the exporter writes manifests."""
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=signed_body(doc))


def exported(h: Any, index: int) -> dict[str, Any]:
    """Export configured table `index` now; its manifest as the exporter wrote it."""
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)
    spec = h.config.tables[index]
    done = h.exporter.export(export_request(h.config, spec, None))
    key = PREFIX + manifest_key(spec.source_schema, spec.source_table, done["export_id"])
    return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def statuses(h: Any) -> dict[str, tuple[str, str]]:
    rows = h.query(f"SELECT EXPORT_ID, STATUS, ERROR FROM {h.control('MANIFESTS')}")
    return {r[0]: (r[1], str(r[2] or "")) for r in rows}


def quarantined_claiming(h: Any, export_id: str) -> list[tuple[str, str]]:
    """(ledger id, error) of the QUARANTINED documents that claim `export_id`: a document refused at
    intake is recorded under an invalid-… id of its own, never under the id it claims."""
    rows = h.query(f"SELECT EXPORT_ID, ERROR, DOC FROM {h.control('MANIFESTS')} WHERE STATUS = 'QUARANTINED'")
    return [(r[0], str(r[1])) for r in rows if json.loads(r[2] or "{}").get("export_id") == export_id]


def target(h: Any, table: str) -> tuple[Any, ...]:
    """(rows, sum of V) of the target; (0, None) when it was never created."""
    exists = h.query(
        'SELECT COUNT(*) FROM "ANALYTICS".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        "PUBLIC",
        table.upper(),
    )[0][0]
    if not exists:
        return (0, None)
    return tuple(h.query(f'SELECT COUNT(*), SUM("V") FROM "ANALYTICS"."PUBLIC"."{table.upper()}"')[0])


def _with_column_type(doc: dict[str, Any], column: str, pg_type: str) -> list[dict[str, Any]]:
    return [{**c, "type": pg_type} if c["name"] == column else c for c in doc["columns"]]


def test_manifests_whose_window_cannot_be_ordered_are_quarantined_and_later_exports_load(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xo_ts (id int PRIMARY KEY, v int NOT NULL, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.xo_ts SELECT g, g, TIMESTAMPTZ '2026-03-01 00:00:00+00' + g * INTERVAL '1 s' "
        "FROM generate_series(1, 4) g"
    )
    cur.execute("CREATE TABLE public.xo_big (id int PRIMARY KEY, v bigint NOT NULL)")
    cur.execute("INSERT INTO public.xo_big SELECT g, g FROM generate_series(1, 3) g")
    cur.execute("CREATE TABLE public.xo_other (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xo_other SELECT g, g * 10 FROM generate_series(1, 2) g")
    h = harness.add("public.xo_ts", ["id"], "updated_at", late_row_guard="false")
    h.add("public.xo_big", ["id"], "v", late_row_guard="false")
    h.add("public.xo_other", ["id"], "v", late_row_guard="false")
    ts, big = exported(h, 0), exported(h, 1)
    bad = {
        "bad-date": (ts, {"window": {**ts["window"], "high": "not-a-date"}}, "'not-a-date' is not a value of"),
        "naive-ts": (ts, {"window": {**ts["window"], "high": "2026-03-01 00:00:09"}}, "with a UTC offset"),
        "huge-int": (big, {"window": {**big["window"], "high": "1e999"}}, "an integer from"),
        "json-wm": (big, {"columns": _with_column_type(big, "v", "json")}, "a watermark must be an integer"),
    }
    for export_id, (real, change, _) in bad.items():
        doc = {**real, **change, "export_id": export_id, "files": [], "rows": 0, "bytes": 0}
        write_manifest(h, manifest_key("public", real["table"]["name"], export_id), doc)
    # one taken in by an earlier release, which did not check windows: stuck NEW in the ledger
    stuck_doc = {**big, "export_id": "stuck-new", "files": [], "rows": 0, "bytes": 0}
    stuck = parse_manifest({**stuck_doc, "window": {**big["window"], "high": "1e999"}})
    prepare(h.snow, h.config)
    ledger.record_manifest(h.snow, h.config.place, stuck, stuck.to_json())

    report = h.cycle()
    refused = []
    for export_id, (_, _, reason) in bad.items():
        ((ledger_id, error),) = quarantined_claiming(h, export_id)
        assert ledger_id.startswith("invalid-") and reason in error and "cannot be ordered" in error, error
        refused.append(ledger_id)
    seen = statuses(h)
    assert seen["stuck-new"][0] == "QUARANTINED" and "'1e999' is not a value of" in seen["stuck-new"][1]
    # the genuine exports and the other table load in the same cycle; the two tables report what they
    # hold quarantined (a window that cannot be ordered cannot be placed behind the watermark) and the fix
    assert (target(h, "xo_ts"), target(h, "xo_big"), target(h, "xo_other")) == ((4, 10), (3, 6), (2, 30))
    assert h.watermark("xo_ts") == "2026-03-01 00:00:04+00"
    assert (h.watermark("xo_big"), h.watermark("xo_other")) == ("3", "20")
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0
    failed = {t.spec.source: t.load["error"] for t in report.failed}
    assert sorted(failed) == ["public.xo_big", "public.xo_ts"]
    assert "QUARANTINED export(s)" in failed["public.xo_ts"] and "DISCARD_MANIFEST" in failed["public.xo_ts"]
    assert "stuck-new of public.xo_big cannot be ordered" in failed["public.xo_big"]  # quarantined by the load
    assert "DISCARD_MANIFEST" in failed["public.xo_big"]

    for ledger_id in [*refused, "stuck-new"]:  # the operator discards them; later exports still load
        discard(h.snow, h.config.place, ledger_id, "not the exporter's", "test")
    cur.execute("INSERT INTO public.xo_big VALUES (4, 4)")
    report = h.cycle()
    assert not report.failed
    assert target(h, "xo_big") == (4, 10) and h.watermark("xo_big") == "4"


def test_a_manifest_outside_its_tables_folder_or_under_another_name_is_quarantined(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xf_a (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xf_a SELECT g, g FROM generate_series(1, 3) g")
    cur.execute("CREATE TABLE public.xf_b (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xf_b SELECT g, g * 10 FROM generate_series(1, 2) g")
    h = harness.add("public.xf_a", ["id"], "v", late_row_guard="false")
    h.add("public.xf_b", ["id"], "v", late_row_guard="false")
    real = exported(h, 0)
    far = {**real, "window": {**real["window"], "high": "1000000"}, "files": [], "rows": 0, "bytes": 0}
    # a copy of table a's manifest in table b's folder, and one in a's folder under another file name
    write_manifest(h, manifest_key("public", "xf_b", "in-b-folder"), {**far, "export_id": "in-b-folder"})
    write_manifest(h, manifest_key("public", "xf_a", "other-name"), {**far, "export_id": "renamed"})
    # the real manifest itself copied into table b's folder: it must not take the real export's id
    write_manifest(h, manifest_key("public", "xf_b", real["export_id"]), real)

    h.cycle()
    for export_id in ("in-b-folder", "renamed"):
        ((_, error),) = quarantined_claiming(h, export_id)
        assert "is not where export" in error and manifest_key("public", "xf_a", export_id) in error, error
    ((_, error),) = quarantined_claiming(h, real["export_id"])
    assert manifest_key("public", "xf_b", real["export_id"]) in error
    assert statuses(h)[real["export_id"]][0] == "LOADED"
    assert (target(h, "xf_a"), target(h, "xf_b")) == ((3, 6), (2, 30))
    assert (h.watermark("xf_a"), h.watermark("xf_b")) == ("3", "20")
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0


def _empty_copy(real: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """The attack: table `other`'s manifest, emptied, under the export id of `real`."""
    return {**other, "export_id": real["export_id"], "files": [], "rows": 0, "bytes": 0}


def test_an_export_id_arriving_again_with_other_contents_quarantines_both(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xd_real (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xd_real SELECT g, g FROM generate_series(1, 3) g")
    cur.execute("CREATE TABLE public.xd_full (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xd_full SELECT g, g * 10 FROM generate_series(1, 2) g")
    h = harness.add("public.xd_real", ["id"], "v", late_row_guard="false")
    h.add("public.xd_full", ["id"])  # full mode: an empty snapshot would empty its target
    real, full = exported(h, 0), exported(h, 1)
    copy = _empty_copy(real, full)
    write_manifest(h, manifest_key("public", "xd_full", real["export_id"]), copy)

    h.cycle(export=False)
    seen = statuses(h)
    ours, theirs = digest(parse_manifest(real)), digest(parse_manifest(copy))
    duplicates = [e for e in seen if e.startswith(real["export_id"] + ".dup-")]
    assert len(duplicates) == 1
    for export_id in (real["export_id"], duplicates[0]):
        status, error = seen[export_id]
        assert status == "QUARANTINED" and ours in error and theirs in error, (export_id, error)
    # neither loads: the real table waits (its watermark unset), the other table keeps its own snapshot
    assert target(h, "xd_real") == (0, None)
    assert h.watermark("xd_real") is None
    assert target(h, "xd_full") == (2, 30)
    assert seen[full["export_id"]][0] == "LOADED"

    # the operator's way out: retry the genuine one, discard the copy; the real table then loads
    rows = h.query(f"SELECT EXPORT_ID, DOC FROM {h.control('MANIFESTS')} WHERE STATUS = 'QUARANTINED'")
    by_table = {json.loads(doc)["table"]["name"]: ledger_id for ledger_id, doc in rows}
    assert ledger.retry_manifest(h.snow, h.config.place, by_table["xd_real"]) == 1
    discard(h.snow, h.config.place, by_table["xd_full"], "an empty copy under xd_real's export id", "test")
    assert not h.cycle(export=False).failed
    assert (target(h, "xd_real"), h.watermark("xd_real")) == ((3, 6), "3")
    assert target(h, "xd_full") == (2, 30)


def test_an_export_id_arriving_again_after_it_loaded_quarantines_only_the_newcomer(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xl_real (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xl_real SELECT g, g FROM generate_series(1, 3) g")
    cur.execute("CREATE TABLE public.xl_full (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xl_full SELECT g, g * 10 FROM generate_series(1, 2) g")
    h = harness.add("public.xl_real", ["id"], "v", late_row_guard="false")
    h.add("public.xl_full", ["id"])
    h.cycle()
    real, full = exported(h, 0), exported(h, 1)
    copy = _empty_copy(real, full)
    write_manifest(h, manifest_key("public", "xl_full", real["export_id"]), copy)
    cur.execute("INSERT INTO public.xl_full VALUES (3, 30)")  # the other table has news this cycle

    h.cycle()
    seen = statuses(h)
    assert seen[real["export_id"]][0] == "LOADED"
    (newcomer,) = [e for e in seen if e.startswith(real["export_id"] + ".dup-")]
    status, error = seen[newcomer]
    assert status == "QUARANTINED" and "status LOADED) stands" in error
    assert digest(parse_manifest(copy)) in error and digest(parse_manifest(real)) in error
    assert (target(h, "xl_real"), h.watermark("xl_real")) == ((3, 6), "3")
    assert target(h, "xl_full") == (3, 60)


def test_a_window_high_beyond_the_staged_rows_is_quarantined_and_the_watermark_stays(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xw_ts (id int PRIMARY KEY, v int NOT NULL, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.xw_ts SELECT g, g, TIMESTAMPTZ '2026-03-01 00:00:00+00' + g * INTERVAL '1 s' "
        "FROM generate_series(1, 3) g"
    )
    cur.execute("CREATE TABLE public.xw_other (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xw_other SELECT g, g * 10 FROM generate_series(1, 2) g")
    h = harness.add("public.xw_ts", ["id"], "updated_at", late_row_guard="false")
    h.add("public.xw_other", ["id"], "v", late_row_guard="false")
    real = exported(h, 0)
    exported(h, 1)
    # the real manifest overwritten: its window.high in the far future (same instant written another way
    # would be accepted: the check compares timestamps, not text)
    tampered = {**real, "window": {**real["window"], "high": "2999-01-01 00:00:00+00"}}
    write_manifest(h, manifest_key("public", "xw_ts", real["export_id"]), tampered)

    h.cycle(export=False)
    status, error = statuses(h)[real["export_id"]]
    assert status == "QUARANTINED"
    assert "'2999-01-01 00:00:00+00'" in error and "the greatest updated_at of its staged rows is" in error
    assert target(h, "xw_ts") == (0, None)
    assert h.watermark("xw_ts") is None
    assert (target(h, "xw_other"), h.watermark("xw_other")) == ((2, 30), "20")


def test_a_window_high_written_with_another_offset_is_the_same_instant_and_loads(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xi_ts (id int PRIMARY KEY, v int NOT NULL, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.xi_ts SELECT g, g, TIMESTAMPTZ '2026-03-01 00:00:00+00' + g * INTERVAL '1 s' "
        "FROM generate_series(1, 3) g"
    )
    h = harness.add("public.xi_ts", ["id"], "updated_at", late_row_guard="false")
    real = exported(h, 0)
    assert real["window"]["high"] == "2026-03-01 00:00:03+00"
    same_instant = {**real, "window": {**real["window"], "high": "2026-03-01 02:00:03+02:00"}}
    write_manifest(h, manifest_key("public", "xi_ts", real["export_id"]), same_instant)

    h.cycle(export=False)
    assert statuses(h)[real["export_id"]][0] == "LOADED"
    assert target(h, "xi_ts") == (3, 6)


def test_a_later_attempt_of_an_export_not_yet_loaded_replaces_it(pg, harness):
    """The same window exported twice before the first attempt loaded, a source row deleted in between
    (the high unchanged): one export id, two signed manifests with other contents. The later attempt,
    whose files replaced the first's at the same keys, replaces the recorded one and loads; nothing is
    quarantined and the table is not held up."""
    from stored_procs import handlers

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.xr_again (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.xr_again SELECT g, g FROM generate_series(1, 5) g")
    h = harness.add("public.xr_again", ["id"], "v", late_row_guard="false")
    prepare(h.snow, h.config)
    first = exported(h, 0)
    handlers.intake_manifests_at(h.snow, h.config.place, "run-xr-1")  # taken in, not loaded
    assert statuses(h)[first["export_id"]][0] == "NEW"
    cur.execute("DELETE FROM public.xr_again WHERE id = 2")
    second = exported(h, 0)
    assert second["export_id"] == first["export_id"] and (first["rows"], second["rows"]) == (5, 4)

    handlers.intake_manifests_at(h.snow, h.config.place, "run-xr-2")
    status, note = statuses(h)[first["export_id"]]
    assert status == "NEW" and "replaced at intake by a later attempt" in note, note
    assert [e for e in statuses(h) if e.startswith(first["export_id"] + ".dup-")] == []
    assert not h.cycle(export=False).failed
    assert statuses(h)[first["export_id"]][0] == "LOADED"
    assert (target(h, "xr_again"), h.watermark("xr_again")) == ((4, 13), "5")
