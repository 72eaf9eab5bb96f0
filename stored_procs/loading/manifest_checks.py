"""Checks of a parsed manifest before it enters the ledger (issue 13, items 2 and 3): a window the load
can order, a file in its own table's folder, and the digest that tells two manifests of one export id
apart; and, when the load reads it, that it fits the table's configuration (`misfit`: mode, primary key,
window column). Pure functions: each returns why the manifest is refused (None: accepted) or raises
ContractError.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from stored_procs.spec import TableSpec
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, manifest_key
from sync_contract.types import Kind
from sync_contract.watermark import watermark_kind

DISCARD_HINT = "discard it (CALL CORE.DISCARD_MANIFEST with its EXPORT_ID in CORE.FAILURES and a reason)"

# PostgreSQL's integer types and their ranges ("Numeric Types": smallint, integer, bigint)
_INTEGER_BITS = {"smallint": 16, "int2": 16, "integer": 32, "int": 32, "int4": 32, "bigint": 64, "int8": 64}
_INTEGER_TEXT = re.compile(r"^-?[0-9]{1,20}$")
# numeric as PostgreSQL writes it: plain decimal notation, never an exponent (NaN and Infinity do not order)
_NUMERIC_TEXT = re.compile(r"^-?[0-9]{1,131072}(\.[0-9]{1,16383})?$")


def digest(manifest: Manifest) -> str:
    """sha256 (hex) of what the manifest makes the load do, as canonical JSON (sorted keys, no spaces): its
    table, mode, chunk, columns, window, format, files and row counts. Left out is what differs between two
    attempts of one export, which write the same export id and the same file keys: `created_at`,
    `exporter_version`, `strategy`, byte sizes (a file compressed again), `source` (a table rewritten
    meanwhile), `window.guard` (the late-row guard's bound, read anew by each attempt below the same
    `high`) and a fan-out part's own `chunk.part.snapshot_at`. So one export retried (a crash between its
    COPY into INBOX and the ledger, then a rerun), or one manifest copied twice, has one digest."""
    doc = manifest.to_dict()
    for volatile in ("created_at", "exporter_version", "strategy", "bytes", "source"):
        doc.pop(volatile)
    doc["window"].pop("guard")
    doc["chunk"].get("part", {}).pop("snapshot_at", None)
    doc["files"] = [{"key": f.key, "rows": f.rows} for f in manifest.files]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def text_digest(text: str) -> str:
    """sha256 (hex) of a document that does not parse as a manifest: of its text as stored."""
    return hashlib.sha256(text.encode()).hexdigest()


def refusal(manifest: Manifest, file_name: str | None) -> str | None:
    """Why intake quarantines the manifest instead of recording it (its window cannot be ordered, its file
    is out of place), or None."""
    try:
        check_orderable(manifest)
    except ContractError as err:
        return (
            f"export {manifest.export_id} of {manifest.schema}.{manifest.table} cannot be ordered: {err}. Nothing "
            "of it was loaded. It carries the exporter's signature, so the source holds such a watermark value "
            "(e.g. a timestamp 'infinity' or NaN as the greatest value: docs/CORRECTNESS.md, 'Not built yet'): "
            f"fix that row in the source, then {DISCARD_HINT}"
        )
    return misplaced(manifest, file_name)


def misplaced(manifest: Manifest, file_name: str | None) -> str | None:
    """Why the manifest's file is not where the exporter writes it: `manifests/<slug of its own table>/
    <its export id>.json` (sync_contract.manifest.manifest_key), or None. `file_name` is the file's stage
    path from COPY (METADATA$FILENAME), which may begin with the stage URL's own prefix; None for a document
    copied before INBOX recorded file names (an upgrade: named `unrecorded:<uuid>` by intake), which is
    accepted."""
    if file_name is None or file_name.startswith("unrecorded:"):
        return None
    expected = manifest_key(manifest.schema, manifest.table, manifest.export_id)
    if file_name == expected or file_name.endswith("/" + expected):
        return None
    return (
        f"manifest file {file_name!r} is not where export {manifest.export_id} of {manifest.schema}.{manifest.table} "
        f"belongs ({expected}): a manifest is taken in only from its own table's folder under its own export id. "
        f"Nothing of it was loaded; if the exporter did not write it, remove the file and {DISCARD_HINT}"
    )


def check_orderable(manifest: Manifest) -> None:
    """Raise ContractError unless the load can order the manifest's window: its watermark column is one of
    its columns, of a type a watermark may have (sync_contract.watermark.WATERMARK_KINDS), and `window.low`
    and `window.high` are values of that type as PostgreSQL writes them (an integer within the column's
    range, a plain decimal, an ISO timestamp with an offset exactly when the column has a time zone)."""
    window = manifest.window
    if manifest.mode not in ("incremental", "keys") or not window.column:
        return
    column = next((c for c in manifest.columns if c.name == window.column), None)
    if column is None:
        raise ContractError(f"window.column: {window.column!r} is not one of the manifest's columns")
    kind = watermark_kind(column.type, column.name)
    for name, value in (("window.low", window.low), ("window.high", window.high)):
        if value is not None and (why := _not_a_value(kind, column.type, value)):
            raise ContractError(f"{name}: {value[:80]!r} is not a value of watermark column {column.name!r} ({why})")
    if window.high is None and manifest.mode == "incremental":
        raise ContractError("window.high: an incremental export needs one (its watermark after loading)")


def _not_a_value(kind: Kind, pg_type: str, value: str) -> str | None:
    """Why `value` is not a value of a watermark column of `kind` (PostgreSQL type `pg_type`), or None."""
    if kind == Kind.INTEGER:
        bits = _INTEGER_BITS.get(pg_type.strip().lower(), 64)
        if not _INTEGER_TEXT.match(value) or not -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1):
            return f"an integer from {-(2 ** (bits - 1))} to {2 ** (bits - 1) - 1}"
        return None
    if kind == Kind.NUMBER:
        try:
            ok = bool(_NUMERIC_TEXT.match(value)) and Decimal(value).is_finite()
        except InvalidOperation:
            ok = False
        return None if ok else "a number in plain decimal notation"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return "an ISO 8601 timestamp, e.g. 2026-01-31 12:00:00.123456" + ("+00" if kind == Kind.TIMESTAMP_TZ else "")
    if (moment.tzinfo is not None) != (kind == Kind.TIMESTAMP_TZ):
        return "a timestamp with a UTC offset" if kind == Kind.TIMESTAMP_TZ else "a timestamp without a UTC offset"
    return None


# The manifest modes each configured mode loads (stored_procs.configuration.table_config.MODES): an
# incremental table gets its windows (a resync's export from the beginning and a backfill are windows
# too: `window.low` None, `window.backfill`) and, with delete detection on, key sets
# (stored_procs.orchestration.exports.export_event, `keys`); a full table gets snapshots only.
FITTING_MODES = {"incremental": ("incremental", "keys"), "full": ("full",)}


def misfit(manifest: Manifest, spec: TableSpec) -> str | None:
    """Why a signed manifest in `spec`'s folder does not fit the table's configuration, or None.

    The exporter writes what its event asks for, so whoever may invoke it can ask for another mode, key or
    window column than the table's (issue 13). Such an export can never load correctly: a MERGE on another
    key keeps two rows for one configured key value; a snapshot (`window.high` '<rows>:<fingerprint>') or a
    window over another column cannot be ordered with the table's watermark. The table's own exports
    carry its configuration and load; the message names both values and the fix. Checks:
    - mode: one of FITTING_MODES[spec.mode]; `keys` only with delete detection on;
    - primary key: the same columns as `spec.primary_key` (in any order: a MERGE on them is the same, and
      a scheduled event without `primary_key` gets the table's key in its index order);
    - window column: an incremental window or key set is over `spec.watermark_column`."""
    what = f"export {manifest.export_id} of {spec.source}"
    fix = (
        "Nothing of it was loaded and the watermark did not move; the table's own exports carry its "
        f"configuration and load. If nobody asked for this export, {DISCARD_HINT}"
    )
    fitting = FITTING_MODES.get(spec.mode, (spec.mode,))
    if manifest.mode not in fitting:
        return (
            f"mode: {what} is a {manifest.mode!r} export, but the table is configured as {spec.mode!r} (which loads "
            f"{' and '.join(repr(m) for m in fitting)} exports). {fix}; to change the mode, CALL CORE.CONFIGURE_TABLE"
        )
    if manifest.mode == "keys" and spec.delete_detection == "off":
        return (
            f"mode: {what} is a key set ('keys' export), but delete detection is off for the table, so no key set "
            f"applies to it. {fix}; to detect deletes, set delete_detection for the table"
        )
    if sorted(manifest.primary_key) != sorted(spec.primary_key):
        ours, theirs = ", ".join(spec.primary_key), ", ".join(manifest.primary_key)
        return (
            f"primary_key: {what} is keyed by ({theirs}), but the table's configured primary_key is ({ours}): merged "
            f"by ({theirs}), one ({ours}) value would keep two rows. {fix}; if the table's key really is ({theirs}), "
            f"set primary_key for it to that and resync it ({spec.resync_hint})"
        )
    if manifest.mode in ("incremental", "keys") and manifest.window.column != spec.watermark_column:
        return (
            f"window.column: {what} is windowed on {manifest.window.column!r}, but the table's watermark column "
            f"is {spec.watermark_column!r}. {fix}"
        )
    return None
