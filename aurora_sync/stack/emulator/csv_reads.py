"""How COPY reads a staged file: fetched once, whole, and a CSV file read with the target's columns.

fakesnow's COPY read each file through the s3fs filesystem registered in DuckDB (the object fetched in
ranges on s3fs's own event loop, asked for its size and existence besides) and let DuckDB's CSV sniffer
guess the dialect and the number of columns from the first rows: on a 60,000-row lineitem file that
took longer than DuckDB took to parse and store the rows. Here:

- each `s3://` file a COPY reads (CSV or JSON) is fetched once with one GET into a local temporary
  file named by the key's compression extension (so DuckDB's detection by extension sees what it
  saw), removed when the COPY ends; an error naming that file names the staged file's URL instead, as
  before; a file that cannot be fetched keeps its `s3://` URL, so DuckDB reports it as before;

and for a COPY of CSV into a table's columns (not a transformation, `COPY INTO t FROM (SELECT ...)`,
whose file columns are its own):

- a small file the format says is GZIP is decompressed here (ISA-L) into the temporary file, and its
  length bounds the longest line DuckDB must accept (the 200 MB of `loading.patch_csv_reader` made
  DuckDB allocate a read buffer that large for every file); a stream that does not decompress is left
  to DuckDB, which reports it as before;
- DuckDB is told the dialect instead of sniffing it: the file has as many fields as the COPY's
  column list, or the table's columns (Snowflake's ERROR_ON_COLUMN_COUNT_MISMATCH, TRUE by default,
  refuses any other count: "COPY INTO <table>", copy options,
  https://docs.snowflake.com/en/sql-reference/sql/copy-into-table), each read as text; fields are
  separated by the format's delimiter, and inside a field enclosed in FIELD_OPTIONALLY_ENCLOSED_BY's
  character that character is escaped by doubling it ("CREATE FILE FORMAT", FIELD_OPTIONALLY_ENCLOSED_BY:
  https://docs.snowflake.com/en/sql-reference/sql/create-file-format). A row with another number of
  fields fails the COPY, as one did when the sniffed count differed from the table's.

This changes how fast the emulator loads, not what: the same bytes are parsed by the same reader.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlglot import exp

from aurora_sync.stack.emulator import load_history

MAX_LINE = 200_000_000  # loading.patch_csv_reader's bound: Snowflake's fields go to 128 MB
DEFAULT_MAX_LINE = 2_097_152  # DuckDB's own default max_line_size
# Up to this size a GZIP file is decompressed here: its length then bounds the longest line, where the
# MAX_LINE read buffer cost more than parsing a small file. A larger one DuckDB decompresses as it reads
# (measured on 90 MB of lineitem CSV: faster than writing the text out first).
SMALL_GZIP = 16 << 20
_COPY = threading.local()  # the COPY this thread runs: its column count and temporary folder


def _field_count(conn: Any, expr: exp.Copy, database: str | None, schema: str | None) -> int | None:
    """How many fields each row of the COPY's files has: its column list's length, else the target
    table's column count, read from DuckDB's catalog (a query that cannot fail, so that a COPY in an
    explicit transaction fails, if it does, with its own error); None when unknown."""
    target = expr.this
    if isinstance(target, exp.Schema) and target.expressions:
        return len(target.expressions)
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table):
        return None
    where = [table.catalog or database, table.db or schema, table.name]
    if not all(where):
        return None
    try:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM duckdb_columns() WHERE lower(database_name) = lower(?) "
            "AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
            where,
        ).fetchone()
    except Exception:  # the catalog cannot be read: fakesnow reads the file as before
        return None
    return int(count) or None


def _fetch(url: str, folder: Path, compression: str) -> tuple[Path, bool] | None:
    """`url`'s object in a new file under `folder`, and whether that file holds the text itself (a GZIP
    object of up to SMALL_GZIP bytes decompressed here, or an object the format says is not compressed);
    None when it cannot be fetched or decompressed."""
    if load_history.S3 is None or not url.startswith("s3://"):
        return None
    bucket, _, key = url[len("s3://") :].partition("/")
    number = len(list(folder.iterdir()))
    try:
        found = load_history.S3.get_object(Bucket=bucket, Key=key)
        body = found["Body"]
        if compression == "gzip" and int(found.get("ContentLength") or 0) <= SMALL_GZIP:
            from isal import igzip

            path = folder / f"{number}.data"
            with igzip.GzipFile(fileobj=body, mode="rb") as stream, path.open("wb") as out:  # type: ignore[no-untyped-call]
                shutil.copyfileobj(stream, out, 4 << 20)
            return path, True
        # named by the key's compression extension only (DuckDB reads `*`, `?` or `[` in a path as a glob)
        suffix = next((s for s in (".gz", ".zst") if key.lower().endswith(s)), "")
        path = folder / f"{number}.data{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(body, out, 4 << 20)
        return path, compression == "none"
    except Exception:  # missing, unreadable, not gzip: DuckDB reads the URL and reports it as before
        return None


def _read_options(read: exp.Expr, fields: int, length: int | None) -> None:
    """Tell DuckDB's read_csv the dialect and the columns (module docstring) instead of sniffing them."""
    settings = {e.this.name.lower(): e for e in read.expressions if isinstance(e, exp.EQ)}
    quote = settings["quote"].expression.name if "quote" in settings else '"'
    columns = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.Literal.string(f"column{i}"), expression=exp.Literal.string("VARCHAR"))
            for i in range(fields)
        ]
    )
    extra: dict[str, exp.Expr] = {"columns": columns, "auto_detect": exp.false()}
    if "quote" not in settings:
        extra["quote"] = exp.Literal.string(quote)
    if quote:
        extra["escape"] = exp.Literal.string(quote)
    if "sep" not in settings:
        extra["delim"] = exp.Literal.string(",")
    if length is not None:  # a line is never longer than the file
        extra["max_line_size"] = exp.Literal.number(min(MAX_LINE, max(DEFAULT_MAX_LINE, length + 1)))
        extra["compression"] = exp.Literal.string("none")
    for name, value in extra.items():
        if name in settings:
            settings[name].set("expression", value)
        else:
            read.append("expressions", exp.EQ(this=exp.column(name), expression=value))


