"""SQL rewrites: statements DuckDB lacks or the emulator mistranslates (see the package docstring)."""

from __future__ import annotations

from typing import Any


def patch_swap_with(duck_conn: Any = None) -> None:
    """`ALTER TABLE a SWAP WITH b` as three renames (https://docs.snowflake.com/en/sql-reference/sql/alter-table)."""
    from fakesnow import cursor
    from sqlglot import exp

    original = cursor.FakeSnowflakeCursor._transform_explode

    def rename(table: exp.Table, new_name: exp.Identifier) -> exp.Alter:
        return exp.Alter(this=table.copy(), kind="TABLE", actions=[exp.AlterRename(this=exp.Table(this=new_name))])

    def transform_explode(self: Any, expression: exp.Expr) -> Any:
        swap = expression.find(exp.SwapTable) if isinstance(expression, exp.Alter) else None
        if swap is None:
            return original(self, expression)
        first, second = expression.this, swap.this
        parked = exp.to_identifier(f"{first.name}__SWAPPING", quoted=True)
        parked_table = exp.Table(this=parked, db=first.args.get("db"), catalog=first.args.get("catalog"))
        return [rename(first, parked), rename(second, first.this.copy()), rename(parked_table, second.this.copy())]

    cursor.FakeSnowflakeCursor._transform_explode = transform_explode  # type: ignore[method-assign]


def patch_trim_characters(duck_conn: Any = None) -> None:
    """Keep the characters of `RTRIM(x, chars)` (LTRIM, TRIM) when adding the implicit VARCHAR cast."""
    from fakesnow import transforms
    from sqlglot import exp

    def trim_cast_varchar(expression: exp.Expr) -> exp.Expr:
        if not isinstance(expression, exp.Trim):
            return expression
        operand = expression.this
        if isinstance(operand, exp.Cast) and operand.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
            return expression
        trimmed = expression.copy()
        trimmed.set("this", exp.Cast(this=operand, to=exp.DataType(this=exp.DataType.Type.VARCHAR)))
        return trimmed

    transforms.trim_cast_varchar = trim_cast_varchar


def patch_catalog_quoting(duck_conn: Any = None) -> None:
    """Escape names spliced into the emulator's own catalog SQL (VARCHAR lengths, table comments)."""
    from fakesnow import info_schema

    def esc(name: Any) -> Any:
        return name.replace("'", "''") if isinstance(name, str) else name

    lengths_sql, comment_sql = info_schema.insert_text_lengths_sql, info_schema.insert_table_comment_sql

    def insert_text_lengths_sql(catalog: str, schema: str, table: str, text_lengths: list[tuple[str, int]]) -> str:
        lengths = [(esc(name), size) for name, size in text_lengths]
        return str(lengths_sql(esc(catalog), esc(schema), esc(table), lengths))

    def insert_table_comment_sql(catalog: str, schema: str, table: str, comment: str) -> str:
        return str(comment_sql(esc(catalog), esc(schema), esc(table), esc(comment)))

    info_schema.insert_text_lengths_sql = insert_text_lengths_sql
    info_schema.insert_table_comment_sql = insert_table_comment_sql

    # the status row of CREATE, DROP ... ("SELECT 'Table <name> successfully created.'", "... dropped."):
    # a name holding a quote (a table named fan it's) ended the literal early (HTTP 500); Snowflake runs it
    from string import Template

    from fakesnow import cursor

    class QuotedNames(Template):
        def substitute(self, mapping: Any = None, /, **kws: Any) -> str:
            return super().substitute({k: esc(v) for k, v in {**(mapping or {}), **kws}.items()})

    for attr in [a for a in vars(cursor) if a.startswith("SQL_")]:
        template = getattr(cursor, attr)
        if isinstance(template, Template) and not isinstance(template, QuotedNames):
            setattr(cursor, attr, QuotedNames(template.template))


def patch_merge_without_schema(duck_conn: Any = None) -> None:
    """A MERGE in a session with no current schema. Snowflake runs a MERGE whose tables are fully qualified in
    any session; fakesnow's MERGE builds a helper table that needs the session's schema, and fails its
    `assert catalog and schema` when there is none (a fresh session that ran no CREATE SCHEMA, such as a
    cycle whose control DDL is already in place: stored_procs.orchestration.cycle_state). For the length of
    the statement the session's schema is the MERGE target's own; it is None again afterwards."""
    from fakesnow import cursor
    from sqlglot import exp

    from aurora_sync.stack.emulator import parse_cache

    original = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        conn = self._conn
        if conn._schema is not None or command.lstrip()[:5].upper() != "MERGE":
            return original(self, command, *args, **kwargs)
        merge = parse_cache.parse_one(command)
        target = merge.this if isinstance(merge, exp.Merge) else None
        schema = target.find(exp.Table) if target is not None else None
        if schema is None or not schema.db:
            return original(self, command, *args, **kwargs)
        conn._schema = schema.db
        try:
            return original(self, command, *args, **kwargs)
        finally:
            conn._schema = None

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


