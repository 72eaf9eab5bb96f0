"""Aurora's `aws_s3.query_export_to_s3` for the embedded stack's PostgreSQL, writing to moto S3.

Aurora's extension cannot run outside Aurora. This stand-in has its signature (Aurora User Guide,
"Function reference": `aws_s3.query_export_to_s3(query text, s3_info aws_commons._s3_uri_1, options
text, kms_key text)` returning `rows_uploaded`, `files_uploaded`, `bytes_uploaded`) and its behaviour
as far as the exporter depends on it: the query's rows are written by PostgreSQL's own COPY with the
given options, as uncompressed objects of about `part_bytes` each (Aurora: about 6 GB), named `<key>`,
`<key>_part2`, ..., each ending on a whole row (a part ends at the first row end past `part_bytes`).
The COPY pipes to a stdlib-only Python uploader (run by the server's OS user, so not the project's
virtual environment) that PUTs each part to the S3 endpoint and reports the files and bytes it wrote.

Installed on demand (`install`), not at stack start: a test that needs it installs it, and a test
that installs a stand-in of its own replaces it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg2

AURORA_PART_BYTES = 6 * 1024**3  # "approximately 6 GB" per object, Aurora User Guide
PYTHON = shutil.which("python3", path="/usr/bin:/usr/local/bin:/bin") or "/usr/bin/python3"

UPLOADER = r"""
import binascii, json, sys, urllib.parse, urllib.request

endpoint, bucket_hex, key_hex, part_bytes, report = sys.argv[1:6]
bucket = binascii.unhexlify(bucket_hex).decode()
key = binascii.unhexlify(key_hex).decode()
limit = int(part_bytes)
names, total, part, quotes = [], 0, [], 0


def put(body):
    global total
    name = key if not names else f"{key}_part{len(names) + 1}"
    url = f"{endpoint}/{bucket}/{urllib.parse.quote(name)}"
    req = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req) as resp:  # moto: no signature needed
        resp.read()
    names.append(name)
    total += len(body)


size = 0
for line in sys.stdin.buffer:
    # a row ends at a newline outside quotes: CSV doubles quotes inside values, so the count is even there
    if size and quotes % 2 == 0 and size + len(line) > limit:
        put(b"".join(part))
        part, size = [], 0
    part.append(line)
    size += len(line)
    quotes += line.count(b'"')
if part:
    put(b"".join(part))
with open(report, "w") as out:
    json.dump({"files": len(names), "bytes": total}, out)
"""

INSTALL_SQL = """
CREATE SCHEMA IF NOT EXISTS aws_commons;
CREATE SCHEMA IF NOT EXISTS aws_s3;
DROP TYPE IF EXISTS aws_commons._s3_uri_1 CASCADE;
CREATE TYPE aws_commons._s3_uri_1 AS (bucket text, file_path text, region text);
CREATE FUNCTION aws_commons.create_s3_uri(bucket text, file_path text, region text)
RETURNS aws_commons._s3_uri_1 LANGUAGE sql AS $$ SELECT ROW(bucket, file_path, region)::aws_commons._s3_uri_1 $$;
CREATE FUNCTION aws_s3.query_export_to_s3(query text, s3_info aws_commons._s3_uri_1, options text DEFAULT NULL,
    kms_key text DEFAULT NULL, OUT rows_uploaded bigint, OUT files_uploaded bigint, OUT bytes_uploaded bigint)
LANGUAGE plpgsql SECURITY DEFINER AS $f$
DECLARE
  report text := %(reports)s || '/' || md5(random()::text || clock_timestamp()::text) || '.json';
  program text;
  result jsonb;
BEGIN
  program := format('%%s %%s %%s %%s %%s %%s %%s', %(python)s, %(script)s, %(endpoint)s,
    encode(convert_to((s3_info).bucket, 'UTF8'), 'hex'), encode(convert_to((s3_info).file_path, 'UTF8'), 'hex'),
    %(part_bytes)s, report);
  EXECUTE format('COPY (%%s) TO PROGRAM %%L WITH (%%s)', query, program, coalesce(options, 'format text'));
  GET DIAGNOSTICS rows_uploaded = ROW_COUNT;
  result := pg_read_file(report)::jsonb;
  files_uploaded := (result ->> 'files')::bigint;
  bytes_uploaded := (result ->> 'bytes')::bigint;
END $f$;
"""


def install(dsn: str, s3_endpoint: str, workdir: Path, part_bytes: int = AURORA_PART_BYTES) -> None:
    """(Re)create the stand-in in the database of `dsn` (a superuser: COPY TO PROGRAM), writing to
    `s3_endpoint`; its uploader and reports live under `workdir` (the stack's, removed with it)."""
    home = workdir / "aws_s3_emulator"
    reports = home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    # PostgreSQL runs as an unprivileged OS user when we are root: it reads the uploader, writes reports
    os.chmod(home, 0o755)  # noqa: S103
    os.chmod(reports, 0o777)  # noqa: S103
    script = home / "upload.py"
    script.write_text(UPLOADER)
    os.chmod(script, 0o644)
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                INSTALL_SQL,
                {
                    "reports": str(reports),
                    "python": PYTHON,
                    "script": str(script),
                    "endpoint": s3_endpoint,
                    "part_bytes": str(int(part_bytes)),
                },
            )
    finally:
        conn.close()
