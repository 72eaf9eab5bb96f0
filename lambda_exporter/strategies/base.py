"""The interface every export strategy implements."""

from __future__ import annotations

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
