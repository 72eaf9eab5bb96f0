"""The pure parts of the export checks and of partition chunks (no database)."""

from lambda_exporter.chunking import Chunk
from lambda_exporter.query import export_select, partition_leaves, union_all
from stored_procs.orchestration.export_check import Request, export_errors, export_id_of, failure_text, latest
from sync_contract.manifest import Column, export_id, manifest_key


def test_the_export_id_comes_back_from_the_manifest_key_the_exporter_reports():
    eid = export_id("Sales", "Customer Events", "incremental", "2026-01-01 00:00:00+00", "2026-02-01", 1, 3, "x")
    assert export_id_of("aurora-sync/" + manifest_key("Sales", "Customer Events", eid)) == eid


def test_the_latest_request_per_mode_counts_and_a_failed_key_set_says_so():
    window_failed = Request("incremental", "FAILED", "SourceError: boom", ())
    window_retried = Request("incremental", "EXPORTED", None, ("k",))
    keys_failed = Request("keys", "FAILED", None, ())
    assert latest([window_failed, window_retried]) == [window_retried]
    assert export_errors([window_failed, window_retried]) == []
    assert export_errors([window_failed, keys_failed]) == [
        "export failed: SourceError: boom",
        "export of the key set failed: no error text recorded",
    ]
    assert failure_text("full", "x") == "export failed: x"


def test_a_partition_chunk_reads_each_of_its_partitions_whole_in_one_select():
    chunk = Chunk(partitions=(("public", "p_a"), ("public", "p b")))
    cols = [Column("id", "integer", "integer", False, 1)]
    parts = [export_select(s, t, cols, "id", "5", "9", r) for s, t, r in chunk.scans("public", "p")]
    stmt = union_all(parts)
    assert stmt.text == (
        'SELECT "id" AS "id" FROM "public"."p_a" WHERE "id" > %s AND "id" <= %s UNION ALL '
        'SELECT "id" AS "id" FROM "public"."p b" WHERE "id" > %s AND "id" <= %s'
    )
    assert stmt.params == ("5", "9", "5", "9")
    assert Chunk(ctid_range=(0, 10)).scans("public", "t") == [("public", "t", (0, 10))]
    assert partition_leaves("public", 'we"ird').params == ('"public"."we""ird"',)
