"""COPY's load history: a staged file changed since it was loaded is loaded again (see the package docstring).

Snowflake keeps load metadata per file with its checksum (ETag): a file that was modified and staged
again has a new checksum and is loaded by the next COPY ("COPY INTO <table>", usage notes: to reload
data "either specify FORCE = TRUE or modify the file and stage it again, which generates a new
checksum"). fakesnow skips every file whose name it loaded before. The product depends on the
difference: an export retried after its manifest was taken in rewrites the manifest at the same key,
and intake must see the later attempt (stored_procs.loading.duplicates). Before each COPY, the history
rows of the target table whose file's ETag changed since the emulator saw it loaded are forgotten.
"""

from __future__ import annotations

from typing import Any

S3: Any = None  # a boto3 S3 client on the stack's endpoint (set by fakesnow_main)
# (database, schema, table, file) -> the file's ETag when the emulator first saw it loaded
_LOADED_ETAGS: dict[tuple[str | None, str | None, str, str], str | None] = {}
_HISTORY = "_fs_information_schema._fs_load_history"


def _etag(url: str) -> str | None:
    """The S3 object's ETag (boto3, not the s3fs filesystem DuckDB reads through: its event loop is busy
    inside a COPY)."""
    if S3 is None or not url.startswith("s3://"):
        return None
    bucket, _, key = url[len("s3://") :].partition("/")
    try:
        return str(S3.head_object(Bucket=bucket, Key=key)["ETag"])
    except Exception:  # gone (COPY will not list it) or unreadable: keep fakesnow's own answer
        return None


def _loaded_files(conn: Any, catalog: str, schema: str | None, table: str) -> list[str]:
    history = f'"{catalog.replace(chr(34), chr(34) * 2)}".{_HISTORY}'
    rows = conn.execute(
        f"SELECT DISTINCT FILE_NAME FROM {history} WHERE TABLE_NAME = ? AND SCHEMA_NAME = ?", [table, schema]
    ).fetchall()
    return [r[0] for r in rows]


def patch(duck_conn: Any = None) -> None:
    from fakesnow import copy_into, cursor

    original = cursor.copy_into  # type: ignore[attr-defined]  # after loading.patch_copy_errors

    def copy_with_checksums(
        conn: Any, current_database: str | None, current_schema: str | None, expr: Any, *args: Any, **kwargs: Any
    ) -> str:
        table = copy_into._extract_table(expr.this)
        schema = table.db or current_schema
        (catalog,) = conn.execute("SELECT current_database()").fetchone()
        for url in _loaded_files(conn, catalog, schema, table.name):
            key = (current_database, schema, table.name, url)
            if key in _LOADED_ETAGS and _LOADED_ETAGS[key] != _etag(url):  # changed since it was loaded
                conn.execute(
                    f"DELETE FROM {_HISTORY} WHERE FILE_NAME = ? AND TABLE_NAME = ? AND SCHEMA_NAME = ?",
                    [url, table.name, schema],
                )
                del _LOADED_ETAGS[key]
        done = str(original(conn, current_database, current_schema, expr, *args, **kwargs))
        # another cursor: fakesnow reads the COPY's result from `conn` after this returns
        for url in _loaded_files(conn.cursor(), catalog, schema, table.name):
            key = (current_database, schema, table.name, url)
            if key not in _LOADED_ETAGS:  # a HEAD only for files this COPY loaded
                _LOADED_ETAGS[key] = _etag(url)
        return done

    cursor.copy_into = copy_with_checksums  # type: ignore[attr-defined,assignment]
