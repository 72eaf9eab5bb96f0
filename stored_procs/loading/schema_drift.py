"""Schema drift: how a batch's columns differ from the table's newest loaded export, and the target
changes that follow (renames, new columns, widenings) before any row is merged.

A rename is told apart from a drop plus an add by PostgreSQL's attribute number (the manifest's
`ordinal`); columns whose existing rows a batch cannot fill (added with a default, re-added, not exported
before, rewritten) are named by `sync_contract.column_changes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from stored_procs import ledger, sql
from stored_procs.configuration import access, renames
from stored_procs.loading import history, overrides
from stored_procs.loading.batch import Batch
from stored_procs.loading.errors import ConfigRefused
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import run
from sync_contract.column_changes import compare
from sync_contract.manifest import Manifest, parse_manifest_json

# what a table's load read before its first batch (loading.table_ledger): the target's columns, the newest
# loaded export's (DOC, WINDOW_HIGH), and, for a history table, its current view's columns (None: not read)
Known = tuple[set[str], tuple[str, str | None] | None, set[str] | None]


class SchemaChangeError(RuntimeError):
    """A column changed in a way the target cannot absorb: retrying cannot help (quarantined)."""


def _ensure_target(
    session: Any,
    place: Place,
    database: str,
    spec: TableSpec,
    columns: list[tuple[str, Any]],
    widen: list[tuple[str, Any]],
    existing: set[str],
    renamed: bool = False,
    view: set[str] | None = None,
) -> list[str]:
    """Create the target (none yet: `existing` empty), or add the columns it lacks and widen those that
    grew; with soft deletes, the _DELETED flags too; with history (loading.history), its columns on a
    new target, and the current view created or rebuilt when the columns changed (`renamed`: some were)
    or differ from the view's (`view`: its columns, empty when it is missing: a load that stopped between
    the target and its view, a view the app could not create then, one dropped by hand). A new
    target is readable by the deployment's readers (stored_procs.configuration.access); added and
    widened columns keep the grants. Returns notes (a reader grant the schema's owner must make)."""
    notes: list[str] = []
    # history turned on or off for a loaded target
    if why := history.refusal(spec, existing, {name for name, _ in columns}):
        raise ConfigRefused(why)  # the configuration's history setting: retried once it is fixed
    altered = not existing
    if not existing:
        run(session, sql.create_target_schema(spec, database))
        run(session, sql.create_target(spec, database, [*columns, *(history.COLUMNS if spec.history else ())]))
        notes += access.let_readers_select(session, place, spec.target(database))
        existing = {name for name, _ in columns}
    for name, mapping in columns:
        if name not in existing:
            run(session, sql.add_column(spec, database, name, mapping))
            altered = True
    for name, mapping in widen:
        if name in existing:
            run(session, sql.widen_column(spec, database, name, mapping))
            altered = True
    stale = view is not None and view != set(history.shown(existing))
    if spec.history and (altered or renamed or stale):  # the current view lists the columns: built with them
        notes += history.ensure_view(session, place, spec, database)
    if spec.delete_detection == "soft_delete":
        for name, mapping in sql.SOFT_DELETE_COLUMNS:
            if name not in existing:
                run(session, sql.add_column(spec, database, name, mapping))
    return notes


@dataclass(frozen=True)
class Drift:
    """How a batch's columns differ from those of the table's newest loaded export."""

    widen: list[tuple[str, Any]] = field(default_factory=list)  # target columns to widen first
    notes: list[str] = field(default_factory=list)
    renamed: tuple[tuple[str, str], ...] = ()  # (old, new) target column names
    backfill: str | None = None  # columns whose existing values the batch does not bring


def prepare_target(
    session: Any,
    place: Place,
    database: str,
    spec: TableSpec,
    batch: Batch,
    replacing: bool,
    known: Known | None = None,
) -> list[str]:
    """Bring the target in line with the batch's columns before any row is merged (renames, new and
    widened columns; the table itself on a first load) and return the notes for RUNS. Refused
    (SchemaChangeError) for a batch that merges into a table with loaded exports when the batch lacks a
    backfill it needs, or the target table is gone (dropped by hand): merging would leave rows without
    their values, or create the target with one window's rows. A resync fixes both."""
    # `known` (Known): what the load read before its first batch, in its one ledger statement
    drift = changes(session, place, spec, batch.first, *(known[1:2] if known else ()))
    if known is not None:
        existing, view = known[0], known[2]
    elif spec.history:  # the target's and its current view's columns, one statement
        existing, view = history.read_columns(session, spec, database)
    else:
        existing, view = {r[0] for r in run(session, sql.existing_columns(spec, database))}, None
    if found := renames.unmatched(spec.rename, [c.name for c in batch.first.columns], existing):
        raise ConfigRefused(f"rename.{found[0]} of {spec.source}: {found[1]}. Nothing of the batch was loaded")
    if drift is not None and not replacing:
        if drift.backfill:
            raise SchemaChangeError(
                f"{batch.label} of {spec.source}: {drift.backfill}, but the export carries only the rows whose "
                "watermark moved (an exporter that could not compare with its previous export: its state/ pointer "
                f"gone, or an older version). Nothing was merged: resync the table ({spec.resync_hint}); its "
                "export from the beginning replaces the target with every row's values"
            )
        if not existing:
            raise SchemaChangeError(
                f"{batch.label} of {spec.source}: the target table {spec.target_schema}.{spec.target_table} does not "
                "exist, but earlier exports were loaded into it (it was dropped?). Nothing was merged: resync the "
                f"table ({spec.resync_hint}) to create it again with every row"
            )
    renamed = drift.renamed if drift is not None else ()
    existing = _rename_columns(session, database, spec, batch.label, renamed, existing)
    columns = sql.target_columns(spec, batch.first)
    granted = _ensure_target(
        session, place, database, spec, columns, drift.widen if drift else [], existing, bool(renamed), view
    )
    return [*(drift.notes if drift is not None else []), *granted]


_UNREAD: Any = object()


def changes(session: Any, place: Place, spec: TableSpec, manifest: Manifest, newest: Any = _UNREAD) -> Drift | None:
    """The manifest's columns against those of the table's newest loaded export (None: nothing loaded
    yet): renames (by PostgreSQL's attribute number), columns to widen first, columns whose existing
    values only a backfill brings (sync_contract.column_changes), and notes. An incompatible change
    raises SchemaChangeError."""
    if newest is _UNREAD:
        newest = ledger.newest_loaded(session, place, spec)
    if newest is None:
        return None
    before = parse_manifest_json(newest[0])
    changes = compare(before.columns, before.source, manifest.columns, manifest.source)
    if why := renames.followed(spec.rename, changes.renamed):  # fixed in the configuration: retried until then
        raise ConfigRefused(f"export {manifest.export_id} of {spec.source}: {why}")
    renamed = tuple((spec.column(a), spec.column(b)) for a, b in changes.renamed if spec.column(a) != spec.column(b))
    # the loaded export with the overrides of the columns it has (one for a column added since names none of its)
    had = {c.name for c in before.columns}
    old = dict(sql.target_columns(replace(spec, type_overrides=overrides.of_columns(spec, had)), before))
    old_source = {spec.column(c.name): c.source_type for c in before.columns}
    for a, b in renamed:
        old[b], old_source[b] = old.pop(a), old_source.pop(a)
    new_source = {spec.column(c.name): c.source_type for c in manifest.columns}
    new = sql.target_columns(spec, manifest)
    widen, changed = overrides.plan({n: m.snowflake_type for n, m in old.items()}, new)  # new columns: _ensure_target
    refused = [f"{n} from {old_source[n]} ({have}) to {new_source[n]} ({m.snowflake_type})" for n, have, m in changed]
    if refused:
        raise SchemaChangeError(
            f"export {manifest.export_id} of {spec.source}: column types changed in a way the target cannot hold "
            f"exactly: {'; '.join(refused)}. Nothing was merged and the table waits: ALTER the target column yourself "
            f"and retry the export (CALL CORE.RETRY_MANIFEST('{manifest.export_id}'), or aurora-sync retry "
            f"{manifest.export_id} --config sync.toml), or drop the target table and resync the table (CALL "
            "CORE.RESYNC_TABLE, aurora-sync resync), which creates it again with the new types and every row"
        )
    notes = [
        f"column {a} renamed to {b} in the source (same attribute number): renamed in the target" for a, b in renamed
    ]
    dropped = sorted(set(old) - {name for name, _ in new})
    if dropped:
        notes.append(
            f"columns no longer exported, kept in the target (unchanged by merges, NULL in new rows): {dropped}"
        )
    if manifest.window.backfill:
        notes.append(f"backfill: every row exported again ({manifest.window.backfill})")
    return Drift(widen, notes, renamed, changes.backfill_reason)


def _rename_columns(
    session: Any, database: str, spec: TableSpec, label: str, renamed: tuple[tuple[str, str], ...], existing: set[str]
) -> set[str]:
    """Apply source renames to the target; a rename already applied (a rerun) is skipped. Returns the
    target's columns after them."""
    for old, new in renamed:
        if old in existing and new in existing:
            raise SchemaChangeError(
                f"{label} of {spec.source}: column {old} was renamed to {new} in the source, but the target "
                f"already has a column {new} (one no longer exported?). Nothing was merged: drop or rename "
                f"{spec.target_schema}.{spec.target_table}.{new}, then retry the export (CALL CORE.RETRY_MANIFEST, "
                "or aurora-sync retry <export id> --config sync.toml)"
            )
        if old in existing:
            run(session, sql.rename_column(spec, database, old, new))
            existing = (existing - {old}) | {new}
    return existing
