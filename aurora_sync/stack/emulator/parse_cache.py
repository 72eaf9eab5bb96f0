"""The emulator's parse of a statement's text, kept for the next time the same text comes.

fakesnow parses every statement at least twice: its HTTP handler parses the text to learn the statement's
type, then the cursor parses it again to translate it (and the emulator's MERGE patches a third time, to
find the ON's range bounds). sqlglot's parse of the product's large statements (the staged checks of a
wide table: 5,000 characters) took ~16 ms each time. A sync cycle sends the same texts every time, with
other bind values, so the tree fakesnow's parser (`fakesnow.dialect.parse_one`: sqlglot's Snowflake
dialect) made of a text is kept, by the text alone (nothing else goes into the parse: binds are sent
apart, session variables are inlined before), and every caller gets a copy of it, which it may change.
A text that does not parse is not kept: each call raises the same syntax error again.
This changes how fast the emulator answers, never what: the same parser ran once on the same input.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlglot import exp

MAX_ENTRIES = 512  # the statements of every control table and configured table, with room to spare
_KEPT: OrderedDict[str, exp.Expr] = OrderedDict()
_LOCK = threading.Lock()
_PARSE: list[Callable[[str], exp.Expr]] = []  # fakesnow's own parse_one, once patched


def parse_one(command: str) -> exp.Expr:
    """fakesnow's parse of `command` (a copy of the kept tree when the text came before); its syntax
    error (snowflake.connector ProgrammingError 1003) when the text does not parse."""
    with _LOCK:
        found = _KEPT.get(command)
        if found is not None:
            _KEPT.move_to_end(command)
    if found is not None:
        return found.copy()
    if not _PARSE:
        from fakesnow import dialect

        _PARSE.append(dialect.parse_one)
    parsed = _PARSE[0](command)
    kept = parsed.copy()
    with _LOCK:
        _KEPT[command] = kept
        while len(_KEPT) > MAX_ENTRIES:
            _KEPT.popitem(last=False)
    return parsed


def patch(duck_conn: Any = None) -> None:
    """Every parse_one fakesnow calls (its dialect module's, and the names its cursor and server imported)
    goes through `parse_one` above; applied first, so the patches that import it get it too."""
    del duck_conn
    from fakesnow import cursor, dialect, server

    _PARSE[:] = [dialect.parse_one]
    dialect.parse_one = parse_one
    cursor.parse_one = parse_one  # type: ignore[attr-defined]
    server.parse_one = parse_one  # type: ignore[attr-defined]
