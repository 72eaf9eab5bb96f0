"""Every Snowflake statement the load path can send parses with sqlglot's Snowflake dialect."""

import dataclasses
from typing import Any

import pytest
import sqlglot

from stored_procs import control_tables, ledger, run_records, sql, watermarks
from stored_procs.loading import intake_sql, key_checks, quarantine, replace, table_ledger
from stored_procs.spec import Place, TableSpec
from sync_contract.manifest import Column
from sync_contract.types import Kind
from tests.factories import manifest

PLACE = Place.create("ANALYTICS", "AURORA_SYNC")
SPEC = TableSpec("Sales", "Customer Events", ("Event Id",), watermark_column="Updated At")


class RecordingSession:
    """Records the SQL text the ledger sends; answers every query with no rows."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def sql(self, text: str, params: Any = None) -> "RecordingSession":
        self.statements.append(text)
        return self

    def collect(self) -> list[Any]:
        return []


def _manifest():
    cols = (
        Column("Event Id", "bigint", "bigint", False, 1, 1),
        Column("select", "text", "text", True, 2),
        Column("ratio", "numeric", "numeric", True, 3),
        Column("Updated At", "timestamp with time zone", "timestamp with time zone", False, 4),
    )
    m = manifest(schema="Sales", table="Customer Events")
    return m.__class__(
        **{**m.__dict__, "columns": cols, "window": m.window.__class__("Updated At", None, "1", "max_watermark")}
    )


def _builder_statements() -> list[str]:
    m = _manifest()
    cols = sql.target_columns(SPEC, m)
    stmts = [
        *control_tables.control_ddl(PLACE),
        sql.create_stage(PLACE, "s3://bucket/prefix/", "INTEGRATION"),
        intake_sql.copy_manifests(PLACE, "manifests/sales_customer_events-1234abcd/"),
        sql.create_staging(PLACE, SPEC, [m for _, m in cols]),
        sql.copy_data(PLACE, SPEC, [f.key for f in m.files], "gzip"),
        sql.count_rows(PLACE.control(SPEC.staging_name)),
        sql.create_target_schema(SPEC, "ANALYTICS"),
        sql.create_target(SPEC, "ANALYTICS", cols),
        sql.existing_columns(SPEC, "ANALYTICS"),
        sql.add_column(SPEC, "ANALYTICS", cols[1][0], cols[1][1]),
        quarantine.count_bad(PLACE, SPEC, m),
        quarantine.record(PLACE, SPEC, m, m.export_id, "run-1", "2026-01-01 00:00:00"),
        quarantine.set_aside(PLACE, SPEC, m),
        quarantine.forget(PLACE, [m.export_id]),
        sql.merge(PLACE, SPEC, m, "ANALYTICS"),
        key_checks.duplicate_keys(PLACE, SPEC, m),
        replace.create_shadow(SPEC, "ANALYTICS"),
        replace.fill_shadow(PLACE, SPEC, m, "ANALYTICS", ["EVENT ID", "OLD COLUMN"]),
        replace.carry_over(
            PLACE,
            dataclasses.replace(SPEC, delete_detection="soft_delete"),
            m,
            "ANALYTICS",
            "2026-01-01",
            ["EVENT ID", "_DELETED", "_DELETED_AT"],
            True,
        ),
        replace.carry_over(PLACE, SPEC, m, "ANALYTICS", "2026-01-01 00:00:00", ["EVENT ID"], True),
        quarantine.keep_keys(PLACE, SPEC, m, replace.kept_keys_table(PLACE, SPEC)),
        replace.drop_kept_keys(PLACE, SPEC),
        replace.distinct_staged_keys(PLACE, SPEC, m),
        replace.change_counts(SPEC, m, "ANALYTICS"),
        replace.change_counts(dataclasses.replace(SPEC, delete_detection="soft_delete"), m, "ANALYTICS"),
        replace.swap(SPEC, "ANALYTICS"),
        replace.drop_shadow(SPEC, "ANALYTICS"),
        sql.drop_staging(PLACE, SPEC),
    ]
    return [s.text for s in stmts if s is not None]


def _ledger_statements() -> list[str]:
    session = RecordingSession()
    m = _manifest()
    ledger.ensure_control(session, PLACE)
    ledger.save_table_spec(session, PLACE, SPEC)
    ledger.read_table_specs(session, PLACE)
    ledger.holds(session, PLACE, "x1")
    ledger.record_manifest(session, PLACE, m, m.to_json())
    ledger.record_invalid_manifest(session, PLACE, "invalid-1", "{}", "bad")
    table_ledger.read(session, PLACE, SPEC, "ANALYTICS")
    ledger.newest_loaded_snapshot(session, PLACE, SPEC)
    ledger.mark_loaded(session, PLACE, ["x1", "x2"], "run", {"loaded": 1, "inserted": 1, "updated": 0, "deleted": 0})
    ledger.mark_status(session, PLACE, ["x1"], ledger.FAILED, "why", "run")
    watermarks.get_watermark(session, PLACE, SPEC)
    watermarks.set_watermark(session, PLACE, SPEC, "1", "x1", Kind.INTEGER)
    run_records.record_files(
        session,
        PLACE,
        "x1",
        [{"file": "f", "status": "LOADED", "rows_parsed": 1, "rows_loaded": 1, "errors_seen": 0, "first_error": None}],
    )
    run_records.record_run(session, PLACE, {"run_id": "r", "source_schema": "s", "source_table": "t"})
    return session.statements


@pytest.mark.parametrize("text", _builder_statements() + _ledger_statements())
def test_statement_parses_as_snowflake_sql(text):
    parsed = sqlglot.parse(text, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1
    assert parsed[0] is not None
