"""The manifest contract, version 1 (DESIGN.md section 3; JSON Schema in docs/manifest.schema.json).

A manifest is written after every data file of an export exists; its presence is the commit marker.
`parse_manifest` validates a decoded document and names the first offending field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sync_contract import MANIFEST_VERSION
from sync_contract.errors import ManifestError
from sync_contract.identifiers import slug

MODES = ("incremental", "full", "keys")
STRATEGIES = ("copy", "aws_s3")
COMPRESSIONS = ("gzip", "none")
# how the window's high bound was chosen
BOUNDS = ("max_watermark", "max_watermark_below_open_transactions", "snapshot_fingerprint")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # normalised PostgreSQL type the mapping uses (domains resolved, enums as text)
    source_type: str  # the declared type as format_type() prints it
    nullable: bool
    ordinal: int  # PostgreSQL's attribute number: stable across renames, never reused after a drop
    primary_key_position: int | None = None
    # PostgreSQL gave existing rows a value when the column was added (a DEFAULT, GENERATED ... STORED or
    # an identity): loading only changed rows would leave the others NULL. None: not known (older exporter)
    fills_existing_rows: bool | None = None


@dataclass(frozen=True)
class Window:
    column: str | None
    low: str | None  # exclusive
    high: str | None  # inclusive
    bound: str
    guard: str | None = None  # with the late-row guard: high stayed below this (oldest open transaction)
    lookback: str | None = None  # rows this far below `low` were exported again (late commits)
    # why an incremental export starts from the beginning although a `low` was asked for: columns whose
    # existing values changed without moving the watermark (sync_contract.column_changes)
    backfill: str | None = None


@dataclass(frozen=True)
class SourceState:
    """What the exporter saw of the source table itself, to tell schema changes apart between exports."""

    max_ordinal: int | None = None  # the table's highest attribute number, dropped and unexported included
    filenode: int | None = None  # pg_relation_filenode: changes when PostgreSQL rewrites the table
    relation_id: int | None = None  # pg_class.oid: another one is another table under the same name
    definition: str | None = None  # MD5 of a view's definition, or of a partitioned table's partitions


@dataclass(frozen=True)
class Part:
    """A fan-out part (lambda_exporter.fan_out): a chunk exported by an invocation and snapshot of its own,
    the rows whose first key column is in [key_from, key_to) (None: open; the first part holds NULL keys).
    `created_at` is the plan's, shared by all parts (one batch); `snapshot_at` is this part's own."""

    key_column: str
    key_from: str | None
    key_to: str | None
    snapshot_at: str


@dataclass(frozen=True)
class FileFormat:
    type: str = "csv"
    compression: str = "gzip"
    header: bool = False
    delimiter: str = ","
    quote: str = '"'
    null: str = ""  # an unquoted empty field; every non-NULL value is quoted (FORCE_QUOTE *)
    encoding: str = "UTF8"


@dataclass(frozen=True)
class DataFile:
    key: str  # relative to the export prefix (the stage root)
    rows: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class Manifest:
    export_id: str
    created_at: str
    exporter_version: str
    strategy: str
    schema: str
    table: str
    mode: str
    columns: tuple[Column, ...]
    window: Window
    files: tuple[DataFile, ...]
    rows: int
    bytes: int
    chunk_index: int = 0
    chunk_count: int = 1
    format: FileFormat = field(default_factory=FileFormat)
    manifest_version: int = MANIFEST_VERSION
    source: SourceState = field(default_factory=SourceState)
    part: Part | None = None  # a fan-out part; absent from every other manifest (contract unchanged)

    @property
    def primary_key(self) -> list[str]:
        keyed = [c for c in self.columns if c.primary_key_position is not None]
        return [c.name for c in sorted(keyed, key=lambda c: c.primary_key_position or 0)]

    def to_dict(self) -> dict[str, Any]:
        chunk: dict[str, Any] = {"index": self.chunk_index, "count": self.chunk_count}
        if self.part is not None:
            chunk["part"] = {
                "key_column": self.part.key_column,
                "from": self.part.key_from,
                "to": self.part.key_to,
                "snapshot_at": self.part.snapshot_at,
            }
        return {
            "manifest_version": self.manifest_version,
            "export_id": self.export_id,
            "created_at": self.created_at,
            "exporter_version": self.exporter_version,
            "strategy": self.strategy,
            "table": {"schema": self.schema, "name": self.table},
            "mode": self.mode,
            "chunk": chunk,
            "columns": [asdict(c) for c in self.columns],
            "window": asdict(self.window),
            "format": asdict(self.format),
            "files": [asdict(f) for f in self.files],
            "rows": self.rows,
            "bytes": self.bytes,
            "source": asdict(self.source),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def export_id(
    schema: str,
    table: str,
    mode: str,
    low: str | None,
    high: str | None,
    chunk: int = 0,
    chunks: int = 1,
    snapshot: str | None = None,
    generation: int = 0,
) -> str:
    """Deterministic from (table, window, chunk of how many): a retried export overwrites the same keys.

    Chunks are block ranges of one snapshot, and blocks move between snapshots, so the chunks of a
    chunked export also carry their snapshot's time: chunks of two snapshots never mix. A resync starts
    a new generation of the table, whose exports never reuse an id the ledger already holds.
    """
    parts: list[object] = [schema, table, mode, low, high, chunk, chunks, snapshot]
    if generation:
        parts.append(generation)
    material = json.dumps(parts, separators=(",", ":"))
    return "x" + hashlib.sha256(material.encode()).hexdigest()[:31]


def data_prefix(schema: str, table: str, export: str) -> str:
    return f"data/{slug(schema, table)}/{export}/"


def manifest_prefix(schema: str, table: str) -> str:
    return f"manifests/{slug(schema, table)}/"


def manifest_key(schema: str, table: str, export: str) -> str:
    return f"{manifest_prefix(schema, table)}{export}.json"


def latest_export_key(schema: str, table: str) -> str:
    """Where the exporter records its newest complete export (not a manifest: Snowflake never reads it)."""
    return f"state/{slug(schema, table)}/latest.json"


# ---------------------------------------------------------------------------------------------
# validation


MAX_COUNT = 2**63 - 1  # rows, bytes, chunks, ordinals: PostgreSQL's bigint range
_EXPORT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # fullmatch: `$` would take a trailing newline
# S3 keys the exporter writes: <prefix>/data/<schema>/<table>/<export>/part-…; the slug and export id are
# from safe sets, so a quote, a COPY pattern wildcard, white space or a backslash is never one of ours
_FILE_KEY = re.compile(r"[A-Za-z0-9._/=-]+")


def parse_manifest_json(text: str) -> Manifest:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ManifestError("$", f"is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from err
    return parse_manifest(doc)


def parse_manifest(doc: Any) -> Manifest:
    """Validate a decoded manifest; raises ManifestError naming the field path."""
    obj = _obj(doc, "$")
    version = obj.get("manifest_version")
    if isinstance(version, bool) or version != MANIFEST_VERSION:  # true == 1 in Python: not a version
        raise ManifestError(
            "manifest_version",
            f"unknown version {version!r}; this release reads version {MANIFEST_VERSION}: "
            "upgrade aurora-snowflake-sync on the Snowflake side before the exporter",
        )
    table = _obj(obj.get("table"), "table")
    chunk = _obj(obj.get("chunk", {"index": 0, "count": 1}), "chunk")
    columns = tuple(_column(c, f"columns[{i}]") for i, c in enumerate(_list(obj.get("columns"), "columns")))
    files = tuple(_file(f, f"files[{i}]") for i, f in enumerate(_list(obj.get("files"), "files", allow_empty=True)))
    fmt = _format(_obj(obj.get("format"), "format"))
    manifest = Manifest(
        export_id=_export_id(obj.get("export_id")),
        created_at=_str(obj.get("created_at"), "created_at"),
        exporter_version=_str(obj.get("exporter_version"), "exporter_version"),
        strategy=_choice(obj.get("strategy"), "strategy", STRATEGIES),
        schema=_str(table.get("schema"), "table.schema"),
        table=_str(table.get("name"), "table.name"),
        mode=_choice(obj.get("mode"), "mode", MODES),
        columns=columns,
        window=_window(_obj(obj.get("window"), "window")),
        files=files,
        rows=_count(obj.get("rows"), "rows"),
        bytes=_count(obj.get("bytes"), "bytes"),
        chunk_index=_count(chunk.get("index"), "chunk.index"),
        chunk_count=_count(chunk.get("count"), "chunk.count"),
        format=fmt,
        source=_source(_obj(obj.get("source", {}), "source")),
        part=None if chunk.get("part") is None else _part(_obj(chunk["part"], "chunk.part")),
    )
    _check_consistency(manifest)
    return manifest


def _check_consistency(m: Manifest) -> None:
    if not m.columns:
        raise ManifestError("columns", "must list at least one column")
    names = [c.name for c in m.columns]
    if len(set(names)) != len(names):
        raise ManifestError("columns", "column names must be unique")
    positions = sorted(c.primary_key_position for c in m.columns if c.primary_key_position is not None)
    if positions != list(range(1, len(positions) + 1)):
        raise ManifestError("columns", "primary_key_position values must be 1..n without gaps")
    if not positions:
        raise ManifestError("columns", "no column has a primary_key_position; a primary key is required")
    if m.mode == "incremental" and m.window.column not in names:
        raise ManifestError("window.column", f"{m.window.column!r} is not one of the manifest's columns")
    if m.chunk_index >= m.chunk_count:
        raise ManifestError("chunk.index", f"{m.chunk_index} is not below chunk.count {m.chunk_count}")
    if m.part is not None and (m.mode == "keys" or m.part.key_column not in m.primary_key[:1]):
        raise ManifestError("chunk.part.key_column", "must be the first key column of an incremental or full export")
    if m.rows > 0 and not m.files:
        raise ManifestError("files", f"is empty but rows is {m.rows}")
    known = [f.rows for f in m.files]
    if m.files and all(r is not None for r in known) and sum(r or 0 for r in known) != m.rows:
        raise ManifestError("rows", f"is {m.rows} but the files' rows add up to {sum(r or 0 for r in known)}")
    prefix = data_prefix(m.schema, m.table, m.export_id)
    for i, f in enumerate(m.files):
        if not f.key.startswith(prefix) or ".." in f.key or not _FILE_KEY.fullmatch(f.key):
            raise ManifestError(
                f"files[{i}].key",
                f"{f.key!r} is not under this export's folder {prefix!r}, or holds a character a file key may "
                "not (a quote, a wildcard * or ?, white space, a backslash)",
            )


def _column(doc: Any, path: str) -> Column:
    obj = _obj(doc, path)
    pk = obj.get("primary_key_position")
    return Column(
        name=_str(obj.get("name"), f"{path}.name"),
        type=_str(obj.get("type"), f"{path}.type"),
        source_type=_str(obj.get("source_type", obj.get("type")), f"{path}.source_type"),
        nullable=_bool(obj.get("nullable"), f"{path}.nullable"),
        ordinal=_count(obj.get("ordinal"), f"{path}.ordinal"),
        primary_key_position=None if pk is None else _count(pk, f"{path}.primary_key_position"),
        fills_existing_rows=_opt_bool(obj.get("fills_existing_rows"), f"{path}.fills_existing_rows"),
    )


def _part(obj: dict[str, Any]) -> Part:
    return Part(
        key_column=_str(obj.get("key_column"), "chunk.part.key_column"),
        key_from=_opt_str(obj.get("from"), "chunk.part.from"),
        key_to=_opt_str(obj.get("to"), "chunk.part.to"),
        snapshot_at=_str(obj.get("snapshot_at"), "chunk.part.snapshot_at"),
    )


def _source(obj: dict[str, Any]) -> SourceState:
    return SourceState(
        max_ordinal=_opt_count(obj.get("max_ordinal"), "source.max_ordinal"),
        filenode=_opt_count(obj.get("filenode"), "source.filenode"),
        relation_id=_opt_count(obj.get("relation_id"), "source.relation_id"),
        definition=_opt_str(obj.get("definition"), "source.definition"),
    )


def _window(obj: dict[str, Any]) -> Window:
    return Window(
        column=_opt_str(obj.get("column"), "window.column"),
        low=_opt_str(obj.get("low"), "window.low"),
        high=_opt_str(obj.get("high"), "window.high"),
        bound=_choice(obj.get("bound"), "window.bound", BOUNDS),
        guard=_opt_str(obj.get("guard"), "window.guard"),
        lookback=_opt_str(obj.get("lookback"), "window.lookback"),
        backfill=_opt_str(obj.get("backfill"), "window.backfill"),
    )


def _format(obj: dict[str, Any]) -> FileFormat:
    expected = FileFormat()
    if obj.get("type") != "csv":
        raise ManifestError("format.type", f"must be 'csv', got {obj.get('type')!r}")
    for name in ("delimiter", "quote", "null", "encoding"):
        if obj.get(name) != getattr(expected, name):
            raise ManifestError(f"format.{name}", f"must be {getattr(expected, name)!r}, got {obj.get(name)!r}")
    return FileFormat(
        compression=_choice(obj.get("compression"), "format.compression", COMPRESSIONS),
        header=_bool(obj.get("header"), "format.header"),
    )


def _file(doc: Any, path: str) -> DataFile:
    obj = _obj(doc, path)
    rows, size = obj.get("rows"), obj.get("bytes")
    return DataFile(
        key=_str(obj.get("key"), f"{path}.key"),
        rows=None if rows is None else _count(rows, f"{path}.rows"),
        bytes=None if size is None else _count(size, f"{path}.bytes"),
    )


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(path, f"must be an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ManifestError(path, "must be a non-empty list" if not allow_empty else "must be a list")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestError(path, f"must be a non-empty string, got {value!r}")
    return value


def _opt_str(value: Any, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ManifestError(path, f"must be true or false, got {value!r}")
    return value


def _opt_bool(value: Any, path: str) -> bool | None:
    return None if value is None else _bool(value, path)


def _opt_count(value: Any, path: str) -> int | None:
    return None if value is None else _count(value, path)


def _count(value: Any, path: str) -> int:
    """A count or size: an integer 0..MAX_COUNT (PostgreSQL's bigint; a larger number would not fit the
    ledger's NUMBER columns and would fail the intake of every manifest, not only this one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ManifestError(path, f"must be an integer from 0 to {MAX_COUNT}, got {value!r}")
    return value


def _export_id(value: Any) -> str:
    text = _str(value, "export_id")
    if not _EXPORT_ID.fullmatch(text):
        raise ManifestError(
            "export_id",
            f"{text[:80]!r} must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return text


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ManifestError(path, f"must be one of {', '.join(choices)}; got {value!r}")
    return str(value)
