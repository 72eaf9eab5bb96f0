"""COPY's LOAD_UNCERTAIN_FILES and PATTERN options, which fakesnow refuses as unknown copy parameters.

Snowflake keeps a table's load metadata for 64 days; a file older than that (or loaded into a table
since re-created) has an unknown load status, and COPY skips it unless LOAD_UNCERTAIN_FILES = TRUE
("Loading older files" in "Data loading considerations",
https://docs.snowflake.com/en/user-guide/data-load-considerations-load#loading-older-files; "COPY INTO
<table>", copy options). The emulator's load history never expires, so every file's status is known
and the option changes nothing here: it is accepted and dropped (a file the history holds is still
skipped, as Snowflake skips a file whose load status is known).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from sqlglot import exp

_PATTERN = threading.local()  # the PATTERN of the COPY this thread is running (fakesnow runs one per call)


def patch(duck_conn: Any) -> None:
    """LOAD_UNCERTAIN_FILES accepted and dropped (above); PATTERN, which fakesnow refuses, applied: of the
    files under the COPY's location only those whose whole URL the regular expression matches are loaded
    ("COPY INTO <table>", PATTERN: https://docs.snowflake.com/en/sql-reference/sql/copy-into-table)."""
    del duck_conn
    from fakesnow import copy_into

    original, original_glob = copy_into._params, copy_into._source_glob

    def params(expr: exp.Copy, *args: Any, **kwargs: Any) -> Any:
        kept, _PATTERN.regex = [], None
        for p in expr.args.get("params", []):
            name = p.this.name.upper() if isinstance(p.this, exp.Var) else ""
            if name == "PATTERN":
                _PATTERN.regex = re.compile(p.find(exp.Literal).name)
            elif name != "LOAD_UNCERTAIN_FILES":
                kept.append(p)
        stripped = expr.copy()
        stripped.set("params", kept)
        return original(stripped, *args, **kwargs)

    def source_glob(source: str, duck_conn: Any) -> list[str]:
        regex = getattr(_PATTERN, "regex", None)
        if regex is None:
            return list(original_glob(source, duck_conn))
        # every file under the location, in subfolders too (Snowflake lists the whole prefix), then matched
        urls = [r[0] for r in duck_conn.execute("SELECT file FROM glob(?)", [f"{source.rstrip('/')}/**"]).fetchall()]
        return [u for u in urls if regex.fullmatch(u)]

    copy_into._params = params
    copy_into._source_glob = source_glob
