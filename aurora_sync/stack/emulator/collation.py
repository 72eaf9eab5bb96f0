"""Column collation `COLLATE 'utf8'`, which DuckDB does not know.

Snowflake compares text by its UTF-8 bytes unless a column has a collation, and an account, database
or schema DEFAULT_DDL_COLLATION gives one to every text column created without a COLLATE clause
("Collation support", https://docs.snowflake.com/en/sql-reference/collation; "Parameters",
DEFAULT_DDL_COLLATION). The product names 'utf8' (byte comparison) on the columns it creates, so that
a case-insensitive default cannot make 'a' and 'A' one key. DuckDB compares bytes already and has no
collation of that name: the clause is dropped here. Any other collation is left for DuckDB to refuse.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp


def _is_utf8(constraint: exp.Expr) -> bool:
    kind = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else None
    return isinstance(kind, exp.CollateColumnConstraint) and kind.this.name.lower() == "utf8"


def drop_utf8(expression: exp.Expr) -> exp.Expr:
    if isinstance(expression, exp.ColumnDef) and any(_is_utf8(c) for c in expression.args.get("constraints") or []):
        kept = expression.copy()
        kept.set("constraints", [c for c in kept.args.get("constraints") or [] if not _is_utf8(c)])
        return kept
    return expression


def patch(duck_conn: Any) -> None:
    del duck_conn
    from fakesnow import transforms

    original = transforms.haversine

    def haversine(expression: exp.Expr) -> exp.Expr:
        return original(drop_utf8(expression))

    transforms.haversine = haversine
