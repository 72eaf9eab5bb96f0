"""The statements of a bucketed reconciliation over json and array columns: one statement each, binds
matching their placeholders, every document walked once per row on the source."""

from __future__ import annotations

import pytest
import sqlglot

from lambda_exporter.reconcile import fingerprints_query, rows_query
from stored_procs.monitoring.reconcile import bucket_rows, fingerprints
from stored_procs.spec import TableSpec
from sync_contract.manifest import Column
from sync_contract.reconcile import ReconcileRequest

pytestmark = pytest.mark.unit

TYPES = [("id", "bigint"), ("doc", "jsonb"), ("raw", "json"), ("nums", "numeric(10,2)[]"), ("ratios", "real[]")]
COLUMNS = [Column(name, pg_type, pg_type, name != "id", i + 1) for i, (name, pg_type) in enumerate(TYPES)]
DESCRIBED = [{"name": name, "type": pg_type} for name, pg_type in TYPES]
PRESENT = {"ID", "DOC", "RAW", "NUMS", "RATIOS"}
SPEC = TableSpec("public", "docs", ("id",), watermark_column=None, delete_detection="soft_delete")


def test_the_source_walks_each_document_once_per_row():
    counted = fingerprints_query("public", "docs", COLUMNS, ReconcileRequest("public", "docs", ("id",), 2))
    rows = rows_query("public", "docs", COLUMNS, ReconcileRequest("public", "docs", ("id",), 2, ("0a", "ff")))
    for stmt in (counted, rows):
        # json, jsonb and numeric[]: walked, once each (the row text names each value twice); real[]: not
        assert stmt.text.count("WITH RECURSIVE") == 3, stmt.text
        assert "OFFSET 0" in stmt.text and 'to_jsonb("nums")' in stmt.text and 'to_jsonb("ratios")' not in stmt.text
        assert stmt.text.replace("%%", "").count("%s") == len(stmt.params)


def test_the_target_statements_are_one_statement_with_a_bind_per_placeholder():
    counted = fingerprints(SPEC, "ANALYTICS", DESCRIBED, PRESENT, 2)
    rows = bucket_rows(SPEC, "ANALYTICS", DESCRIBED, PRESENT, 2, ["0a", "ff"])
    for stmt in (counted, rows):
        (parsed,) = sqlglot.parse(stmt.text, read="snowflake")
        assert parsed is not None
        assert stmt.text.count("?") == len(stmt.params)
        assert stmt.text.count("LATERAL FLATTEN") == 1 and 'T."_DELETED"' in stmt.text
    # the walk's three anchors (doc, raw, nums) and the main query each filter by the buckets
    assert rows.params == ("0a", "ff") * 4


def test_a_column_the_target_lacks_is_not_walked():
    stmt = fingerprints(SPEC, "ANALYTICS", DESCRIBED, PRESENT - {"DOC", "RAW", "NUMS"}, 2)
    assert "RECURSIVE" not in stmt.text and "CAST(NULL AS VARCHAR)" in stmt.text
