"""The embedded stack's Snowflake emulator: fakesnow (on DuckDB) with the patches in this package.

fakesnow is lenient where Snowflake is strict, and differs where the product depends on Snowflake's
documented behaviour. Every workaround lives here, and only here (DESIGN.md section 7); product code
never branches on the emulator. One module per concern, each patch naming the documentation page it
follows:

- `loading`: DuckDB reads `s3://` through an s3fs filesystem pointed at the stack's S3 endpoint;
  DuckDB's CSV reader treats a quoted empty field as NULL and sniffs column types, where Snowflake
  loads `""` as an empty string and text verbatim into VARCHAR columns, so we ask DuckDB to do the
  same (`allow_quoted_nulls=false`, `all_varchar=true`) and to read lines longer than 2 MB; a COPY of
  a missing or unreadable file (a truncated gzip stream) made the emulator answer HTTP 500, which the
  connector retries for its whole network timeout, where Snowflake answers with a SQL error naming the
  file: we turn the emulator's exception into such an error. A COPY of JSON with a transformation
  (`SELECT $1, METADATA$FILENAME FROM @stage/…`, how intake records each manifest's file) reads `$1` as
  the file's JSON value and METADATA$FILENAME as the file's S3 key (the emulator passed both to DuckDB
  as they were).
- `rewrites`: DuckDB has no `ALTER TABLE a SWAP WITH b` (how a shadow table replaces a target
  atomically); the emulator runs it as three renames, Snowflake as one atomic statement
  (https://docs.snowflake.com/en/sql-reference/sql/alter-table). The emulator dropped the characters
  of `RTRIM(x, '0')` (and LTRIM, TRIM) when adding its implicit VARCHAR cast: we keep them. The
  emulator recorded VARCHAR lengths and table comments with names spliced into its own SQL unescaped,
  so `CREATE TABLE` of a name holding a `'` failed (HTTP 500): we escape them. A MERGE in a session with
  no current schema failed (its helper table needs one; Snowflake needs none for qualified names): for
  that statement the session's schema is the target's. fakesnow's MERGE joined the whole target FULL
  OUTER to the source; a RIGHT join finds the same rows (Snowflake has no clause for target rows without
  a source row) without copying the target, and reads only the target columns its ON compares: the
  others are read for the matched rows alone, by rowid.
- `merge_rewrite`: a MERGE's matched UPDATE runs as an insert of the new row versions and a delete of
  the old rows by rowid (DuckDB's in-place UPDATE of wide rows was the slowest part of a small MERGE
  into a large table), and the MERGE's parts run in one transaction, as Snowflake applies a MERGE whole
  (https://docs.snowflake.com/en/sql-reference/transactions#autocommit).
- `parse_cache`: fakesnow parsed each statement's text twice (its HTTP handler, then its cursor), the
  emulator's MERGE patches once more; the parse of a text is kept and a copy of it used again (the same
  parser on the same input).
- `translation_cache`: fakesnow translates each statement with some eighty passes over its syntax tree,
  which took longer than DuckDB took to run the product's large statements; the translation of a
  SELECT, INSERT, UPDATE or DELETE is kept by its text and the session's database and schema and used
  again, with the DuckDB text generated from it (the same passes and generator on the same input: what
  the emulator answers does not change).
- `result_description`: fakesnow described each result by parsing its DuckDB SQL again and running
  DESCRIBE on it; the emulator keeps the names and types DuckDB reported for the result it just produced
  (the same type text) and answers from them.
- `strict_values`: DuckDB's JSON keeps repeated object keys, where Snowflake's PARSE_JSON /
  TRY_PARSE_JSON refuse them unless given 'd'
  (https://docs.snowflake.com/en/sql-reference/functions/parse_json): we refuse them alike (an error,
  or NULL from TRY_PARSE_JSON). DuckDB's TIME holds 24:00:00 (read back by the connector as
  00:00:00), where Snowflake's TIME ends at 23:59:59.999999999
  (https://docs.snowflake.com/en/sql-reference/data-types-datetime#time): a CAST to TIME of such a
  value fails and TRY_CAST gives NULL, as on Snowflake. DuckDB keeps every digit of a JSON number,
  where PARSE_JSON stores a number with an exponent, or beyond NUMBER's 38 digits / 37 decimals, as a
  DOUBLE (parse_json page, usage notes): the emulator rounds such numbers to the DOUBLE (written with an
  exponent) before parsing (one past DOUBLE's range, 1e400, is left as written: the page is silent).
  These refusals come back as SQL errors (DuckDB's `error()` made the emulator answer HTTP 500, which
  the connector retried for its whole network timeout).
- `reserved_names`: Snowflake refuses CURRENT_DATE, CURRENT_TIME, CURRENT_TIMESTAMP, CURRENT_USER,
  LOCALTIME and LOCALTIMESTAMP as column names even double-quoted ("Reserved & limited keywords",
  https://docs.snowflake.com/en/sql-reference/reserved-keywords); DuckDB takes them. The emulator
  refuses them in CREATE TABLE and ALTER TABLE … ADD COLUMN with Snowflake's message.
- `fraction_digits`: sqlglot turns the format element FF9 into DuckDB's `%n`, whose nanosecond
  timestamps end at 1677 and 2262, where Snowflake's TIMESTAMP holds years 1 to 9999 ("Date & time data
  types"): the emulator reads the fraction with `%f` (up to six digits, the most PostgreSQL writes).
- `variant`: the emulator's TYPEOF of a VARIANT says `JSON` and it has no AS_VARCHAR, where Snowflake
  names the stored type (OBJECT, ARRAY, VARCHAR, INTEGER, DECIMAL, DOUBLE, BOOLEAN, NULL_VALUE:
  https://docs.snowflake.com/en/sql-reference/functions/typeof) and AS_VARCHAR gives a string's
  characters or NULL (https://docs.snowflake.com/en/sql-reference/functions/as): we answer alike, a
  number being DOUBLE when its text has an exponent (as PARSE_JSON stores it) and DECIMAL otherwise.
  The emulator's FLATTEN read an object member as `input -> key`, so the empty key "" gave the whole
  object again (a walk of the document never ended), and turned a JSON null array element into SQL
  NULL, where Snowflake gives KEY '' with its value and a VARIANT null
  (https://docs.snowflake.com/en/sql-reference/functions/flatten): our FLATTEN reads members and
  elements with DuckDB's json_each.

- `privileges`: fakesnow has no roles or grants; Snowflake refuses what a role neither owns nor was
  granted (https://docs.snowflake.com/en/user-guide/security-access-control-overview). Sessions that
  log in with a role are checked against a minimal model of ownership and grants of databases,
  schemas, tables and views (the module's docstring says what is and is not modelled).
- `input_formats`: DuckDB reads ISO text as a date or time whatever the setting, where Snowflake reads
  text converted without a format with DATE_INPUT_FORMAT / TIME_INPUT_FORMAT / TIMESTAMP_INPUT_FORMAT,
  which an account may set to anything but AUTO
  (https://docs.snowflake.com/en/sql-reference/date-time-input-output): such a conversion fails here.
- `load_history`: fakesnow skips every file it loaded before by name, where Snowflake loads a file again
  once it was modified and staged again (a new checksum: "COPY INTO <table>", usage notes), as a retried
  export's manifest is: the history of a file changed since its load is forgotten before each COPY.
- `copy_options`: fakesnow refuses COPY's LOAD_UNCERTAIN_FILES; its load history never expires, so the
  option (load files whose load status is unknown, "Data loading considerations", loading older files)
  is accepted and changes nothing here.
- `csv_reads`: fakesnow's COPY read each staged file through s3fs in ranges and let DuckDB's sniffer guess
  the CSV dialect and column count; a COPY of CSV into a table's columns fetches each file once (GZIP
  decompressed here), and tells DuckDB the columns (the COPY's column list or the table's, as
  ERROR_ON_COLUMN_COUNT_MISMATCH requires: https://docs.snowflake.com/en/sql-reference/sql/copy-into-table)
  and the dialect (a quote inside an enclosed field is doubled: CREATE FILE FORMAT,
  FIELD_OPTIONALLY_ENCLOSED_BY). The same bytes are parsed by the same reader.
- `collation`: DuckDB has no collation `'utf8'` (Snowflake's byte comparison, "Collation support"),
  which the product names on the text columns it creates: the clause is dropped (DuckDB compares bytes).
- `notifications`: fakesnow has no notification integrations nor SYSTEM$SEND_SNOWFLAKE_NOTIFICATION
  ("SYSTEM$SEND_SNOWFLAKE_NOTIFICATION"): integrations are kept, a role sends only through one granted to
  it, and a webhook integration's message is POSTed to its URL (any http(s) URL: a test's receiver).
- `null_timestamps`: fakesnow sent a NULL TIMESTAMP_NTZ / _LTZ / _TZ as epoch 0, read by the connector as
  1970-01-01; Snowflake answers NULL ("Data types"): the result's timestamp struct carries the nulls.

- `unhandled`: a statement the emulator cannot run (an exception fakesnow does not expect, e.g. its CREATE
  SCHEMA of a name holding a quote or a dot) was answered with HTTP 500, which the connector retries for its
  whole network timeout (a hung cycle); it is a SQL error naming the statement, as Snowflake answers one.

Adding a workaround: a new module with a function `patch(duck_conn)` (or several), and one entry in
PATCHES below, plus a line in this list naming the page it follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aurora_sync.stack.emulator import (
    collation,
    copy_options,
    csv_reads,
    fraction_digits,
    input_formats,
    load_history,
    loading,
    merge_rewrite,
    notifications,
    null_timestamps,
    parse_cache,
    privileges,
    reserved_names,
    result_description,
    rewrites,
    strict_values,
    translation_cache,
    unhandled,
    variant,
)

# Each patch takes the emulator's shared DuckDB connection (most ignore it) and patches fakesnow in
# place; they run in this order before the server starts.
PATCHES: list[Callable[[Any], None]] = [
    parse_cache.patch,  # first: the patches that import fakesnow's parse_one get the kept parse
    loading.patch_csv_reader,
    loading.patch_copy_errors,
    load_history.patch,
    loading.patch_copy_transform,
    rewrites.patch_swap_with,
    rewrites.patch_trim_characters,
    rewrites.patch_catalog_quoting,
    rewrites.patch_merge_without_schema,
    rewrites.patch_merge_source_driven,
    merge_rewrite.patch,
    strict_values.patch,
    strict_values.patch_errors,
    result_description.patch,
    reserved_names.patch,
    fraction_digits.patch,
    variant.patch_variant_types,
    variant.patch_flatten,
    privileges.patch,
    input_formats.patch,
    copy_options.patch,
    csv_reads.patch,  # after loading, load_history and copy_options: it wraps their COPY and CSV reader
    collation.patch,
    translation_cache.patch,  # after fraction_digits: it keeps what every `_transform` patch produced
    null_timestamps.patch,
    notifications.patch,  # it answers its statements before the privilege model parses them
    unhandled.patch,  # last: around every execute above, an unexpected exception is a SQL error, not HTTP 500
]


def apply(duck_conn: Any) -> None:
    """Apply every patch in PATCHES to fakesnow, `duck_conn` being its shared DuckDB connection."""
    for patch in PATCHES:
        patch(duck_conn)
