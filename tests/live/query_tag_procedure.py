"""Handler of the owner's-rights procedure tests/live/test_live_query_tag.py registers on the account.

It runs statements the way every product procedure does (stored_procs.statement.run inside
query_tag(...): the tag travels as the statement parameter QUERY_TAG, never ALTER SESSION), then one
statement outside the tag. Returns the three values it selected, as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from stored_procs.statement import Stmt, query_tag, run


def main(session: Any, marker: str) -> str:
    with query_tag(step="LIVE_S2", marker=marker):
        first = run(session, Stmt("SELECT ? AS MARKER", (marker,)))[0][0]
        second = run(session, Stmt("SELECT ? || '-tagged-again' AS MARKER", (marker,)))[0][0]
    untagged = run(session, Stmt("SELECT ? || '-untagged' AS MARKER", (marker,)))[0][0]
    return json.dumps([first, second, untagged])
