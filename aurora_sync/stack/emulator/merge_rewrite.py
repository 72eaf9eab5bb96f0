"""A MERGE's matched UPDATE as an insert of the new versions and a delete of the old rows, in one transaction.

fakesnow runs `WHEN MATCHED ... THEN UPDATE` as a DuckDB `UPDATE target ... FROM merge_candidates WHERE
<the ON condition>`: a second join of the whole target with the candidates, then an in-place update of
every column, which DuckDB does slowly on wide rows (measured on 6,000,000 lineitem rows, 60,000 of them
updated: 0.22 s for the UPDATE, 0.03 s for the delete and insert below). Here the candidates table also
keeps each matched target row's `rowid` and the values of the target columns the clause does not set; the
clause becomes

    INSERT INTO target (every column) SELECT <SET value, or the row's own value> FROM merge_candidates ...
    DELETE FROM target WHERE rowid IN (SELECT <kept rowid> FROM merge_candidates WHERE merge_op = k)

which leaves the same rows (row order is not part of a table's contents). The insert runs first, so a
failure between the two can only leave a row twice, never lose one; and the whole MERGE runs in one DuckDB
transaction when the session has none open (Snowflake's MERGE is one statement, applied whole or not at
all: https://docs.snowflake.com/en/sql-reference/transactions#autocommit), which fakesnow's split into
several statements did not give. A clause whose SET values are not plain source columns or constants (a
bind, a target column, an expression), or a target whose columns DuckDB cannot list, keeps fakesnow's
UPDATE. A target row that two source rows would update fails the MERGE, as on Snowflake.
"""

from __future__ import annotations

import importlib
import re
import threading
from contextlib import suppress
from decimal import Decimal
from typing import Any

from sqlglot import exp, parse_one

from aurora_sync.stack.emulator import parse_cache

_atomic = threading.local()  # set while a MERGE runs in a transaction of its own
# Snowflake runs one MERGE (UPDATE, DELETE) on a table at a time ("Resource locking":
# https://docs.snowflake.com/en/sql-reference/transactions#resource-locking); two sessions' MERGEs here
# would each find its candidates before the other's insert, and both insert a row for one key
_ONE_MERGE_AT_A_TIME = threading.RLock()
_numbered = threading.local()  # set while a MERGE's ON range bounds are sent as numbered binds
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)

ROWID = "__AURORA_ROWID"  # the matched target row's rowid, in merge_candidates


def _kept(index: int) -> str:
    return f"__AURORA_T{index}"  # a target column's value the clause does not set, in merge_candidates


def _target_columns(duck_conn: Any, target: exp.Table) -> list[str] | None:
    """The target's columns in order, or None (fakesnow's UPDATE then stays) when the name is not fully
    qualified, DuckDB does not know it (a table created in this session's open transaction is not visible
    to another cursor), a column is named rowid (it hides DuckDB's row id, which the rewrite deletes by),
    or the table has a PRIMARY KEY or UNIQUE constraint (DuckDB enforces it, so the new version could not
    be inserted before the old one is deleted; Snowflake enforces neither)."""
    if not (target.catalog and target.db and target.name):
        return None
    where, names = "database_name = ? AND schema_name = ? AND table_name = ?", [target.catalog, target.db, target.name]
    try:
        cursor = duck_conn.cursor()
        rows = cursor.execute(
            f"SELECT column_name FROM duckdb_columns() WHERE {where} ORDER BY column_index", names
        ).fetchall()
        (keys,) = cursor.execute(
            f"SELECT COUNT(*) FROM duckdb_constraints() WHERE {where} AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
            names,
        ).fetchone()
    except Exception:
        return None
    columns = [r[0] for r in rows]
    return None if keys or any(c.lower() == "rowid" for c in columns) else columns or None


def _plain(value: exp.Expr, source: str) -> bool:
    """A SET value the candidates table holds: a column of the source, or a constant."""
    if isinstance(value, exp.Column):
        return value.table == source
    return isinstance(value, (exp.Literal, exp.Null, exp.Boolean)) and not value.find(exp.Placeholder)


