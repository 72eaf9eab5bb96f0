"""One batch of a table's load: the manifests of one export, what they count, and the checks of its
staged rows (COPY file by file against the manifest; primary keys unique within the export)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stored_procs import ledger, run_records, sql
from stored_procs.loading import key_checks
from stored_procs.loading.errors import LoadError as LoadError  # re-exported: raised and caught as batch.LoadError
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import run
from sync_contract.manifest import Manifest
from sync_contract.types import Kind
from sync_contract.watermark import watermark_kind

SHOWN_KEYS = 5  # repeated key values named in an error


@dataclass
class Counts:
    loaded: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    quarantined: int = 0  # rows set aside in QUARANTINE: values the target cannot hold

    def add(self, other: Counts) -> None:
        self.loaded += other.loaded
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted
        self.quarantined += other.quarantined

    def as_dict(self) -> dict[str, int]:
        return {
            "loaded": self.loaded,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
        }


@dataclass(frozen=True)
class Batch:
    """The manifests of one export: its chunks (usually one), sharing one window and one snapshot."""

    entries: tuple[ledger.LedgerEntry, ...]
    manifests: tuple[Manifest, ...]  # by chunk index

    @property
    def first(self) -> Manifest:
        return self.manifests[0]

    @property
    def export_ids(self) -> list[str]:
        return [e.export_id for e in self.entries]

    @property
    def label(self) -> str:
        ids = self.export_ids
        return f"export {ids[0]}" if len(ids) == 1 else f"export {ids[0]} (+{len(ids) - 1} chunks)"

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.manifests)

    @property
    def attempts(self) -> int:
        return max(e.attempts for e in self.entries)


def window_kind(manifests: list[Manifest]) -> Kind | None:
    """The watermark's kind, from the first incremental manifest that has one; None otherwise."""
    for m in manifests:
        if m.mode == "incremental" and m.window.column:
            column = next(c for c in m.columns if c.name == m.window.column)
            return watermark_kind(column.type, column.name)
    return None


def group_batches(parsed: list[tuple[ledger.LedgerEntry, Manifest]]) -> tuple[list[Batch], list[Batch]]:
    """Manifests grouped into the exports they belong to: (complete batches, batches missing chunks).

    A chunked export's chunks share their window and their snapshot time; chunks of two snapshots
    never form one batch, since block ranges differ between snapshots."""
    groups: dict[tuple[Any, ...], dict[int, tuple[ledger.LedgerEntry, Manifest]]] = {}
    for entry, m in parsed:
        key = (m.mode, m.window.low, m.window.high, m.chunk_count, m.created_at if m.chunk_count > 1 else None)
        groups.setdefault(key, {})[m.chunk_index] = (entry, m)
    complete: list[Batch] = []
    incomplete: list[Batch] = []
    for key, chunks in groups.items():
        ordered = [chunks[i] for i in sorted(chunks)]
        batch = Batch(tuple(e for e, _ in ordered), tuple(m for _, m in ordered))
        (complete if len(chunks) == key[3] else incomplete).append(batch)
    return complete, incomplete


class KeyNotUnique(LoadError):
    """The configured primary key repeats inside one export: it is not unique in the source (final)."""


def check_unique_keys(
    session: Any, place: Place, spec: TableSpec, batch: Batch, row: tuple[Any, ...] | None = None
) -> tuple[Any, Any] | None:
    """One export is one snapshot, where every row appears once: a key value that repeats in it is not
    unique in the source. Merging would keep one of its rows and lose the others, so the batch fails.
    Returns the batch's first-key range that bounds the MERGE (key_checks.key_range), or None. `row`:
    `key_checks.duplicate_keys`' result when already read (loading.staged_checks)."""
    manifest = batch.first
    keys, surplus, lo, hi = (
        row if row is not None else run(session, key_checks.duplicate_keys(place, spec, manifest))[0]
    )
    keys, surplus = int(keys), int(surplus)
    if not keys:
        return key_checks.key_range(spec, manifest, lo, hi)
    names = manifest.primary_key
    examples = ", ".join(
        f"{' '.join(f'{n}={v}' for n, v in zip(names, row[:-1], strict=True))} ({row[-1]} rows)"
        for row in run(session, key_checks.repeated_keys(place, spec, manifest, SHOWN_KEYS))
    )
    raise KeyNotUnique(
        f"{batch.label} of {spec.source}: the primary key ({', '.join(names)}) is not unique in the source: "
        f"{keys} key values appear more than once in one snapshot ({surplus} rows more than one per key), e.g. "
        f"{examples}. Nothing was merged and the watermark did not move. Set primary_key for the table to "
        f"columns that are unique in the source (its PRIMARY KEY, or UNIQUE NOT NULL columns), then resync it "
        f"({spec.resync_hint})"
    )


def _clean(result: dict[str, Any], keys: list[str], expected: dict[str, int | None]) -> bool:
    """A COPY result row of a manifest file, LOADED with no error and the rows its manifest entry says."""
    key = next((k for k in keys if str(result["file"]).endswith(k)), None)
    return (
        key is not None
        and result["status"] == "LOADED"
        and not result.get("errors_seen")
        and (expected[key] is None or int(result["rows_loaded"]) == expected[key])
    )


def copy_files(session: Any, place: Place, spec: TableSpec, manifest: Manifest) -> int:
    """COPY the manifest's files into staging (at most MAX_FILES_PER_COPY per statement); the rows loaded.
    LOAD_FILES gets the COPY's result rows when a file did not load cleanly (every row of that COPY, one
    INSERT); a clean COPY's counts are the manifest's, recorded with it in MANIFESTS, and Snowflake keeps
    every COPY's per-file result in LOAD_HISTORY / COPY_HISTORY. Raises LoadError naming the file."""
    expected = {f.key: f.rows for f in manifest.files}
    loaded = 0
    keys = [f.key for f in manifest.files]
    for start in range(0, len(keys), sql.MAX_FILES_PER_COPY):
        batch = keys[start : start + sql.MAX_FILES_PER_COPY]
        try:
            rows = run(session, sql.copy_data(place, spec, batch, manifest.format.compression))
        except Exception as err:  # a file missing or unreadable: Snowflake names it in the error
            raise LoadError(
                f"export {manifest.export_id} of {spec.source}: COPY of its {len(batch)} files failed ({err}); "
                "nothing was merged"
            ) from err
        results = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in rows]
        results = [{k.lower(): v for k, v in r.items()} for r in results]
        if not all(_clean(r, batch, expected) for r in results):  # a clean COPY is in MANIFESTS' counts
            run_records.record_files(session, place, manifest.export_id, results)
        for r in results:
            key = next((k for k in batch if str(r["file"]).endswith(k)), None)
            if r["status"] != "LOADED" or key is None:
                raise LoadError(
                    f"export {manifest.export_id} of {spec.source}: file {r['file']} was {r['status']} "
                    f"({r.get('first_error') or 'not one of the manifest files'}); nothing was merged"
                )
            if expected[key] is not None and int(r["rows_loaded"]) != expected[key]:
                raise LoadError(
                    f"export {manifest.export_id} of {spec.source}: file {key} loaded {r['rows_loaded']} rows, "
                    f"its manifest entry says {expected[key]}; nothing was merged"
                )
            loaded += int(r["rows_loaded"])
    return loaded
