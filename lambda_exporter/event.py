"""The invocation event (version 1): validated on entry, unknown fields rejected, errors name the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambda_exporter.errors import EventError
from lambda_exporter.policy import check_event_s3
from sync_contract.errors import IdentifierError
from sync_contract.identifiers import validate_identifier
from sync_contract.watermark import LOOKBACK

EVENT_VERSION = 1
DEFAULT_MAX_FILE_BYTES = 128 * 1024 * 1024  # compressed; inside Snowflake's 100-250 MB band
MIN_MAX_FILE_BYTES = 5 * 1024 * 1024  # S3's smallest multipart part

MAX_CHUNKS = 64
MAX_PARALLELISM = 8
_FIELDS = {
    "chunks",
    "parallelism",
    "version",
    "table",
    "mode",
    "primary_key",
    "watermark_column",
    "low",
    "columns",
    "s3",
    "strategy",
    "max_file_bytes",
    "late_row_guard",
    "lookback",
    "generation",
    "max_rows_per_invocation",
    "part",
}
_PART_FIELDS = {"index", "count", "created_at", "high", "key_column", "from", "to", "fingerprint"}

_S3_FIELDS = {"bucket", "prefix", "region", "endpoint_url"}


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str  # "" or ends with "/"
    region: str
    endpoint_url: str | None = None

    def key(self, relative: str) -> str:
        return f"{self.prefix}{relative}"


@dataclass(frozen=True)
class PartRequest:
    """One part of a fan-out export, as its plan gave it (lambda_exporter.fan_out): export the rows whose
    `key_column` lies in [key_from, key_to) with the plan's window `high` (incremental) or check the range
    against the plan's `fingerprint` first (full). `created_at` is the plan's time (every part's manifest)."""

    index: int
    count: int
    created_at: str
    high: str | None
    key_column: str
    key_from: str | None = None
    key_to: str | None = None
    fingerprint: str | None = None

    def to_event(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "count": self.count,
            "created_at": self.created_at,
            "high": self.high,
            "key_column": self.key_column,
            "from": self.key_from,
            "to": self.key_to,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class ExportRequest:
    schema: str
    table: str
    mode: str
    s3: S3Target
    watermark_column: str | None = None
    low: str | None = None
    primary_key: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    strategy: str = "copy"
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # no "low" in the event (an EventBridge schedule): take it from the newest manifest in S3
    low_from_manifests: bool = False
    chunks: int | str = 1  # 1..MAX_CHUNKS, or "auto": sized from the table for Snowflake's file band
    parallelism: int = 2  # chunks exported at once, each on its own connection to one shared snapshot
    # incremental, timestamp watermark: high stays below the start of the oldest transaction still open
    late_row_guard: bool = True
    lookback: str | None = None  # re-export this much below `low` as well (the MERGE absorbs repeats)
    generation: int = 0  # the table's resync count: part of every export id
    # an initial or full export of more rows than this is planned as parts, one invocation each (fan_out)
    max_rows_per_invocation: int | None = None
    part: PartRequest | None = None  # this invocation exports one part of a planned fan-out export

    def to_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "version": EVENT_VERSION,
            "table": {"schema": self.schema, "name": self.table},
            "mode": self.mode,
            "low": self.low,
            "strategy": self.strategy,
            "max_file_bytes": self.max_file_bytes,
            "chunks": self.chunks,
            "parallelism": self.parallelism,
            # a cross-check only: the exporter writes where its environment says (lambda_exporter.policy),
            # on its own endpoint (never sent: an endpoint in an event is refused unless it is the same)
            "s3": {"bucket": self.s3.bucket, "prefix": self.s3.prefix, "region": self.s3.region},
        }
        if self.watermark_column:
            event["watermark_column"] = self.watermark_column
        if self.primary_key:
            event["primary_key"] = list(self.primary_key)
        if self.columns:
            event["columns"] = list(self.columns)
        if not self.late_row_guard:
            event["late_row_guard"] = False
        if self.lookback:
            event["lookback"] = self.lookback
        if self.generation:
            event["generation"] = self.generation
        if self.max_rows_per_invocation is not None:
            event["max_rows_per_invocation"] = self.max_rows_per_invocation
        if self.part is not None:
            event["part"] = self.part.to_event()
        return event


def parse_event(event: Any, location: S3Target | None = None) -> ExportRequest:
    """The event as a request. `location`: the exporter's own S3 location (its environment, the Lambda):
    the request goes there, and an event `s3` member must be absent or hold the same values
    (lambda_exporter.policy). Without it (the exporter's code in the CLI's own process) the event's `s3`
    member is required and used. Raises EventError naming the field."""
    if not isinstance(event, dict):
        raise EventError("$", f"the event must be a JSON object, got {type(event).__name__}")
    if unknown := sorted(set(event) - _FIELDS):
        raise EventError(unknown[0], f"unknown field; accepted fields are {', '.join(sorted(_FIELDS))}")
    if event.get("version") != EVENT_VERSION:
        raise EventError("version", f"must be {EVENT_VERSION}, got {event.get('version')!r}")
    table = event.get("table")
    if not isinstance(table, dict) or set(table) != {"schema", "name"}:
        raise EventError("table", 'must be {"schema": "...", "name": "..."}')
    mode = event.get("mode", "incremental")
    if mode not in ("incremental", "full", "keys"):
        raise EventError("mode", f"must be 'incremental', 'full' or 'keys', got {mode!r}")
    watermark = event.get("watermark_column")
    if mode in ("incremental", "keys") and not watermark:
        raise EventError("watermark_column", f"is required when mode is {mode!r}")
    if mode == "full" and watermark:
        raise EventError("watermark_column", "must be omitted when mode is 'full'")
    low = event.get("low")
    if low is not None and not isinstance(low, str):
        raise EventError("low", f"must be a string or null, got {low!r}")
    strategy = event.get("strategy", "copy")
    if strategy not in ("copy", "aws_s3"):
        raise EventError("strategy", f"must be 'copy' or 'aws_s3', got {strategy!r}")
    max_bytes = event.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < MIN_MAX_FILE_BYTES:
        raise EventError("max_file_bytes", f"must be an integer >= {MIN_MAX_FILE_BYTES}, got {max_bytes!r}")
    chunks = event.get("chunks", 1)
    if chunks != "auto" and (isinstance(chunks, bool) or not isinstance(chunks, int) or not 1 <= chunks <= MAX_CHUNKS):
        raise EventError("chunks", f'must be an integer 1..{MAX_CHUNKS} or "auto", got {chunks!r}')
    parallelism = event.get("parallelism", 2)
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or not 1 <= parallelism <= MAX_PARALLELISM:
        raise EventError("parallelism", f"must be an integer 1..{MAX_PARALLELISM}, got {parallelism!r}")
    guard = event.get("late_row_guard", True)
    if not isinstance(guard, bool):
        raise EventError("late_row_guard", f"must be true or false, got {guard!r}")
    lookback = event.get("lookback")
    if lookback is not None and (not isinstance(lookback, str) or not LOOKBACK.match(lookback)):
        raise EventError("lookback", f"must be a number or an interval such as '10 minutes', got {lookback!r}")
    generation = event.get("generation", 0)
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise EventError("generation", f"must be an integer >= 0, got {generation!r}")
    if lookback is not None and mode != "incremental":
        raise EventError("lookback", "applies to mode 'incremental' only")
    max_rows = event.get("max_rows_per_invocation")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise EventError("max_rows_per_invocation", f"must be an integer >= 1, got {max_rows!r}")
    part = None if event.get("part") is None else parse_part(event["part"], mode)
    return ExportRequest(
        schema=_ident(table.get("schema"), "table.schema"),
        table=_ident(table.get("name"), "table.name"),
        mode=mode,
        s3=_s3(event.get("s3")) if location is None else _bound(event.get("s3"), location),
        watermark_column=_ident(watermark, "watermark_column") if watermark else None,
        low=low,
        primary_key=_names(event.get("primary_key", []), "primary_key"),
        columns=_names(event.get("columns", []), "columns"),
        strategy=strategy,
        max_file_bytes=max_bytes,
        low_from_manifests="low" not in event,
        chunks=chunks,
        parallelism=parallelism,
        late_row_guard=guard,
        lookback=lookback,
        generation=generation,
        max_rows_per_invocation=max_rows,
        part=part,
    )


def parse_part(value: Any, mode: str) -> PartRequest:
    """A plan's `part` object (lambda_exporter.fan_out); raises EventError naming the field."""
    if not isinstance(value, dict) or set(value) != _PART_FIELDS:
        raise EventError(
            "part", f"must be an object with exactly {', '.join(sorted(_PART_FIELDS))} (from a fan-out plan)"
        )
    if mode == "keys":
        raise EventError("part", "applies to incremental and full exports only")
    index, count = value["index"], value["count"]
    for name, number in (("part.index", index), ("part.count", count)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise EventError(name, f"must be an integer >= 0, got {number!r}")
    if not index < count:
        raise EventError("part.index", f"{index} is not below part.count {count}")
    for name in ("created_at", "high", "from", "to", "fingerprint"):
        if value[name] is not None and not isinstance(value[name], str):
            raise EventError(f"part.{name}", f"must be a string or null, got {value[name]!r}")
    if not value["created_at"]:
        raise EventError("part.created_at", "must be the plan's time")
    return PartRequest(
        index=index,
        count=count,
        created_at=value["created_at"],
        high=value["high"],
        key_column=_ident(value["key_column"], "part.key_column"),
        key_from=value["from"],
        key_to=value["to"],
        fingerprint=value["fingerprint"],
    )


def _s3(value: Any) -> S3Target:
    if not isinstance(value, dict):
        raise EventError("s3", 'must be {"bucket": ..., "prefix": ..., "region": ...}')
    if unknown := sorted(set(value) - _S3_FIELDS):
        raise EventError(f"s3.{unknown[0]}", f"unknown field; accepted: {', '.join(sorted(_S3_FIELDS))}")
    bucket, prefix, region = value.get("bucket"), value.get("prefix", ""), value.get("region")
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        raise EventError("s3.bucket", f"must be a bucket name, got {bucket!r}")
    if not isinstance(prefix, str) or prefix.startswith("/") or (prefix and not prefix.endswith("/")):
        raise EventError("s3.prefix", f"must be empty or a key prefix ending in '/', got {prefix!r}")
    if "=" in prefix:
        raise EventError("s3.prefix", f"must not contain key=value segments, got {prefix!r}")
    if not isinstance(region, str) or not region:
        raise EventError("s3.region", f"must be an AWS region name, got {region!r}")
    endpoint = value.get("endpoint_url")
    if endpoint is not None and not isinstance(endpoint, str):
        raise EventError("s3.endpoint_url", f"must be a URL string, got {endpoint!r}")
    return S3Target(bucket=bucket, prefix=prefix, region=region, endpoint_url=endpoint)


def _bound(value: Any, location: S3Target) -> S3Target:
    environment = {
        "bucket": location.bucket,
        "prefix": location.prefix,
        "region": location.region,
        "endpoint_url": location.endpoint_url,
    }
    check_event_s3(value, environment)
    return location


def _ident(value: Any, field: str) -> str:
    try:
        return validate_identifier(value, field)
    except IdentifierError as err:
        raise EventError(field, str(err)) from err


def _names(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise EventError(field, f"must be a list of column names, got {value!r}")
    names = tuple(_ident(v, f"{field}[{i}]") for i, v in enumerate(value))
    if len(set(names)) != len(names):
        raise EventError(field, "lists a column twice")
    return names
