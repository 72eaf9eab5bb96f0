"""The interface every export strategy implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lambda_exporter.event import S3Target
from lambda_exporter.source import Connection
from sync_contract.manifest import DataFile


@dataclass(frozen=True)
class ExportTarget:
    s3: S3Target
    client: Any  # a boto3 S3 client
    data_prefix: str  # relative to the S3 prefix, ends with "/"
    max_file_bytes: int
    # what the export reads, for a strategy that splits it (aws_s3): (schema, relation, block range or
    # None) per scan, and the bound SELECT of one scan restricted to a block range; their rows together
    # are those of `select_sql`. Empty: the strategy exports `select_sql` as it is.
    scans: tuple[tuple[str, str, tuple[int, int | None] | None], ...] = ()
    render: Callable[[str, str, tuple[int, int | None] | None], str] | None = None


@dataclass(frozen=True)
class ExportedFiles:
    files: list[DataFile]
    rows: int
    bytes: int


class ExportStrategy(Protocol):
    name: str
    compression: str  # "gzip" | "none", as the manifest's format.compression
    read_only: bool  # whether the export may run in a READ ONLY transaction

    def export(self, conn: Connection, select_sql: str, target: ExportTarget) -> ExportedFiles:
        """Export the rows of `select_sql` (parameters already bound) under `target.data_prefix`."""
        ...
