"""The checks of a staged batch in ONE statement: each check is an aggregate query over the staging table
that returns exactly one row, so they run side by side as one SELECT of their CROSS JOIN, and each
check reads its own columns back from that row by position.

The checks (their SQL stays with them): the staged row count (`sql.count_rows`), the staged maximum of the
window column (`staged_window.staged_high`), the repeated keys and the key range
(`key_checks.duplicate_keys`), and the values the target cannot hold (`quarantine.count_bad`). One
statement instead of four per batch (issue 14: a 1 % change cycle sends at most 20 statements); Snowflake
scans the staging table's micro-partitions once per subquery either way.
"""

from __future__ import annotations

from typing import Any

from stored_procs import sql
from stored_procs.loading import key_checks, quarantine, staged_window
from stored_procs.loading.batch import Batch
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run

STAGED_HIGH_WIDTH = 5  # staged_window.staged_high: staged, same, held, exact, below
DUPLICATE_KEYS_WIDTH = 4  # key_checks.duplicate_keys: keys, surplus, lo, hi


def side_by_side(stmts: list[Stmt]) -> Stmt:
    """One SELECT of one-row queries: `SELECT * FROM (q0) AS c0 CROSS JOIN (q1) AS c1 ...`, binds in order."""
    joined = " CROSS JOIN ".join(f"({s.text}) AS c{i}" for i, s in enumerate(stmts))
    return Stmt(f"SELECT * FROM {joined}", tuple(p for s in stmts for p in s.params))


def run_checks(session: Any, place: Place, spec: TableSpec, batch: Batch) -> dict[str, tuple[Any, ...] | None]:
    """{"count": (rows,), "window": staged_high's row or None, "keys": duplicate_keys' row, "bad": count_bad's
    row or None}: None where the check does not apply to the batch."""
    manifest = batch.first
    window = staged_window.staged_high(place, spec, batch) if batch.rows else None
    bad = quarantine.count_bad(place, spec, manifest)
    parts: list[tuple[str, Stmt, int]] = [
        ("count", sql.count_rows(place.control(spec.staging_name)), 1),
        ("keys", key_checks.duplicate_keys(place, spec, manifest), DUPLICATE_KEYS_WIDTH),
    ]
    if window is not None:
        parts.append(("window", window, STAGED_HIGH_WIDTH))
    if bad is not None:
        parts.append(("bad", bad, len(quarantine.checks(spec, manifest, "r"))))
    row = tuple(run(session, side_by_side([stmt for _, stmt, _ in parts]))[0])
    found: dict[str, tuple[Any, ...] | None] = {"window": None, "bad": None}
    at = 0
    for name, _, width in parts:
        found[name] = row[at : at + width]
        at += width
    if at != len(row):
        raise AssertionError(f"the staged checks returned {len(row)} columns, expected {at}")
    return found
