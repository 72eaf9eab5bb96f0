"""The rules of `rename` (docs/CUSTOMIZATION.md "Rename"): which target column names a table's renames
may take. Pure, and importing nothing of the load path (stored_procs.sql calls `clash` itself).

A rename that makes two exported columns one target column would merge both into it, and one's values
would silently overwrite the other's, so names compare as Snowflake may resolve them
(`sync_contract.identifiers.collision_key`, the rule that keeps two tables out of one target). Refused:
- two renames onto one target column (configuration.customization.parse);
- a rename onto a column the sync adds itself (`SYNC_COLUMNS`: the row number of a batch, soft deletes'
  flags, history's validity columns; refused whatever the table's options, as they may change) or onto a
  keyword Snowflake refuses as a column name even double-quoted (RESERVED_COLUMN_NAMES);
- a rename onto the name another column keeps (its default, upper-cased name): checked when configured
  against the columns known then (primary key, watermark column, sync.toml `columns`), and at load against
  the export's columns (`clash`, from stored_procs.sql.target_columns);
- a rename of a column the table does not have (a typo would load the column under its default name):
  at load, against the export's columns, unless the target already has the renamed column (a column the
  source dropped after it was loaded: kept in the target, like any dropped column) (`unmatched`);
- a column renamed in the source (same attribute number, stored_procs.loading.schema_drift) whose old name
  has a rename and whose new name has none: the target column would silently take the default name of the
  new one; the batch fails closed until the rename names the new column (`followed`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from stored_procs.configuration.suggest import did_you_mean
from sync_contract.identifiers import RESERVED_COLUMN_NAMES, collision_key, target_name

# the columns the sync writes itself, and what each is; stored_procs.sql (ROW_NUMBER_COLUMN,
# SOFT_DELETE_COLUMNS) names the same columns. HISTORY_COLUMNS is the one spelling of a history table's
# columns: stored_procs.loading.history and stored_procs.sql import it
HISTORY_COLUMNS = ("_VALID_FROM", "_VALID_TO", "_IS_CURRENT")
# Every name the load's SQL gives a column of its own (the row number of a batch, a full-mode MERGE's gone
# flag, a transform's slot, history's merge columns, staged checks' and reconciliation's key aliases beside
# the row's columns) starts with this prefix, and no column of a replicated table may (`internal`): a
# source column, a rename target, a transform key named so would meet an internal column of the same name
# in one SELECT and silently take its values. Compared in any case (collision_key).
RESERVED_PREFIX = "_AURORA_SYNC_"
SYNC_COLUMNS = {
    "_AURORA_SYNC_RN": "the row number of a batch",
    "_DELETED": "soft deletes' flag",
    "_DELETED_AT": "soft deletes' time",
    **{name: "a history table's validity column" for name in HISTORY_COLUMNS},
}


def internal(name: str) -> bool:
    """Whether `name` starts with RESERVED_PREFIX in any case (`_aurora_sync_t0`, `"_Aurora_Sync_X"`)."""
    return collision_key(name).startswith(collision_key(RESERVED_PREFIX))


def internal_refusal(names: Iterable[str], what: str) -> str | None:
    """Why columns `names` (target names) cannot be replicated as they are: each under RESERVED_PREFIX is
    named, with the fix. None: no such name."""
    if not (taken := sorted({n for n in names if internal(n)})):
        return None
    return (
        f"{what} {', '.join(repr(n) for n in taken)} start(s) with {RESERVED_PREFIX}, the prefix of the columns "
        "the sync's statements use themselves (in any case): the values would mix with an internal column's. "
        f'Rename it (rename = {{ {taken[0].lower()} = "OTHER_NAME" }}) or leave it out with `columns`'
    )


def refused_target(target: str) -> str | None:
    """Why no column may be renamed to `target` whatever the table (None: it may)."""
    if not target.strip():
        return f"{target!r} is blank: a column name needs a visible character"
    key = collision_key(target)
    for name, what in SYNC_COLUMNS.items():
        if key == collision_key(name):
            return f"{target!r} is {name}, a column the sync adds itself ({what}); choose another name"
    if internal(target):
        return (
            f"{target!r} starts with {RESERVED_PREFIX}, the prefix of the columns the sync's statements use "
            "themselves (in any case); choose another name"
        )
    if key in {collision_key(n) for n in RESERVED_COLUMN_NAMES}:
        return (
            f"{target!r} is a keyword Snowflake refuses as a column name even double-quoted "
            f"({', '.join(sorted(RESERVED_COLUMN_NAMES))}: Snowflake's 'Reserved & limited keywords'); "
            "choose another name"
        )
    return None


def clash(rename: Mapping[str, str], columns: Iterable[str]) -> tuple[str, str] | None:
    """(source column, why) of the first rename onto the target name another of `columns` (source names)
    keeps, i.e. is not renamed itself (None: no such rename). The fix: rename that column too, or choose
    another name."""
    kept = {collision_key(target_name(c)): c for c in columns if c not in rename}
    for source, target in rename.items():
        other = kept.get(collision_key(target))
        if other is not None and other != source:
            return source, (
                f"{source!r} is renamed to {target!r}, but column {other!r} is {target_name(other)!r} in the target: "
                f"their values would mix in one column. Choose another name, or rename {other!r} too "
                f'(rename = {{ {source} = "{target}", {other} = "<another name>" }})'
            )
    return None


def unmatched(rename: Mapping[str, str], columns: Collection[str], existing: Collection[str]) -> tuple[str, str] | None:
    """(source column, why) of the first rename of a column not among `columns` (the export's source names)
    whose target column is not in `existing` either (the target's columns: a column loaded before and dropped
    in the source since stays there). None: every rename names a column."""
    present = set(existing)
    for source, target in rename.items():
        if source not in columns and target not in present:
            hint = did_you_mean(source, columns)
            return source, (
                f"renames column {source!r}, which the table does not have{hint}; its columns are "
                f"{', '.join(sorted(columns))}. Name an exported column, or remove the entry"
            )
    return None


def followed(rename: Mapping[str, str], source_renames: Iterable[tuple[str, str]]) -> str | None:
    """Why a source rename (old, new) of a column cannot be followed by the target (None: it can): the old
    name is renamed (e.g. to EMAIL) and the new one is not, so the target column EMAIL would become the new
    column's default name, behind the configuration's back."""
    for old, new in source_renames:
        if old in rename and new not in rename:
            return (
                f"column {old!r} was renamed to {new!r} in the source, but rename.{old} names the old column "
                f"(target column {rename[old]!r}). Nothing was merged: set rename.{new} = {rename[old]!r} in its "
                f"place to keep the target column (or remove rename.{old} for the default name "
                f"{target_name(new)!r}); the changed rename restarts the table"
            )
    return None