def _rewritable(merge_expr: exp.Merge, columns: list[str]) -> dict[int, dict[str, exp.Expr]]:
    """The WHEN MATCHED ... THEN UPDATE clauses to rewrite, by their index: each one's SET values by column."""
    source = merge_expr.args["using"].alias_or_name
    known = set(columns)
    plans: dict[int, dict[str, exp.Expr]] = {}
    for index, when in enumerate(merge_expr.args["whens"]):
        then = when.args.get("then")
        if not (when.args.get("matched") and isinstance(then, exp.Update)):
            continue
        sets = {e.this.name: e.expression for e in then.expressions if isinstance(e, exp.EQ)}
        if len(sets) == len(then.expressions) and set(sets) <= known and all(_plain(v, source) for v in sets.values()):
            plans[index] = sets
    return plans


def patch(duck_conn: Any) -> None:
    """Rewrite fakesnow's MERGE as the module docstring says; `duck_conn` lists the target's columns."""
    from fakesnow import cursor

    merge = importlib.import_module("fakesnow.transforms.merge")  # the package exports a function of that name
    original_candidates, original_mutations = merge._create_merge_candidates, merge._mutations

    def plan(merge_expr: exp.Merge) -> tuple[list[str], dict[int, dict[str, exp.Expr]]]:
        # read once per MERGE: fakesnow hands the same expression to its candidates and its mutations
        if "aurora_plan" not in merge_expr.meta:
            columns = _target_columns(duck_conn, merge_expr.this)
            merge_expr.meta["aurora_plan"] = (columns, _rewritable(merge_expr, columns)) if columns else ([], {})
        planned: tuple[list[str], dict[int, dict[str, exp.Expr]]] = merge_expr.meta["aurora_plan"]
        return planned

    def create_merge_candidates(merge_expr: exp.Merge) -> exp.Expr:
        if getattr(_numbered, "on", False):  # the ON's range bounds become $1.. (execute binds their values);
            for i, literal in enumerate(_range_literals(merge_expr), start=1):  # fakesnow writes the ON out
                literal.replace(exp.column(f"{_BOUND}{i}", quoted=True))  # as text: a name survives that
        candidates: exp.Expr = _bind_marks(original_candidates(merge_expr))
        columns, plans = plan(merge_expr)
        select = candidates.args.get("expression")
        if plans and isinstance(select, exp.Select):
            target = merge_expr.this.alias_or_name
            set_everywhere = set(columns).intersection(*plans.values())
            unset = set(columns) - set_everywhere
            kept = [exp.column(c, table=target, quoted=True).as_(_kept(i), quoted=True) for i, c in enumerate(columns)]
            select.select(exp.column("rowid", table=target).as_(ROWID, quoted=True), copy=False)
            select.select(*(k for k, c in zip(kept, columns, strict=True) if c in unset), copy=False)
        return candidates

    def mutations(merge_expr: exp.Merge) -> list[exp.Expr]:
        statements: list[exp.Expr] = [_bind_marks(s) for s in original_mutations(merge_expr)]
        columns, plans = plan(merge_expr)
        if plans:
            statements = [_one_source_row_each(plans), *_rewrite(statements, merge_expr, columns, plans)]
        if getattr(_atomic, "on", False):
            return [exp.Transaction(), *statements, exp.Commit()]
        return statements

    merge._create_merge_candidates = create_merge_candidates  # type: ignore[attr-defined]
    merge._mutations = mutations  # type: ignore[attr-defined]

    original_execute = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        conn = self._conn
        verb = _LEADING_COMMENTS.sub("", command)[:17].upper()
        if verb.startswith(("BEGIN", "START TRANSACTION")):  # fakesnow keeps no such flag in autocommit mode
            conn._aurora_explicit = True
        elif verb.startswith(("COMMIT", "ROLLBACK")):
            conn._aurora_explicit = False
        if not verb.startswith("MERGE"):
            return original_execute(self, command, *args, **kwargs)
        bounds = [] if args or kwargs.get("binding_params") else _range_literals(parse_cache.parse_one(command))
        if bounds:
            # a MERGE bounded by numeric literals (`t.K BETWEEN 100 AND 1500000`, sql.merge) differs from the
            # last one only by them: as numbered binds, its translation is the one translation_cache kept
            kwargs["binding_params"] = [_number(b) for b in bounds]
            _numbered.on = True
        try:
            return _merge(self, conn, command, *args, **kwargs)
        finally:
            _numbered.on = False

    def _merge(self: Any, conn: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        with _ONE_MERGE_AT_A_TIME:
            if not conn._autocommit or conn._in_transaction or getattr(conn, "_aurora_explicit", False):
                return original_execute(self, command, *args, **kwargs)
            _atomic.on = True  # the mutations run between BEGIN and COMMIT (after the candidates table, whose
            try:  # creation writes fakesnow's catalog database, which one DuckDB transaction cannot also write)
                return original_execute(self, command, *args, **kwargs)
            except BaseException:
                with suppress(Exception):  # nothing to roll back when the failure came before BEGIN
                    self._duck_conn.rollback()
                raise
            finally:
                _atomic.on = False

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


def _clause_index(statement: exp.Expr) -> int | None:
    """The WHEN clause a fakesnow mutation applies (its `merge_op = k` condition), or None."""
    for eq in statement.find_all(exp.EQ):
        column, value = eq.this, eq.expression
        if isinstance(column, exp.Column) and column.name.lower() == "merge_op" and isinstance(value, exp.Literal):
            return int(value.this)
    return None


def _rewrite(
    statements: list[exp.Expr], merge_expr: exp.Merge, columns: list[str], plans: dict[int, dict[str, exp.Expr]]
) -> list[exp.Expr]:
    """fakesnow's mutations with each planned clause's UPDATE replaced by its INSERT and DELETE."""
    source = merge_expr.args["using"].alias_or_name
    target = merge_expr.this.copy()
    target.set("alias", None)
    rewritten: list[exp.Expr] = []
    for statement in statements:
        index = _clause_index(statement)
        if not isinstance(statement, exp.Update) or index not in plans:
            rewritten.append(statement)
            continue
        sets = plans[index]
        values = [
            sets[c].sql() if c in sets else exp.column(_kept(i), table=source, quoted=True).sql()
            for i, c in enumerate(columns)
        ]
        names = ", ".join(exp.to_identifier(c, quoted=True).sql() for c in columns)
        rewritten.append(
            parse_one(
                f"INSERT INTO {target.sql()} ({names}) SELECT {', '.join(values)} "
                f"FROM merge_candidates AS {exp.to_identifier(source).sql()} WHERE merge_op = {index}"
            )
        )
        rewritten.append(
            parse_one(
                f'DELETE FROM {target.sql()} WHERE rowid IN (SELECT "{ROWID}" FROM merge_candidates '
                f"WHERE merge_op = {index})"
            )
        )
    return rewritten


def _one_source_row_each(plans: dict[int, dict[str, exp.Expr]]) -> exp.Expr:
    """Fails the MERGE when a target row would be updated from two source rows: Snowflake refuses such a
    MERGE ("Duplicate row detected during DML action"; ERROR_ON_NONDETERMINISTIC_MERGE, TRUE by default:
    https://docs.snowflake.com/en/sql-reference/sql/merge, "Duplicate join behavior"), where the insert
    and delete above would otherwise keep both versions."""
    ops = ", ".join(str(i) for i in sorted(plans))
    return parse_one(
        f"SELECT error('Duplicate row detected during DML action') FROM merge_candidates WHERE merge_op IN ({ops}) "
        f'GROUP BY "{ROWID}" HAVING COUNT(*) > 1 LIMIT 1'
    )


def _range_literals(merge_expr: exp.Expr) -> list[exp.Literal]:
    """The numeric literals bounding a BETWEEN in a MERGE's ON, in order; none for a MERGE with binds of
    its own (numbered and positional binds do not mix)."""
    on = merge_expr.args.get("on") if isinstance(merge_expr, exp.Merge) else None
    if on is None or merge_expr.find(exp.Placeholder):
        return []
    return [
        value
        for between in on.find_all(exp.Between)
        for value in (between.args.get("low"), between.args.get("high"))
        if isinstance(value, exp.Literal) and value.is_number
    ]


def _number(literal: exp.Literal) -> int | Decimal:
    text = literal.this
    return Decimal(text) if any(c in text for c in ".eE") else int(text)


_BOUND = "__AURORA_BOUND_"  # stands for the k-th range bound while fakesnow writes the MERGE's parts out


def _bind_marks(tree: exp.Expr) -> exp.Expr:
    """`tree` with each range-bound stand-in replaced by the numbered bind `$k` it stands for."""
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name.startswith(_BOUND):
            column.replace(exp.Placeholder(this=column.name[len(_BOUND) :]))
    return tree
