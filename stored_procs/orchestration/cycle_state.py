"""What a local cycle needs to know before it starts, read in ONE statement, and the control objects'
definition version that decides whether their DDL runs at all.

A cycle with nothing new sends few statements (issue 14: at most 6 per table, no DDL). So the control
schema's DDL (`CREATE ... IF NOT EXISTS`, `ALTER ... ADD COLUMN IF NOT EXISTS`, the stage) runs only when
its definition changed: a digest of the DDL text is kept in SETTINGS (`CONTROL_VERSION`), and the one
read of the cycle's state returns it. A missing control table makes that read fail, which also runs the
DDL (a first run, or a control schema dropped by hand). In the Native App the same objects are created by
the setup script at install and upgrade, never by a cycle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stored_procs import ledger
from stored_procs.control_tables import CONTROL_TABLES, control_ddl
from stored_procs.datetime_text import timestamp_ntz
from stored_procs.loading.intake import INTAKE_ERROR
from stored_procs.orchestration.lease import Busy, table_lease
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run

Key = tuple[str, str]  # (schema, table): TableSpec.key
_AT = timestamp_ntz()  # a bound ledger.now() text, with its explicit format (stored_procs/datetime_text.py)
CONTROL_VERSION = "control_version"  # SETTINGS row: digest of the control DDL last applied


def control_version(ddl: list[Stmt]) -> str:
    """A digest of the DDL's text (the control tables, their added columns, the stage): any change of a
    definition, a new column in a release, another stage URL or integration, gives another version."""
    text = json.dumps([s.text for s in ddl])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class CycleState:
    """One read of the control schema at the start of a cycle.

    Every map is keyed by (schema, table) (`TableSpec.key`). `saved`: every table SYNC_TABLES holds,
    enabled or not, with `enabled`; `watermarks`: loaded watermark (absent: none); `pending`: tables with
    a NEW or FAILED manifest;
    `quarantined`: tables with a QUARANTINED incremental/full export created no earlier than their newest
    LOADED one (CREATED_AT, ISO text: perhaps stuck behind it; an older one was passed, and the load's
    own check, `blocked.waiting_on`, decides);
    `keys_taken_at`: newest key set's INTAKE_AT (TIMESTAMP_NTZ text) by table; `intake_errors`: tables whose
    manifests could not be copied last time (`intake.record_intake_error`); `inbox`: documents in
    INBOX (copied, not yet handled: an intake interrupted); `held`: the tables whose load lease another run
    holds, unexpired, as the cycle starts (`lease.Busy`: who, since when, until when); `version`: the control
    DDL version applied."""

    version: str | None
    inbox: int
    saved: list[TableSpec] = field(default_factory=list)
    enabled: dict[Key, bool] = field(default_factory=dict)
    watermarks: dict[Key, str | None] = field(default_factory=dict)
    pending: set[Key] = field(default_factory=set)
    quarantined: set[Key] = field(default_factory=set)
    keys_taken_at: dict[Key, Any] = field(default_factory=dict)
    intake_errors: set[Key] = field(default_factory=set)
    held: dict[Key, Busy] = field(default_factory=dict)

    def watermark(self, spec: TableSpec) -> str | None:
        return self.watermarks.get(spec.key)

    def keys_due(self, spec: TableSpec) -> bool:
        """As `ledger.keys_due`, from this read."""
        return ledger.keys_due_at(spec, self.keys_taken_at.get(spec.key))


def read_state(place: Place, tables: Sequence[Key] = ()) -> Stmt:
    """The cycle's state in one SELECT: one row per configured table (or one row of NULLs when none),
    each carrying the DDL version and the INBOX count, and for the `tables` ((schema, table)) the holder of
    their load lease when it is held and not expired (LEASES; `lease.table_lease` names it: a hash, so the
    names come as a VALUES list, "VALUES" in the SQL reference). It also reads (nothing from) every other
    control table, so that one dropped by hand fails this statement and the DDL runs again."""
    c = place.control
    names: tuple[Any, ...] = tuple(v for schema, table in tables for v in (schema, table, table_lease(schema, table)))
    leases = (
        "LEFT JOIN (VALUES " + ", ".join(["(?, ?, ?)"] * len(tables)) + ") AS n (S, T, N) "
        "ON n.S = s.SOURCE_SCHEMA AND n.T = s.SOURCE_TABLE "
        f"LEFT JOIN {c('LEASES')} AS l ON l.NAME = n.N AND l.HOLDER IS NOT NULL AND l.EXPIRES_AT >= {_AT} "
        if tables
        else f"LEFT JOIN {c('LEASES')} AS l ON FALSE "
    )
    others = sorted(set(CONTROL_TABLES) - {"SETTINGS", "INBOX", "SYNC_TABLES", "WATERMARKS", "MANIFESTS"})
    probe = " UNION ALL ".join(f"SELECT 1 AS P FROM {c(name)} WHERE FALSE" for name in others)
    return Stmt(
        f"SELECT x.V, x.I, s.SOURCE_SCHEMA, s.SOURCE_TABLE, s.TARGET_SCHEMA, s.TARGET_TABLE, s.MODE, s.PRIMARY_KEY, "
        "s.WATERMARK_COLUMN, s.OPTIONS, s.ENABLED, w.WATERMARK, m.P, m.Q, m.K, m.X, m.L, l.NAME, l.HOLDER, "
        "l.ACQUIRED_AT, l.EXPIRES_AT FROM (SELECT "
        f"(SELECT MAX(VALUE) FROM {c('SETTINGS')} WHERE NAME = ?) AS V, (SELECT COUNT(*) FROM {c('INBOX')}) AS I, "
        f"(SELECT COUNT(*) FROM ({probe}) AS p) AS O) AS x "
        f"LEFT JOIN {c('SYNC_TABLES')} AS s ON TRUE "
        f"LEFT JOIN {c('WATERMARKS')} AS w ON w.SOURCE_SCHEMA = s.SOURCE_SCHEMA AND w.SOURCE_TABLE = s.SOURCE_TABLE "
        "LEFT JOIN (SELECT SOURCE_SCHEMA, SOURCE_TABLE, SUM(IFF(STATUS IN (?, ?), 1, 0)) AS P, "
        "MAX(IFF(STATUS = ? AND MODE IN ('incremental', 'full'), CREATED_AT, NULL)) AS Q, "
        "MAX(IFF(STATUS = ? AND MODE IN ('incremental', 'full'), CREATED_AT, NULL)) AS L, "
        f"MAX(IFF(MODE = 'keys', INTAKE_AT, NULL)) AS K, SUM(IFF(STARTSWITH(EXPORT_ID, ?), 1, 0)) AS X "
        f"FROM {c('MANIFESTS')} GROUP BY SOURCE_SCHEMA, SOURCE_TABLE) "
        "AS m ON m.SOURCE_SCHEMA = s.SOURCE_SCHEMA AND m.SOURCE_TABLE = s.SOURCE_TABLE "
        f"{leases}ORDER BY s.SOURCE_SCHEMA, s.SOURCE_TABLE",
        (CONTROL_VERSION, ledger.NEW, ledger.FAILED, ledger.QUARANTINED, ledger.LOADED, INTAKE_ERROR)
        + ((*names, ledger.now()) if tables else ()),
    )


def parse_state(rows: list[Any]) -> CycleState:
    state = CycleState(version=rows[0][0] if rows else None, inbox=int(rows[0][1] or 0) if rows else 0)
    for r in rows:
        if r[2] is None:  # no table configured yet
            continue
        spec = ledger.spec_from_row(r[2:10])
        state.saved.append(spec)
        state.enabled[spec.key] = bool(r[10])
        if r[11] is not None:
            state.watermarks[spec.key] = r[11]
        if int(r[12] or 0):
            state.pending.add(spec.key)
        if r[13] is not None and (r[16] is None or str(r[13]) >= str(r[16])):
            state.quarantined.add(spec.key)  # a quarantined export no later export was loaded after
        if r[14] is not None:
            state.keys_taken_at[spec.key] = r[14]
        if int(r[15] or 0):
            state.intake_errors.add(spec.key)
        if r[17] is not None:  # held by another run (this one has taken no lease yet)
            state.held[spec.key] = Busy(str(r[17]), str(r[18]), str(r[20]), None if r[19] is None else str(r[19]))
    return state


def forget_version(place: Place) -> Stmt:
    """After a cycle in which a step failed: the next cycle applies the control DDL again, so that a control
    object altered by hand (a column or the stage dropped) is put back."""
    return Stmt(f"DELETE FROM {place.control('SETTINGS')} WHERE NAME = ?", (CONTROL_VERSION,))


def set_version(place: Place, version: str) -> Stmt:
    return Stmt(
        f"MERGE INTO {place.control('SETTINGS')} AS t USING (SELECT CAST(? AS VARCHAR) AS NAME, "
        f"CAST(? AS VARCHAR) AS VALUE, {timestamp_ntz()} AS UPDATED_AT) AS s ON t.NAME = s.NAME "
        "WHEN MATCHED THEN UPDATE SET VALUE = s.VALUE, UPDATED_AT = s.UPDATED_AT "
        "WHEN NOT MATCHED THEN INSERT (NAME, VALUE, UPDATED_AT) VALUES (s.NAME, s.VALUE, s.UPDATED_AT)",
        (CONTROL_VERSION, version, ledger.now()),
    )


def ensure_and_read(session: Any, place: Place, extra_ddl: list[Stmt], tables: Sequence[Key] = ()) -> CycleState:
    """The cycle's state, after applying the control DDL (plus `extra_ddl`, e.g. the stage) when its
    version differs from the one recorded, or the state cannot be read (a control table missing).
    `tables`: whose load leases to read (`read_state`)."""
    ddl = control_ddl(place) + extra_ddl
    version = control_version(ddl)
    try:
        state = parse_state(run(session, read_state(place, tables)))
    except Exception:
        state = None
    if state is not None and state.version == version:
        return state
    for stmt in ddl:
        run(session, stmt)
    run(session, set_version(place, version))
    return parse_state(run(session, read_state(place, tables)))