def patch_merge_source_driven(duck_conn: Any = None) -> None:
    """fakesnow finds a MERGE's rows with a FULL OUTER JOIN of the whole target and the source, then keeps
    those a WHEN clause applies to. Snowflake's MERGE has no clause for a target row without a source row
    (WHEN NOT MATCHED is about source rows: https://docs.snowflake.com/en/sql-reference/sql/merge), so such
    rows are never kept: a RIGHT OUTER JOIN (every source row, with its target row or none) finds the same
    rows without carrying every other target row, with every column the clauses compare, through the
    join. Same result; a small MERGE into a large table no longer costs a copy of that table (measured on
    3,000,000 lineitem rows, a 1 % MERGE: 0.72 s before, 0.32 s after).

    The join itself then reads only what the ON compares (and each target row's rowid); the target's
    other columns are read for the matched rows alone, by rowid (`_target_by_rowid`): DuckDB reads a
    table's columns for every row it joins, so the join had carried every compared column of every
    target row (6,000,000 lineitem rows, a 1 % MERGE's candidates: 0.22 s before, 0.18 s after)."""
    import importlib

    from sqlglot import exp

    merge = importlib.import_module("fakesnow.transforms.merge")  # the package exports a function of that name
    original = merge._create_merge_candidates

    def create_merge_candidates(merge_expr: exp.Merge) -> exp.Expr:
        candidates: exp.Expr = original(merge_expr)
        select = candidates.args.get("expression")  # only fakesnow's own join: a FULL JOIN in the source stays
        for join in select.args.get("joins") or [] if isinstance(select, exp.Select) else []:
            if str(join.side).upper() == "FULL":
                join.set("side", "RIGHT")
        if isinstance(select, exp.Select):
            _target_by_rowid(select)
        return candidates

    merge._create_merge_candidates = create_merge_candidates  # type: ignore[attr-defined]


RID = "__AURORA_MATCHED_ROWID"  # the matched target row's rowid, between the two joins of _target_by_rowid


def _target_by_rowid(select: Any) -> None:
    """fakesnow's candidates `SELECT <exprs> FROM target [AS t] RIGHT JOIN (<source>) AS s ON <on> WHERE ...`
    become `SELECT <exprs> FROM (SELECT t.rowid AS RID, s.* FROM target [AS t] RIGHT JOIN (<source>) AS s
    ON <on>) AS s LEFT JOIN target [AS t] ON t.rowid = s.RID WHERE ...`: the same rows (a rowid names one
    row; a source row without a match keeps a NULL rowid and so no target row), every expression reading
    the same values under the same names. Only for a source that is an aliased SELECT listing its columns
    by name (none of them RID), so that `s.*` is exactly the columns the expressions name."""
    from sqlglot import exp

    joins, origin = select.args.get("joins") or [], select.args.get("from_")
    target = origin.this if isinstance(origin, exp.From) else None
    if len(joins) != 1 or str(joins[0].side).upper() != "RIGHT" or not isinstance(target, exp.Table):
        return
    source, on = joins[0].this, joins[0].args.get("on")
    query = source.this if isinstance(source, exp.Subquery) and source.alias else None
    if on is None or not isinstance(query, exp.Select) or not query.expressions:
        return
    if any(isinstance(e, exp.Star) or not e.alias_or_name or e.alias_or_name.upper() == RID for e in query.expressions):
        return
    t_ref = target.args["alias"].this if target.alias else target.this
    s_ref = source.args["alias"].this

    def rowid() -> exp.Column:
        return exp.Column(this=exp.to_identifier("rowid"), table=t_ref.copy())

    inner = exp.Select(
        expressions=[exp.alias_(rowid(), RID, quoted=True), exp.Column(this=exp.Star(), table=s_ref.copy())]
    )
    inner.set("from_", exp.From(this=target.copy()))
    inner.set("joins", [joins[0].copy()])
    matched = exp.Column(this=exp.to_identifier(RID, quoted=True), table=s_ref.copy())
    select.set("from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(this=s_ref.copy()))))
    select.set("joins", [exp.Join(this=target.copy(), side="LEFT", on=exp.EQ(this=rowid(), expression=matched))])
