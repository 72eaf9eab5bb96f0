"""The emulator's COPY of staged CSV (aurora_sync/stack/emulator/csv_reads.py) loads what Snowflake loads
and refuses what it refuses: each file fetched once, GZIP decompressed by the emulator, read with the
table's columns (or the COPY's column list) and the format's dialect instead of DuckDB's sniffing."""

from __future__ import annotations

import gzip
from typing import Any

import boto3
import pytest

from aurora_sync.stack.stack import BUCKET, REGION
from stored_procs.statement import Stmt, run

pytestmark = pytest.mark.integration

SCHEMA = '"ANALYTICS"."EMULATOR_COPY_CSV"'
PREFIX = "emulator-copy-csv/"
# the product's format (stored_procs.sql.CSV_FORMAT), PostgreSQL's CSV
FORMAT = (
    "TYPE=CSV FIELD_DELIMITER=',' FIELD_OPTIONALLY_ENCLOSED_BY='\"' EMPTY_FIELD_AS_NULL=TRUE NULL_IF=() "
    "ESCAPE_UNENCLOSED_FIELD=NONE SKIP_HEADER=0 COMPRESSION={compression}"
)


@pytest.fixture(scope="module")
def s3(stack: Any) -> Any:
    return boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint, region_name=REGION)


