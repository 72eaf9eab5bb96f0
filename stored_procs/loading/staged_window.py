"""The staged rows of an incremental batch against its window (issue 13, item 3): the greatest staged
value of the watermark column must equal `window.high`.

The exporter takes `window.high` as the greatest watermark value of the rows it exports (within the same
snapshot: lambda_exporter.query.window_high), so a batch with rows whose staged maximum differs was not
written by it: a `window.high` set to the far future would move the watermark past rows never exported
(each later export starts above it: silent, permanent loss). Checked after COPY into staging, before any
MERGE; a mismatch is final (QUARANTINED), the target and the watermark untouched. Values are compared as
the column's type in Snowflake (a timestamp with an offset as an instant, '1.50' equal to '1.5'), never as
text.
"""

from __future__ import annotations

from typing import Any

from stored_procs import sql
from stored_procs.loading.batch import Batch, LoadError
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, target_name


class WindowMismatch(LoadError):
    """The staged rows' greatest watermark is not the manifest's `window.high` (final)."""


def staged_high(place: Place, spec: TableSpec, batch: Batch) -> Stmt | None:
    """(HIGH as VARCHAR, SAME: TRUE when it equals the bound `window.high` converted to the column's type)
    of the staged batch; None when there is nothing to check (not incremental, no window column)."""
    manifest = batch.first
    column, high = manifest.window.column, manifest.window.high
    if manifest.mode != "incremental" or not column or high is None:
        return None
    columns = sql.target_columns(spec, manifest)
    name = target_name(column)
    staged, mapping = next(
        (stg, m) for stg, (n, m) in zip(sql.staging_columns(len(columns)), columns, strict=True) if n == name
    )
    typed = sql.try_cast_expression(quote_ident(staged), mapping)
    bound = sql.text_as("?", mapping, safe=True)
    return Stmt(
        f"SELECT CAST(MAX(v) AS VARCHAR) AS HIGH, COALESCE(MAX(v) = {bound}, FALSE) AS SAME "
        f"FROM (SELECT {typed} AS v FROM {place.control(spec.staging_name)}) AS s",
        (high,),
    )


def check(session: Any, place: Place, spec: TableSpec, batch: Batch) -> None:
    """Raise WindowMismatch when the batch has rows and its staged maximum of the watermark column is not
    its `window.high`."""
    stmt = staged_high(place, spec, batch)
    if stmt is None or batch.rows == 0:
        return
    staged, same = run(session, stmt)[0]
    if same is True or str(same).upper() == "TRUE":
        return
    window = batch.first.window
    raise WindowMismatch(
        f"{batch.label} of {spec.source}: the greatest {window.column} of its staged rows is {staged!r} but its "
        f"window.high is {window.high!r}; the exporter sets window.high to exactly that value, so the manifest was "
        "not written by it (or was changed). Nothing was merged and the watermark did not move; if the exporter "
        "did not write it, remove the file and CALL CORE.DISCARD_MANIFEST"
        f"('{batch.export_ids[0]}', '<reason>')"
    )