def _named(message: str, urls: dict[str, str]) -> str:
    """`message` naming each staged file by its URL where DuckDB named the local copy it read."""
    for path, url in urls.items():
        message = message.replace(path, url)
    return message


def patch(duck_conn: Any = None) -> None:
    """COPY reads as the module docstring says (after loading, load_history and copy_options)."""
    del duck_conn
    import snowflake.connector
    from fakesnow import copy_into, cursor

    original_copy = cursor.copy_into  # type: ignore[attr-defined]
    original_csv = copy_into.ReadCSV.read_expression
    original_json = copy_into.ReadJSON.read_expression

    def copy(conn: Any, current_database: Any, current_schema: Any, expr: exp.Copy, *args: Any, **kwargs: Any) -> Any:
        source = expr.args["files"][0] if expr.args.get("files") else None
        plain = not isinstance(source, exp.Subquery)
        fields = _field_count(conn, expr, current_database, current_schema) if plain else None
        folder = Path(tempfile.mkdtemp(prefix="aurora-copy-"))
        urls: dict[str, str] = {}  # local copy -> the staged file's URL
        _COPY.fields, _COPY.folder, _COPY.urls = fields, folder, urls
        try:
            return original_copy(conn, current_database, current_schema, expr, *args, **kwargs)
        except snowflake.connector.errors.ProgrammingError as err:
            err.msg = _named(err.msg or "", urls)  # an error names the staged file, as Snowflake's do
            raise
        finally:
            _COPY.fields = _COPY.folder = _COPY.urls = None
            with suppress(OSError):
                shutil.rmtree(folder)

    def fetched(url: str, compression: str) -> tuple[Path, bool] | None:
        folder = getattr(_COPY, "folder", None)
        found = _fetch(url, folder, compression) if folder is not None else None
        if found is not None:
            _COPY.urls[str(found[0])] = url
        return found

    def read_csv(self: Any, url: str) -> exp.Expr:
        fields = getattr(_COPY, "fields", None)
        if not fields:
            return original_csv(self, url)
        compression = (self.compression or "").lower()  # "" when the extension decides (AUTO)
        found = fetched(url, compression)
        read = original_csv(self, str(found[0]) if found is not None else url)
        # the file's length, once it holds the text itself (decompressed here, or never compressed)
        _read_options(read, fields, found[0].stat().st_size if found is not None and found[1] else None)
        return read

    def read_json(self: Any, url: str) -> exp.Expr:
        found = fetched(url, "")  # compression by the extension, as DuckDB's read_json_objects detects it
        return original_json(self, str(found[0]) if found is not None else url)

    cursor.copy_into = copy  # type: ignore[attr-defined,assignment]
    copy_into.ReadCSV.read_expression = read_csv  # type: ignore[method-assign]
    copy_into.ReadJSON.read_expression = read_json  # type: ignore[method-assign]