@pytest.fixture(scope="module")
def schema(snow: Any) -> str:
    run(snow, Stmt(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    run(snow, Stmt(f"CREATE OR REPLACE STAGE {SCHEMA}.FILES URL = 's3://{BUCKET}/{PREFIX}'"))
    return SCHEMA


def _copy(snow: Any, s3: Any, schema: str, name: str, body: bytes, *, compression: str, columns: str = "") -> list:
    """`body` staged as `name`, copied into {schema}.T (3 VARCHAR columns, made anew); T's rows, sorted."""
    s3.put_object(Bucket=BUCKET, Key=PREFIX + name, Body=body)
    run(snow, Stmt(f"CREATE OR REPLACE TABLE {schema}.T (A VARCHAR, B VARCHAR, C VARCHAR)"))
    run(
        snow,
        Stmt(
            f"COPY INTO {schema}.T{columns} FROM @{schema}.FILES FILES=('{name}') "
            f"FILE_FORMAT=({FORMAT.format(compression=compression)}) ON_ERROR=ABORT_STATEMENT FORCE=TRUE"
        ),
    )
    rows = run(snow, Stmt(f"SELECT A, B, C FROM {schema}.T"))
    return sorted(rows, key=lambda r: tuple("" if v is None else v for v in r))


TEXT = b'"a","b""c",\n"x\r\ny","",z\n"1,2","\\N","long"\n'
LOADED = [("1,2", "\\N", "long"), ("a", 'b"c', None), ("x\r\ny", "", "z")]


@pytest.mark.parametrize("compression", ["GZIP", "NONE", "AUTO"])
def test_enclosed_fields_doubled_quotes_empty_and_null_load_as_snowflake_loads_them(snow, s3, schema, compression):
    """A doubled quote inside an enclosed field is one quote (FIELD_OPTIONALLY_ENCLOSED_BY); `""` is an
    empty string and an empty unenclosed field NULL (EMPTY_FIELD_AS_NULL); a delimiter, CR and LF inside
    an enclosed field are data; NULL_IF=() leaves `\\N` as text."""
    body = gzip.compress(TEXT) if compression != "NONE" else TEXT
    name = "dialect.csv.gz" if compression != "NONE" else "dialect.csv"
    assert _copy(snow, s3, schema, name, body, compression=compression) == LOADED


def test_a_file_of_several_gzip_members_loads_every_member(snow, s3, schema):
    body = gzip.compress(b'"1","2","3"\n') + gzip.compress(b'"4","5","6"\n')
    assert _copy(snow, s3, schema, "members.csv.gz", body, compression="GZIP") == [("1", "2", "3"), ("4", "5", "6")]


def test_a_field_longer_than_duckdbs_default_line_loads(snow, s3, schema):
    """Snowflake's fields hold up to 128 MB; DuckDB's reader stops at 2 MB lines unless told."""
    long = "x" * 3_000_000
    body = gzip.compress(f'"1","{long}","3"\n'.encode())
    ((a, b, c),) = _copy(snow, s3, schema, "long.csv.gz", body, compression="GZIP")
    assert (a, len(b), c) == ("1", 3_000_000, "3")


@pytest.mark.parametrize("text", [b'"1","2"\n', b'"1","2","3","4"\n', b'"1","2","3"\n"4","5"\n'])
def test_a_row_with_another_number_of_fields_than_the_table_fails_the_copy(snow, s3, schema, text):
    """ERROR_ON_COLUMN_COUNT_MISMATCH is TRUE by default ("COPY INTO <table>"): a row of 2 or 4 fields
    for 3 columns fails, nothing is loaded (DuckDB's sniffer had read `"1","2"` as one column, and the
    second line alone when the first differed)."""
    with pytest.raises(Exception, match="Expected Number of Columns: 3") as refused:
        _copy(snow, s3, schema, "count.csv.gz", gzip.compress(text), compression="GZIP")
    assert f"s3://{BUCKET}/{PREFIX}count.csv.gz" in str(refused.value)  # the staged file, not a local copy
    assert "aurora-copy" not in str(refused.value)
    assert run(snow, Stmt(f"SELECT COUNT(*) FROM {schema}.T"))[0][0] == 0


def test_a_column_list_takes_as_many_fields_as_it_names(snow, s3, schema):
    rows = _copy(snow, s3, schema, "two.csv.gz", gzip.compress(b'"1","2"\n'), compression="GZIP", columns=" (A, C)")
    assert rows == [("1", None, "2")]


@pytest.mark.parametrize("damage", ["missing", "truncated", "not gzip"])
def test_a_file_that_cannot_be_read_fails_the_copy_with_a_sql_error(snow, s3, schema, damage):
    name = f"damaged-{damage.replace(' ', '-')}.csv.gz"
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + name)
    run(snow, Stmt(f"CREATE OR REPLACE TABLE {schema}.T (A VARCHAR, B VARCHAR, C VARCHAR)"))
    if damage != "missing":
        good = gzip.compress(b'"1","2","3"\n' * 1000)
        s3.put_object(
            Bucket=BUCKET, Key=PREFIX + name, Body=good[: len(good) // 2] if damage == "truncated" else b"x,y,z\n"
        )
    with pytest.raises(Exception, match="COPY could not read a file"):
        run(
            snow,
            Stmt(
                f"COPY INTO {schema}.T FROM @{schema}.FILES FILES=('{name}') "
                f"FILE_FORMAT=({FORMAT.format(compression='GZIP')}) ON_ERROR=ABORT_STATEMENT FORCE=TRUE"
            ),
        )
    assert run(snow, Stmt(f"SELECT COUNT(*) FROM {schema}.T"))[0][0] == 0


def test_a_gzip_file_larger_than_the_emulator_decompresses_itself_loads_every_row(snow, s3, schema):
    """Past csv_reads.SMALL_GZIP (16 MiB compressed) DuckDB decompresses the file as it reads it."""
    import os

    rows = [f'"{i}","{os.urandom(300).hex()}",""\n'.encode() for i in range(50_000)]
    body = gzip.compress(b"".join(rows), compresslevel=1)
    assert len(body) > 16 << 20
    loaded = _copy(snow, s3, schema, "large.csv.gz", body, compression="GZIP")
    assert len(loaded) == 50_000 and sorted(int(a) for a, _, _ in loaded) == list(range(50_000))
    assert {len(b) for _, b, _ in loaded} == {600} and {c for _, _, c in loaded} == {""}


def test_a_json_file_loads_and_one_that_is_not_json_fails_naming_the_staged_file(snow, s3, schema):
    """COPY of JSON reads the fetched file (csv_reads); DuckDB's error names the staged file's URL."""
    run(snow, Stmt(f"CREATE OR REPLACE TABLE {schema}.J (DOC VARIANT, F VARCHAR)"))
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "docs/a.json", Body=b'{"n": 1}\n{"n": 2}\n')
    copy = (
        f"COPY INTO {schema}.J (DOC, F) FROM (SELECT $1, METADATA$FILENAME FROM @{schema}.FILES/docs/) "
        "FILE_FORMAT=(TYPE=JSON)"
    )
    run(snow, Stmt(copy))
    rows = run(snow, Stmt(f"SELECT DOC:n::NUMBER AS N, F FROM {schema}.J ORDER BY N"))
    assert [tuple(r) for r in rows] == [(1, PREFIX + "docs/a.json"), (2, PREFIX + "docs/a.json")]
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "docs/b.json", Body=b'{"n": 3')
    with pytest.raises(Exception, match=f"s3://{BUCKET}/{PREFIX}docs/b.json") as refused:
        run(snow, Stmt(copy))
    assert "aurora-copy" not in str(refused.value)
