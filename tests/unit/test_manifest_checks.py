"""The intake's checks of a parsed manifest (stored_procs.loading.manifest_checks) and the SQL of the
staged-window check and DISCARD_MANIFEST, without a database."""

from __future__ import annotations

import dataclasses

import pytest
import sqlglot

from stored_procs.loading import discard, intake, manifest_checks, staged_window
from stored_procs.loading.batch import Batch
from stored_procs.spec import Place, TableSpec
from sync_contract.errors import ContractError
from sync_contract.manifest import Column, DataFile, SourceState, Window, manifest_key
from tests.factories import manifest

PLACE = Place.create("ANALYTICS", "AURORA_SYNC")
SPEC = TableSpec("public", "orders", ("order_id",), watermark_column="updated_at")


def _with(window_high: str, column_type: str = "timestamp with time zone", column: str = "updated_at"):
    m = manifest()
    cols = tuple(dataclasses.replace(c, type=column_type) if c.name == column else c for c in m.columns)
    return dataclasses.replace(m, columns=cols, window=Window(column, None, window_high, "max_watermark"))


@pytest.mark.parametrize(
    ("high", "pg_type", "column"),
    [
        ("2026-01-01 00:00:05+00", "timestamp with time zone", "updated_at"),
        ("2026-01-01 00:00:05.123456", "timestamp without time zone", "updated_at"),
        ("9223372036854775807", "bigint", "order_id"),
        ("-2147483648", "integer", "order_id"),
        ("12345.6789", "numeric", "order_id"),
    ],
)
def test_values_of_the_watermark_type_are_orderable(high, pg_type, column):
    manifest_checks.check_orderable(_with(high, pg_type, column))


@pytest.mark.parametrize(
    ("high", "pg_type", "column", "said"),
    [
        ("not-a-date", "timestamp with time zone", "updated_at", "an ISO 8601 timestamp"),
        ("2026-01-01 00:00:05", "timestamp with time zone", "updated_at", "with a UTC offset"),
        ("2026-01-01 00:00:05+00", "timestamp without time zone", "updated_at", "without a UTC offset"),
        ("infinity", "timestamp with time zone", "updated_at", "an ISO 8601 timestamp"),
        ("1e999", "bigint", "order_id", "an integer from"),
        ("9223372036854775808", "bigint", "order_id", "an integer from"),
        ("2147483648", "integer", "order_id", "an integer from -2147483648 to 2147483647"),
        ("32768", "smallint", "order_id", "an integer from -32768 to 32767"),
        ("1e5", "numeric", "order_id", "plain decimal notation"),
        ("NaN", "numeric", "order_id", "plain decimal notation"),
        ("{}", "json", "updated_at", "a watermark must be an integer, numeric or timestamp"),
        ("(1,2)", "point", "updated_at", "has no exact Snowflake mapping"),
    ],
)
def test_a_window_that_cannot_be_ordered_is_refused_naming_the_value(high, pg_type, column, said):
    with pytest.raises(ContractError, match=said):
        manifest_checks.check_orderable(_with(high, pg_type, column))
    assert "cannot be ordered" in (manifest_checks.refusal(_with(high, pg_type, column), None) or "")


def test_the_file_must_be_its_own_tables_under_its_own_export_id():
    m = manifest()
    key = manifest_key("public", "orders", m.export_id)
    assert manifest_checks.misplaced(m, key) is None
    assert manifest_checks.misplaced(m, "exports/" + key) is None  # the stage URL's own prefix before it
    assert manifest_checks.misplaced(m, None) is None  # copied before INBOX recorded file names
    assert manifest_checks.misplaced(m, intake.UNRECORDED + "1234") is None
    for elsewhere in (
        manifest_key("public", "customers", m.export_id),  # another table's folder
        manifest_key("public", "orders", "other-name"),  # another file name
        "x" + key,  # no folder boundary
    ):
        assert "is not where export" in (manifest_checks.misplaced(m, elsewhere) or ""), elsewhere


def test_the_digest_is_what_the_load_does_not_when_or_how_the_export_ran():
    m = manifest()
    retried = dataclasses.replace(
        m,
        created_at="2027-01-01T00:00:00.000000Z",
        exporter_version="9.9.9",
        bytes=1,
        files=tuple(dataclasses.replace(f, bytes=7) for f in m.files),
        source=SourceState(filenode=42),
        window=dataclasses.replace(m.window, guard="2026-01-01 00:00:06+00"),
    )
    assert manifest_checks.digest(retried) == manifest_checks.digest(m)
    for changed in (
        dataclasses.replace(m, rows=0, files=()),
        dataclasses.replace(m, table="customers"),
        dataclasses.replace(m, window=dataclasses.replace(m.window, high="2999-01-01 00:00:00+00")),
        dataclasses.replace(m, columns=(*m.columns[:1], Column("x", "text", "text", True, 2), *m.columns[2:])),
        dataclasses.replace(m, files=(DataFile(m.files[0].key, 5, 120),)),
    ):
        assert manifest_checks.digest(changed) != manifest_checks.digest(m)


def test_the_staged_window_check_compares_typed_values_of_incremental_batches_only():
    m = manifest()
    stmt = staged_window.staged_high(PLACE, SPEC, Batch((), (m,)))
    assert stmt is not None and stmt.params == ("2026-01-01 00:00:05+00",) * 4
    assert "TRY_TO_TIMESTAMP_TZ" in stmt.text and "MAX(v) =" in stmt.text
    full = dataclasses.replace(m, mode="full", window=Window(None, None, "fp", "snapshot_fingerprint"))
    assert staged_window.staged_high(PLACE, dataclasses.replace(SPEC, mode="full"), Batch((), (full,))) is None


def _statements() -> list[str]:
    m = manifest()
    return [
        s.text
        for s in (
            staged_window.staged_high(PLACE, SPEC, Batch((), (m,))),
            discard.mark_discarded(PLACE, "x1", "why", "2026-01-01 00:00:00"),
            discard.record_discarded(PLACE, "x1", "{}", ("public", "orders"), "why", "2026-01-01 00:00:00"),
            intake.name_unrecorded(PLACE),
            intake.remove_from_inbox(PLACE, ["manifests/a/b.json"]),
            intake.clean_inbox(PLACE),
        )
        if s is not None
    ]


@pytest.mark.parametrize("text", _statements())
def test_statement_parses_as_snowflake_sql(text):
    parsed = sqlglot.parse(text, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1 and parsed[0] is not None
