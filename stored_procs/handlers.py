"""Stored-procedure handlers: parse arguments, call one function, return a VARIANT-ready dict.

Each takes the Snowpark `Session` first, as Snowflake calls a Python procedure handler. The local
runner (`aurora-sync run`) calls these same functions, so both paths run the same code.
"""

from __future__ import annotations

from typing import Any

from stored_procs import ledger
from stored_procs.intake import intake
from stored_procs.load import load_table
from stored_procs.spec import Place


def intake_manifests(session: Any, database: str, control_schema: str, stage: str | None = None) -> dict[str, Any]:
    """INTAKE: copy new manifests of every enabled table into the MANIFESTS ledger."""
    place = Place.create(database, control_schema, stage)
    return intake(session, place, ledger.read_table_specs(session, place)).to_dict()


def load_one_table(
    session: Any,
    database: str,
    control_schema: str,
    source_schema: str,
    source_table: str,
    run_id: str,
    stage: str | None = None,
) -> dict[str, Any]:
    """LOAD_<table>: apply the table's pending manifests; the summary is also written to RUNS."""
    place = Place.create(database, control_schema, stage)
    specs = {(s.source_schema, s.source_table): s for s in ledger.read_table_specs(session, place)}
    spec = specs.get((source_schema, source_table))
    if spec is None:
        return {
            "status": "FAILED",
            "error": f"table {source_schema}.{source_table} is not configured (or is disabled) in "
            f"{database}.{control_schema}.SYNC_TABLES; add it before loading it",
        }
    return load_table(session, place, database, spec, run_id)
