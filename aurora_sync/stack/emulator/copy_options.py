"""COPY's LOAD_UNCERTAIN_FILES option, which fakesnow refuses as an unknown copy parameter.

Snowflake keeps a table's load metadata for 64 days; a file older than that (or loaded into a table
since re-created) has an unknown load status, and COPY skips it unless LOAD_UNCERTAIN_FILES = TRUE
("Loading older files" in "Data loading considerations",
https://docs.snowflake.com/en/user-guide/data-load-considerations-load#loading-older-files; "COPY INTO
<table>", copy options). The emulator's load history never expires, so every file's status is known
and the option changes nothing here: it is accepted and dropped (a file the history holds is still
skipped, as Snowflake skips a file whose load status is known).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp


def patch(duck_conn: Any) -> None:
    del duck_conn
    from fakesnow import copy_into

    original = copy_into._params

    def params(expr: exp.Copy, *args: Any, **kwargs: Any) -> Any:
        kept = [
            p
            for p in expr.args.get("params", [])
            if not (isinstance(p.this, exp.Var) and p.this.name.upper() == "LOAD_UNCERTAIN_FILES")
        ]
        stripped = expr.copy()
        stripped.set("params", kept)
        return original(stripped, *args, **kwargs)

    copy_into._params = params
