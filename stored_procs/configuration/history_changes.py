"""Which option changes a history table (`history = true`, stored_procs.loading.history) cannot take in
place once its target exists (docs/CUSTOMIZATION.md "History", "Changing a history table").

A table without history restarts on such a change: its export from the beginning replaces the target in
one swap (configuration.table_config.save). A history table is never swapped: the export from the
beginning is merged into the versions already there, which keep the names, key and watermark they were
loaded with. So, for a history table whose target stays and exists, these are refused (nothing saved;
the fix: a new `target` at the same time, which restarts the table into a new history table, or the
option set back):
- `history` turned on or off: rows cannot become versions, or versions rows (loading.history.refusal);
- `rename` giving a loaded column another target name: schema drift would add the new name as NULL in
  every existing version, so every key would get a second version differing only by the name; a renamed
  key column would match no current version (every key a second current version, the old ones current
  forever); a renamed watermark column would make `newer than the current version` never true (every
  later change dropped, gone keys never closed);
- `primary_key` of other columns: versions are matched by key; a key of other columns can match several
  current versions of one (a MERGE that updates a row twice) or split one into several;
- `watermark_column` (or `mode = "incremental"`) naming a column the history table lacks: NULL in every
  existing version, so, as for a renamed watermark, every later change would be dropped.
Fine in place (they apply to the next versions): `transform`, `type_overrides`, a `watermark_column` the
table has (valid-from then comes from it), `mode` (valid-from becomes the load time, or the watermark),
every other option.
"""

from __future__ import annotations

from typing import Any

from stored_procs import sql
from stored_procs.configuration import app_config
from stored_procs.loading import history
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import run


def refusal(
    session: Any, place: Place, before: TableSpec, after: TableSpec, database: str | None = None
) -> tuple[str, str] | None:
    """(option, why) when `after` cannot replace `before` in place (module docstring); None when it can.
    `database`: the target database (None: the app's setting, SET_TARGET_DATABASE; unset, nothing can
    exist yet). Reads the target's columns (one statement) only for a history table whose target stays."""
    if not (before.history or after.history) or before.target(".") != after.target("."):
        return None
    if not _might_refuse(before, after):
        return None
    database = database or app_config.read(session, place).get(app_config.TARGET_DATABASE)
    if not database:
        return None
    existing = {r[0] for r in run(session, sql.existing_columns(after, database))}
    if not existing:
        return None
    if before.history != after.history:
        why = history.refusal(after, existing)
        return ("history", why) if why else None
    return changed(before, after, existing)


def _might_refuse(before: TableSpec, after: TableSpec) -> bool:
    return (
        before.history != after.history
        or set(before.primary_key) != set(after.primary_key)
        or before.watermark_column != after.watermark_column
        or any(before.column(s) != after.column(s) for s in {*before.rename, *after.rename})
    )


def changed(before: TableSpec, after: TableSpec, existing: set[str]) -> tuple[str, str] | None:
    """(option, why) of the first change the history table whose columns are `existing` cannot take
    (module docstring); None: none. Pure."""
    target = f"{after.target_schema}.{after.target_table}"

    def refused(option: str, why: str) -> tuple[str, str]:
        return option, (
            f"{after.source}: {why}. Nothing was saved: give the table a new target at the same time "
            f"(target = ..., which restarts it and fills a new history table from the beginning; {target} stays "
            f"as it is), or set {option} back"
        )

    moved = sorted(
        (s, before.column(s), after.column(s))
        for s in {*before.rename, *after.rename}
        if before.column(s) != after.column(s) and before.column(s) in existing
    )
    if moved:
        names = ", ".join(f"{s}: {old} -> {new}" for s, old, new in moved)
        return refused(
            "rename",
            f"rename changes the target column of loaded columns of the history table {target} ({names}), whose "
            "versions keep them under their old names: a history table is merged, never replaced, so the new "
            "column would be NULL in every existing version (a renamed key or watermark column would give every "
            "key a second current version and drop later changes)",
        )
    if set(before.primary_key) != set(after.primary_key):
        return refused(
            "primary_key",
            f"the versions of the history table {target} are keyed by ({', '.join(before.primary_key)}): a key of "
            f"other columns ({', '.join(after.primary_key)}) would match several current versions of one key, or "
            "none",
        )
    wm = after.watermark_column
    if wm and wm != before.watermark_column and after.column(wm) not in existing:
        return refused(
            "watermark_column",
            f"the history table {target} has no column {after.column(wm)}: it would be NULL in every existing "
            "version, and a version is replaced only by a row not older than it by watermark, so later changes "
            "would be dropped",
        )
    return None
