"""Schema changes between two exports of one table, and which of them change existing values without
moving the watermark (so loading only the changed rows would leave the others wrong).

PostgreSQL numbers a table's columns (`pg_attribute.attnum`, the manifest's `ordinal`): a rename keeps
the number, a dropped column's number is never used again, and a column added later gets a number above
every earlier one ("pg_attribute" in the PostgreSQL catalog documentation). So, comparing an export with
the one before it:

- same number, another name: a rename (the target column is renamed; values stay), unless the new name
  was another column's (names swapped): then every value is loaded again by name;
- a number above the earlier table's highest: an added column. Its existing rows hold a value when
  PostgreSQL filled them (`ADD COLUMN ... DEFAULT`, `GENERATED ALWAYS AS (...) STORED`, an identity):
  those rows need a backfill; without any of these they are NULL, as in the target;
- a number at or below it, not exported before: a column the export did not carry (a `columns` list):
  its existing values were never loaded;
- a name that comes back under a new number: dropped and added again; the target column holds the old
  column's values;
- a rewrite of the table (`pg_relation_filenode` changed: `ALTER COLUMN ... TYPE ... USING`, a volatile
  DEFAULT, VACUUM FULL, CLUSTER, TRUNCATE, pg_repack): any value may have changed; for a relation without
  storage (partitioned, a view) a type change, and a view's changed definition;
- another relation id (`pg_class.oid`): the table was dropped and created again, so attribute numbers
  say nothing; every value is loaded again.

Used by the exporter (it then exports the table from the beginning: a backfill) and by the loader (a
batch that should have been a backfill restarts the table, as a resync).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sync_contract.manifest import Column, SourceState


@dataclass(frozen=True)
class ColumnChanges:
    renamed: tuple[tuple[str, str], ...] = ()  # (old name, new name), by attribute number
    backfill: tuple[str, ...] = ()  # one reason per column whose existing values were never loaded

    @property
    def backfill_reason(self) -> str | None:
        return "; ".join(self.backfill) or None


def compare(
    before: Sequence[Column], before_source: SourceState, after: Sequence[Column], after_source: SourceState
) -> ColumnChanges:
    """How the columns of one table changed from export `before` to export `after`."""
    if _differ(before_source.relation_id, after_source.relation_id):
        # dropped and created again (a copy-and-swap migration, a restore): attribute numbers changed meaning
        return ColumnChanges(backfill=("the table was created again (another relation id): every value again",))
    by_ordinal = {c.ordinal: c for c in before}
    names_before = {c.name: c for c in before}
    highest = before_source.max_ordinal
    if highest is None:  # an older manifest: its own columns are all we know of the table
        highest = max((c.ordinal for c in before), default=0)
    backfill: list[str] = []
    if _differ(before_source.filenode, after_source.filenode):
        backfill.append(
            "PostgreSQL rewrote the table (ALTER COLUMN ... TYPE ... USING, a volatile DEFAULT, VACUUM FULL, "
            "CLUSTER, TRUNCATE, pg_repack): values may have changed without moving the watermark"
        )
    if _differ(before_source.definition, after_source.definition):
        backfill.append(
            "the view's definition or the partitioned table's partitions changed (attached, detached, rewritten): "
            "values may have changed without moving the watermark"
        )
    # no storage file to compare (a partitioned table, a view): any type change may have rewritten values
    unknown_storage = None in (before_source.filenode, after_source.filenode)
    renamed: list[tuple[str, str]] = []
    for column in after:
        old = by_ordinal.get(column.ordinal)
        if old is not None:
            if old.name != column.name and column.name in names_before:  # swapped names, or one reused
                backfill.append(
                    f"column {old.name!r} was renamed to {column.name!r}, a name another column had: every value "
                    "is loaded again by name"
                )
            elif old.name != column.name:
                renamed.append((old.name, column.name))
            if unknown_storage and old.source_type != column.source_type:
                backfill.append(
                    f"column {column.name!r} changed type from {old.source_type} to {column.source_type}, which "
                    "may have rewritten its values"
                )
        elif column.ordinal <= highest:
            backfill.append(f"column {column.name!r} was not exported before: its existing values were never loaded")
        elif column.name in names_before:
            backfill.append(
                f"column {column.name!r} was dropped and added again: the target holds the old column's values"
            )
        elif column.fills_existing_rows is not False:
            backfill.append(
                f"column {column.name!r} was added with a value for existing rows (a DEFAULT, GENERATED or "
                "identity column)"
            )
    return ColumnChanges(tuple(renamed), tuple(backfill))


def _differ(a: object, b: object) -> bool:
    """Both known, and not equal."""
    return a is not None and b is not None and a != b
