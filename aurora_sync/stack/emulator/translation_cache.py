"""The emulator's translation of a query to DuckDB, kept for the next time the same query comes.

fakesnow translates every statement with about eighty passes over its syntax tree
(`FakeSnowflakeCursor._transform`); for the product's large statements (the staged checks of a wide table,
one SELECT of some thirty aggregates) that took longer than DuckDB took to run them. A sync cycle sends the
same statements every time, with other bind values, so the translation of a SELECT, INSERT, UPDATE or
DELETE (or of a MERGE's part, each of which is one of those or fakesnow's `merge_candidates` table) is
kept, by the statement's parsed form (every argument of every node: sqlglot's generated text drops
some, such as PARSE_JSON's 'd'), and a copy of it is used again, with the DuckDB text fakesnow
generated from it the first time (the same generator on the same tree). The session's current database
and schema (the only session state those passes read for such statements) are part of the key only
for a statement naming a table DATABASES, the one such statement a pass translates by them
(`_reads_session`): a CREATE SCHEMA, which makes the new schema the session's, no longer makes every
control statement of the next cycle be translated again. Not kept: anything else
(DDL, COPY, PUT, SHOW, SET; a MERGE is split into its parts first, which reads the target's columns
every time: merge_rewrite), and statements whose
translation depends on more than their text: IDENTIFIER(?) (reads the bind values) and session variables.
This changes how fast the emulator answers, never what: the same passes ran once on the same input.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlglot import exp

MAX_ENTRIES = 512  # statements of every control table and configured table, with room to spare
_KINDS = (exp.Select, exp.Union, exp.Insert, exp.Update, exp.Delete)


def _merge_candidates(expression: exp.Expr) -> bool:
    """fakesnow's first part of a MERGE: `CREATE OR REPLACE TEMPORARY TABLE merge_candidates AS SELECT ...`
    (fakesnow.transforms.merge), which the translation passes treat as its SELECT."""
    table = expression.this if isinstance(expression, exp.Create) else None
    return isinstance(table, exp.Table) and table.name.lower() == "merge_candidates"


def _reads_session(expression: exp.Expr) -> bool:
    """Whether fakesnow's passes may translate `expression` (of a kind kept here) differently in another
    session: of its passes, those given the session's database or schema act on USE, SHOW, stage and
    CREATE DATABASE statements (never kept), except information_schema_databases, which reads the
    current schema for a table named DATABASES."""
    return any(table.name.upper() == "DATABASES" for table in expression.find_all(exp.Table))


def _cacheable(expression: exp.Expr) -> bool:
    if not (isinstance(expression, _KINDS) or _merge_candidates(expression)):
        return False
    for node in expression.walk():
        if isinstance(node, exp.Parameter | exp.SessionParameter) or type(node).__name__ == "DynamicIdentifier":
            return False  # session variables, IDENTIFIER(...) (sqlglot's DynamicIdentifier: it may read a bind)
        if isinstance(node, exp.Anonymous) and str(node.this).upper() in {"IDENTIFIER", "RESULT_SCAN"}:
            return False
    return True


class _Kept:
    """A translation, and the DuckDB text fakesnow generated from it (once it has: `_execute` generates
    `transformed.sql(dialect="duckdb")` right after the translation, changing nothing in between)."""

    __slots__ = ("text", "tree")

    def __init__(self, tree: exp.Expr) -> None:
        self.tree: exp.Expr = tree
        self.text: str | None = None


def _generating(tree: exp.Expr, kept: _Kept) -> exp.Expr:
    """`tree`, whose DuckDB text is `kept.text` when known, else generated once and remembered there
    (sqlglot's generation of the staged checks of a wide table took ~50 ms each time).

    Correct only while nothing edits the tree between fakesnow's translation and `_execute`'s
    `.sql("duckdb")` (strict_values and result_description read it, never change it): a future patch of
    `_execute` that edits the tree must drop the kept text, or it would run the stale statement."""
    generate = tree.sql

    def sql(dialect: Any = None, **opts: Any) -> str:
        if dialect != "duckdb" or opts:
            return generate(dialect=dialect, **opts)
        if kept.text is None:
            kept.text = generate(dialect=dialect)
        return kept.text

    tree.sql = sql  # type: ignore[method-assign,assignment]  # this object only: a copy of it generates as before
    return tree


def patch(duck_conn: Any = None) -> None:
    """Keep fakesnow's translations as the module docstring says (applied last: it wraps every other patch
    of `_transform`)."""
    del duck_conn
    from fakesnow import cursor

    original = cursor.FakeSnowflakeCursor._transform
    kept: OrderedDict[tuple[str, Any], _Kept] = OrderedDict()
    lock = threading.Lock()

    def transform(self: Any, expression: exp.Expr, params: Any) -> Any:
        if not _cacheable(expression):
            return original(self, expression, params)
        session = (self._conn.database, self._conn.schema) if _reads_session(expression) else None
        key = (repr(expression), session)  # every argument, unlike .sql()
        with lock:
            found = kept.get(key)
            if found is not None:
                kept.move_to_end(key)
        if found is not None:
            return _generating(found.tree.copy(), found)
        translated = original(self, expression, params)
        entry = _Kept(translated.copy())
        with lock:
            kept[key] = entry
            while len(kept) > MAX_ENTRIES:
                kept.popitem(last=False)
        return _generating(translated, entry)

    cursor.FakeSnowflakeCursor._transform = transform  # type: ignore[method-assign]
