"""What a table's LOAD reads of the ledger before it starts, in ONE statement: its pending manifests, its
stored watermark, the window highs and newest document of its loaded exports, whether any export of it
is QUARANTINED, and the target's columns (from the target database's INFORMATION_SCHEMA). Before,
each was a statement of its own (issue 14: a 1 % change cycle sends at most 20 statements). Read under
the table's lease, so nothing else changes them while the load runs; what the load itself changes
afterwards it reads again (`ledger`, `blocked`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stored_procs import ledger
from stored_procs.loading import history
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident


@dataclass
class TableLedger:
    """`pending`: NEW and FAILED manifests, oldest first (by CREATED_AT, EXPORT_ID); `watermark`: the
    stored one; `loaded_highs`: WINDOW_HIGH of every LOADED window or snapshot export (not key sets);
    `newest_loaded`: (DOC, WINDOW_HIGH) of the newest of them
    (`ledger.newest_loaded`); `newest_loaded_at`: its CREATED_AT (`ledger.newest_loaded_snapshot`);
    `quarantined`: whether a window or snapshot export is QUARANTINED (`blocked.quarantined`);
    `target_columns`: the target table's column names (empty: no such table, or none the role may see);
    `view_columns`: for a history table, its current view's (empty: no view; loading.history), else None."""

    pending: list[ledger.LedgerEntry] = field(default_factory=list)
    watermark: str | None = None
    loaded_highs: list[str] = field(default_factory=list)
    newest_loaded: tuple[str, str | None] | None = None
    newest_loaded_at: str | None = None
    quarantined: bool = False
    target_columns: set[str] = field(default_factory=set)
    view_columns: set[str] | None = None


def read_statement(place: Place, spec: TableSpec, database: str) -> Stmt:
    """Rows tagged P (pending: EXPORT_ID, STATUS, ATTEMPTS, DOC), L (loaded: WINDOW_HIGH, CREATED_AT, and
    DOC for the newest only), Q (one per quarantined export), W (the watermark) and C (one per column of
    the target in `database`, as sql.existing_columns reads them); for a history table also V (one per
    column of its current view `<TARGET>_CURRENT`, from the same COLUMNS view: loading.history)."""
    m, where = place.control("MANIFESTS"), "SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?"
    key = (spec.source_schema, spec.source_table)
    newest = "ROW_NUMBER() OVER (ORDER BY CREATED_AT DESC, EXPORT_ID DESC) = 1"
    columns = f"{quote_ident(database)}.INFORMATION_SCHEMA.COLUMNS"
    # a history table's current view too (its columns tagged V), so a missing or stale view is seen here
    tag, names = ("IFF(TABLE_NAME = ?, 'C', 'V')", "IN (?, ?)") if spec.history else ("'C'", "= ?")
    view = (spec.target_table + history.VIEW_SUFFIX,) if spec.history else ()
    tables = (*((spec.target_table,) if spec.history else ()), spec.target_schema, spec.target_table, *view)
    return Stmt(
        "SELECT 'P' AS T, EXPORT_ID AS E, STATUS AS S, CAST(ATTEMPTS AS VARCHAR) AS A, DOC AS D, "
        f"CREATED_AT AS C FROM {m} WHERE {where} AND STATUS IN (?, ?) "
        f"UNION ALL SELECT 'L', EXPORT_ID, WINDOW_HIGH, NULL, IFF({newest}, DOC, NULL), CREATED_AT "
        f"FROM {m} WHERE {where} AND STATUS = ? AND MODE <> 'keys' "
        f"UNION ALL SELECT 'Q', EXPORT_ID, NULL, NULL, NULL, CREATED_AT FROM {m} "
        f"WHERE {where} AND STATUS = ? AND MODE IN ('incremental', 'full') "
        f"UNION ALL SELECT 'W', NULL, WATERMARK, NULL, NULL, NULL FROM {place.control('WATERMARKS')} WHERE {where} "
        f"UNION ALL SELECT {tag}, NULL, COLUMN_NAME, NULL, NULL, NULL FROM {columns} "
        f"WHERE TABLE_SCHEMA = ? AND TABLE_NAME {names} "
        "ORDER BY 1, 6, 2",
        (
            *key,
            ledger.NEW,
            ledger.FAILED,
            *key,
            ledger.LOADED,
            *key,
            ledger.QUARANTINED,
            *key,
            *tables,
        ),
    )


def read(session: Any, place: Place, spec: TableSpec, database: str) -> TableLedger:
    found = TableLedger(view_columns=set() if spec.history else None)
    for tag, export_id, status, attempts, doc, created_at in run(session, read_statement(place, spec, database)):
        if tag == "P":
            found.pending.append(ledger.LedgerEntry(export_id, status, int(attempts or 0), doc))
        elif tag == "L":
            if status is not None:
                found.loaded_highs.append(status)
            if doc is not None:
                found.newest_loaded, found.newest_loaded_at = (doc, status), created_at
        elif tag == "Q":
            found.quarantined = True
        elif tag == "W":
            found.watermark = status
        elif tag == "C":
            found.target_columns.add(status)
        elif tag == "V" and found.view_columns is not None:
            found.view_columns.add(status)
    return found
