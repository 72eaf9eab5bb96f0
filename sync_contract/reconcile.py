"""Bucketed reconciliation: what both sides compute, and how the two answers are compared.

Rows are put in buckets by a hash of their primary key (the first `digits` hex digits of the MD5 of
the key's canonical text); a bucket's fingerprint is (row count, MD5 of its rows' MD5s in sorted
order). PostgreSQL (the exporter, `lambda_exporter.reconcile`) and Snowflake (`stored_procs.monitoring.reconcile`)
compute the same fingerprints from the same canonical text of each value, so only buckets whose
fingerprints differ are then compared key by key.

Buckets are hash ranges of the key, not ranges of key values: text and composite keys sort
differently in the two engines (collations), hash prefixes do not.

Canonical text per column kind is exact for the kinds in HASHED_KINDS. JSON, JSONB and arrays
(DOCUMENT_KINDS) are compared by content: each side walks the document and hashes every node (object,
array, string, number, boolean, null) with its path, the path being a chain of MD5s of object keys
and array indexes (arrays keep their order, objects do not), and the value's text is the MD5 of the
node hashes in sorted order. A number is its decimal text without trailing zeros; a number Snowflake
holds as DOUBLE (an exponent, or beyond NUMBER(38) range or scale: PARSE_JSON's rule) never equals
PostgreSQL's exact text, so a rounded number is a difference. See `node_text` and `child_path`.
A time is its microseconds since midnight. For FLOAT and arrays of floats no text is agreed (PostgreSQL
prints the shortest round-trip digits, Snowflake its own float format, and an array's elements become
DOUBLE or NUMBER by their text), so the hash covers only whether the value is NULL;
`aurora-sync reconcile --rows` compares those exactly, row by row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_contract.errors import ContractError
from sync_contract.types import Kind, map_type

ACTION = "reconcile"
HASHED_KINDS = frozenset(
    {
        Kind.INTEGER,
        Kind.NUMBER,
        Kind.MONEY,
        Kind.BOOLEAN,
        Kind.TEXT,
        Kind.UUID,
        Kind.TEXT_REPR,
        Kind.DATE,
        Kind.TIMESTAMP_NTZ,
        Kind.TIMESTAMP_TZ,
        Kind.TIME,
        Kind.BINARY,
    }
)
NUMERIC_KINDS = frozenset({Kind.INTEGER, Kind.NUMBER, Kind.MONEY})
DOCUMENT_KINDS = frozenset({Kind.JSON, Kind.ARRAY})  # compared by content, node by node (not as keys)
_FLOAT_ELEMENTS = re.compile(r"^(real|double precision|float4|float8)(\[\])+$")
ROWS_PER_BUCKET = 2000  # aimed at: a differing bucket is this many rows to compare one by one
MAX_DIGITS = 4  # 65,536 buckets
MAX_ROWS_COMPARED = 50_000  # per side and per call: keeps a Lambda response under its 6 MB limit
MAX_KEYS_REPORTED = 100  # per kind of difference, in the stored report
NULL_MARK = "~"  # a NULL value in a row's canonical text (a value is `<length>:<text>`)
_BUCKET = re.compile(r"^[0-9a-f]{1,4}$")


def bucket_digits(rows: int) -> int:
    """Hex digits of the bucket id: about ROWS_PER_BUCKET rows per bucket, 1..MAX_DIGITS digits."""
    digits = 1
    while digits < MAX_DIGITS and rows > ROWS_PER_BUCKET * 16**digits:
        digits += 1
    return digits


def strip_zeros(text_sql: str) -> str:
    """SQL (both dialects) for a number's text without trailing fractional zeros: 12.50 and 12.5000 agree."""
    return f"CASE WHEN {text_sql} LIKE '%.%' THEN RTRIM(RTRIM({text_sql}, '0'), '.') ELSE {text_sql} END"


def joined(parts: Sequence[str]) -> str:
    """SQL (both dialects): values' canonical texts as one unambiguous text, `<length>:<text>` or `~`."""
    return " || ".join(f"COALESCE(CAST(LENGTH({p}) AS VARCHAR) || ':' || {p}, '{NULL_MARK}')" for p in parts)


def presence(column_sql: str) -> str:
    return f"CASE WHEN {column_sql} IS NULL THEN NULL ELSE '' END"


def is_document(pg_type: str, column: str = "?") -> bool:
    """Compared by content (DOCUMENT_KINDS): json, jsonb and arrays, except arrays of floats, whose
    elements PostgreSQL writes with an exponent (1e-05) that Snowflake then holds as DOUBLE: compared
    like FLOAT, by presence."""
    return map_type(pg_type, column).kind in DOCUMENT_KINDS and not _FLOAT_ELEMENTS.match(pg_type.strip().lower())


def is_hashed(pg_type: str, column: str = "?") -> bool:
    """Compared by value in bucket fingerprints (else by NULL or not)."""
    return map_type(pg_type, column).kind in HASHED_KINDS or is_document(pg_type, column)


def is_key_hashable(pg_type: str, column: str = "?") -> bool:
    """Usable as a primary key column of a bucketed reconciliation (a key's text is one value, not a walk)."""
    return map_type(pg_type, column).kind in HASHED_KINDS


def child_path(parent_sql: str, key_sql: str, index_sql: str, *, set_returning: bool = False) -> str:
    """SQL (both dialects) for a document node's path: MD5 of the parent's path and `.<key>` for an object
    member or `[<index>` for an array element (0-based); the root's path is ''. `key_sql` is NULL for an
    array element, `index_sql` NULL for an object member. Paths have a fixed width (32 hex digits), so
    `<parent><step>` is unambiguous. `set_returning`: key and index are set-returning calls, which
    PostgreSQL refuses inside COALESCE; CONCAT skips NULLs the same way."""
    if set_returning:
        return f"MD5(CONCAT({parent_sql}, '.' || {key_sql}, '[' || {index_sql}))"
    return f"MD5({parent_sql} || COALESCE('.' || {key_sql}, '[' || {index_sql}))"


