"""The `copy` strategy: `COPY (SELECT ...) TO STDOUT` streamed through gzip into S3; any PostgreSQL."""

from __future__ import annotations

from lambda_exporter.query import copy_to_stdout
from lambda_exporter.s3_writer import RollingGzipS3Writer
from lambda_exporter.source import Connection
from lambda_exporter.strategies.base import ExportedFiles, ExportTarget


class CopyStrategy:
    name = "copy"
    compression = "gzip"
    read_only = True

    def export(self, conn: Connection, select_sql: str, target: ExportTarget) -> ExportedFiles:
        prefix_len = len(target.s3.prefix)
        writer = RollingGzipS3Writer(
            client=target.client,
            bucket=target.s3.bucket,
            key_for=lambda i: target.s3.key(f"{target.data_prefix}part-{i:05d}.csv.gz"),
            max_file_bytes=target.max_file_bytes,
            relative=lambda key: key[prefix_len:],
        )
        try:
            with conn.cursor() as cur:
                cur.copy_expert(copy_to_stdout(select_sql), writer, size=1 << 16)
                rows = cur.rowcount
        except BaseException:
            writer.abort_quietly()
            raise
        files = writer.close()
        if sum(f.rows or 0 for f in files) != rows:
            raise RuntimeError(f"COPY reported {rows} rows but {sum(f.rows or 0 for f in files)} were written")
        return ExportedFiles(files=files, rows=rows, bytes=sum(f.bytes or 0 for f in files))
