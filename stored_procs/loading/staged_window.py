"""The staged rows of an incremental batch against its window (issue 13, item 3): the greatest staged
value of the watermark column must equal `window.high`.

The exporter takes `window.high` as the greatest watermark value of the rows it exports (within the same
snapshot: lambda_exporter.query.window_high), so a batch with rows whose staged maximum differs was not
written by it: a `window.high` set to the far future would move the watermark past rows never exported
(each later export starts above it: silent, permanent loss). Checked after COPY into staging, before any
MERGE; a mismatch is final (QUARANTINED), the target and the watermark untouched. Values are compared as
the column's type in Snowflake (a timestamp with an offset as an instant, '1.50' equal to '1.5'), never as
text.

A `window.high` the target type cannot hold (an unbounded numeric with more integer digits than
NUMBER(38, scale) leaves, e.g. 30) converts to NULL (TRY_CAST returns NULL where the conversion cannot
be done: https://docs.snowflake.com/en/sql-reference/functions/try_cast), and so does its staged row,
which the bad-values step (stored_procs/loading/quarantine.py) then sets aside in STATE.QUARANTINE.
For such a high the check is: a staged row's watermark text is exactly `window.high` (the exporter
writes both from the same value, `max(column)::text` and the row's text), and no staged value the type
holds lies above it (compared as numbers, sync_contract.watermark.sort_key). The check stays before the
bad-values step on purpose: run after it, the greatest remaining value would differ from `high` whenever
the top row was set aside for any of its columns, failing genuine exports. Unholdable timestamps
(infinity, year 10000, BC) never reach here: intake refuses such a window
(manifest_checks.check_orderable).
"""

from __future__ import annotations

from typing import Any

from stored_procs import sql
from stored_procs.loading.batch import Batch, LoadError, window_kind
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.errors import ContractError
from sync_contract.identifiers import quote_ident
from sync_contract.types import Kind
from sync_contract.watermark import sort_key


class WindowMismatch(LoadError):
    """The staged rows' greatest watermark is not the manifest's `window.high` (final)."""


def staged_high(place: Place, spec: TableSpec, batch: Batch) -> Stmt | None:
    """(HIGH as VARCHAR, SAME: TRUE when it equals the bound `window.high` converted to the column's type,
    HELD, EXACT, BELOW: TRUE when it lies at or below that bound) of the staged batch; None when there
    is nothing to check (not incremental, no window column)."""
    manifest = batch.first
    column, high = manifest.window.column, manifest.window.high
    if manifest.mode != "incremental" or not column or high is None:
        return None
    columns = sql.target_columns(spec, manifest)
    name = spec.column(column)
    staged, mapping = next(
        (stg, m) for stg, (n, m) in zip(sql.staging_columns(len(columns)), columns, strict=True) if n == name
    )
    typed = sql.try_cast_expression(quote_ident(staged), mapping)
    bound = sql.text_as("?", mapping, safe=True)
    return Stmt(
        f"SELECT CAST(MAX(v) AS VARCHAR) AS HIGH, COALESCE(MAX(v) = {bound}, FALSE) AS SAME, "
        f"{bound} IS NOT NULL AS HELD, SUM(IFF(t = ?, 1, 0)) AS EXACT, COALESCE(MAX(v) <= {bound}, FALSE) AS BELOW "
        f"FROM (SELECT {typed} AS v, {quote_ident(staged)} AS t FROM {place.control(spec.staging_name)}) AS s",
        (high, high, high, high),
    )


def _true(value: Any) -> bool:
    return value is True or str(value).upper() == "TRUE"


def _unholdable_top(kind: Kind | None, staged: str | None, high: str, held: Any, exact: Any) -> bool:
    """`high` cannot be held by the target type, a staged row carries exactly its text, and the greatest
    value the type holds (`staged`, None when no row converts) lies below it: the exporter's own export
    whose top row the bad-values step sets aside."""
    if _true(held) or not int(exact or 0):
        return False
    if staged is None:
        return True
    if kind not in (Kind.INTEGER, Kind.NUMBER):  # only numbers are compared here (see the module docstring)
        return False
    try:
        return bool(sort_key(kind, staged) < sort_key(kind, high))
    except ContractError:
        return False


def check(session: Any, place: Place, spec: TableSpec, batch: Batch, row: tuple[Any, ...] | None = None) -> None:
    """Raise WindowMismatch when the batch has rows and its staged maximum of the watermark column is not
    its `window.high`. `row`: `staged_high`'s result when already read (loading.staged_checks)."""
    stmt = staged_high(place, spec, batch)
    if stmt is None or batch.rows == 0:
        return
    staged, same, held, exact, below = row if row is not None else run(session, stmt)[0]
    window = batch.first.window
    assert window.high is not None  # staged_high returned a statement
    if _true(same) or _unholdable_top(window_kind([batch.first]), staged, window.high, held, exact):
        return
    if batch.first.part is not None and _true(below):
        # a fan-out export's parts read snapshots taken after the plan read `high`: the row that held it
        # may have been updated (above high: the next window) or deleted before its part ran
        # (lambda_exporter.fan_out). No staged row may lie above high, which is what guards the watermark
        return
    raise WindowMismatch(
        f"{batch.label} of {spec.source}: the greatest {window.column} of its staged rows is {staged!r} but its "
        f"window.high is {window.high!r}; the exporter sets window.high to exactly that value, so the manifest was "
        "not written by it (or was changed). Nothing was merged and the watermark did not move; if the exporter "
        "did not write it, remove the file and CALL CORE.DISCARD_MANIFEST"
        f"('{batch.export_ids[0]}', '<reason>')"
    )
