"""The `aws_s3` strategy: Aurora's server-side `aws_s3.query_export_to_s3`.

Aurora writes uncompressed CSV of about 6 GB per object and names the parts `<key>`, `<key>_part2`,
`<key>_part3`, ... It reports totals only, so the manifest lists per-file rows and bytes only for a
single-file export.
"""

from __future__ import annotations

from lambda_exporter.errors import ExportError
from lambda_exporter.source import Connection
from lambda_exporter.strategies.base import ExportedFiles, ExportTarget
from sync_contract.manifest import DataFile

EXPORT_SQL = (
    "SELECT rows_uploaded, files_uploaded, bytes_uploaded FROM aws_s3.query_export_to_s3("
    "%s, aws_commons.create_s3_uri(%s, %s, %s), %s)"
)
# arguments of PostgreSQL's COPY; the same CSV dialect as the `copy` strategy
EXPORT_OPTIONS = "format csv, header false, force_quote *"


def part_keys(base_key: str, files_uploaded: int) -> list[str]:
    """`my-key`, `my-key_part2`, `my-key_part3`, ... as Aurora names them."""
    return [base_key] + [f"{base_key}_part{n}" for n in range(2, files_uploaded + 1)]


class AwsS3Strategy:
    name = "aws_s3"
    compression = "none"
    read_only = False  # AWS does not document aws_s3 in read-only transactions; the query itself only reads

    def export(self, conn: Connection, select_sql: str, target: ExportTarget) -> ExportedFiles:
        relative = f"{target.data_prefix}part-00000.csv"
        with conn.cursor() as cur:
            cur.execute(
                EXPORT_SQL, (select_sql, target.s3.bucket, target.s3.key(relative), target.s3.region, EXPORT_OPTIONS)
            )
            row = cur.fetchone()
        if row is None:
            raise ExportError("aws_s3.query_export_to_s3 returned no result row")
        rows, files_uploaded, bytes_uploaded = (int(v) for v in row)
        if rows > 0 and files_uploaded < 1:
            raise ExportError(f"aws_s3.query_export_to_s3 reported {rows} rows but no files")
        if files_uploaded == 0:
            return ExportedFiles(files=[], rows=rows, bytes=bytes_uploaded)
        if files_uploaded == 1:
            return ExportedFiles([DataFile(key=relative, rows=rows, bytes=bytes_uploaded)], rows, bytes_uploaded)
        return ExportedFiles([DataFile(key=k) for k in part_keys(relative, files_uploaded)], rows, bytes_uploaded)