def node_hash(path_sql: str, typed_text_sql: str) -> str:
    """SQL (both dialects): one node's hash from its path and `<type letter><text>` (see node_text)."""
    return f"MD5({path_sql} || ':' || {typed_text_sql})"


def node_text(kind: str, text: str) -> str:
    """SQL (both dialects) of a node's `<type letter><text>`: `kind` is one of object, array, string,
    number, boolean, null (the caller maps its engine's type names); `text` is the SQL of the scalar's
    text (a string's characters unescaped, a number's decimal text, `true`/`false`)."""
    letters = {"object": "'o'", "array": "'a'", "null": "'z'"}
    if kind in letters:
        return letters[kind]
    if kind == "string":
        return f"'s' || {text}"
    if kind == "boolean":
        return f"'b' || {text}"
    if kind == "number":  # -0 and -0.0 are 0: PostgreSQL's numeric and Snowflake's NUMBER have no negative zero
        stripped = strip_zeros(text)
        return f"'n' || CASE WHEN {stripped} = '-0' THEN '0' ELSE {stripped} END"
    raise ValueError(f"unknown document node kind {kind!r}")


@dataclass(frozen=True)
class ReconcileRequest:
    """The exporter's reconcile event: fingerprints of every bucket, or the rows of some buckets."""

    schema: str
    table: str
    primary_key: tuple[str, ...]
    digits: int
    buckets: tuple[str, ...] | None = None  # None: fingerprints; else these buckets' rows
    columns: tuple[str, ...] = ()  # only these columns (and the key); empty: every column
    # columns compared by presence (NULL or not) whatever their type: those the target holds transformed
    # (a `transform`, stored_procs.loading.transforms), whose source values differ from the target's
    presence: tuple[str, ...] = ()

    def to_event(self) -> dict[str, Any]:
        extra = {"presence": list(self.presence)} if self.presence else {}
        return {
            **extra,
            "action": ACTION,
            "schema": self.schema,
            "table": self.table,
            "primary_key": list(self.primary_key),
            "bucket_digits": self.digits,
            "buckets": list(self.buckets) if self.buckets is not None else None,
            "columns": list(self.columns),
        }


def parse_request(event: dict[str, Any]) -> ReconcileRequest:
    def text(key: str) -> str:
        value = event.get(key)
        if not isinstance(value, str) or not value:
            raise ContractError(f"reconcile event: {key!r} must be a non-empty string, got {value!r}")
        return value

    pk = event.get("primary_key")
    if not isinstance(pk, list) or not pk or not all(isinstance(c, str) and c for c in pk):
        raise ContractError(f"reconcile event: 'primary_key' must be a non-empty list of column names, got {pk!r}")
    digits = event.get("bucket_digits")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= MAX_DIGITS:
        raise ContractError(f"reconcile event: 'bucket_digits' must be 1..{MAX_DIGITS}, got {digits!r}")
    buckets = event.get("buckets")
    if buckets is not None and (
        not isinstance(buckets, list)
        or not all(isinstance(b, str) and _BUCKET.match(b) and len(b) == digits for b in buckets)
    ):
        raise ContractError(f"reconcile event: 'buckets' must be {digits}-digit lowercase hex ids, got {buckets!r}")
    columns = event.get("columns") or []
    if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
        raise ContractError(f"reconcile event: 'columns' must be a list of column names, got {columns!r}")
    presence = event.get("presence") or []
    if not isinstance(presence, list) or not all(isinstance(c, str) and c for c in presence):
        raise ContractError(f"reconcile event: 'presence' must be a list of column names, got {presence!r}")
    return ReconcileRequest(
        text("schema"),
        text("table"),
        tuple(pk),
        digits,
        tuple(buckets) if buckets is not None else None,
        tuple(columns),
        tuple(presence),
    )


Fingerprints = dict[str, tuple[int, str]]  # bucket id -> (rows, hash)
RowHashes = dict[tuple[str, ...], str]  # canonical key texts -> row hash


def differing_buckets(source: Fingerprints, target: Fingerprints) -> list[str]:
    return sorted(b for b in set(source) | set(target) if source.get(b) != target.get(b))


@dataclass
class Differences:
    missing: list[tuple[str, ...]] = field(default_factory=list)  # in the source, not in the target
    extra: list[tuple[str, ...]] = field(default_factory=list)  # in the target, not in the source
    different: list[tuple[str, ...]] = field(default_factory=list)  # in both, other values

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.different)


def diff_rows(source: RowHashes, target: RowHashes) -> Differences:
    return Differences(
        missing=sorted(set(source) - set(target)),
        extra=sorted(set(target) - set(source)),
        different=sorted(k for k in set(source) & set(target) if source[k] != target[k]),
    )


def batches(buckets: Sequence[str], source: Fingerprints, target: Fingerprints) -> list[list[str]]:
    """Differing buckets in groups whose rows (by the larger side's count) stay under MAX_ROWS_COMPARED."""
    groups: list[list[str]] = []
    size = 0
    for b in buckets:
        rows = max(source.get(b, (0, ""))[0], target.get(b, (0, ""))[0])
        if not groups or size + rows > MAX_ROWS_COMPARED:
            groups.append([])
            size = 0
        groups[-1].append(b)
        size += rows
    return groups
