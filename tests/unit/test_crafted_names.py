"""Names crafted to break out of quoting stay names in every statement the loader writes: each
statement parses as exactly one statement whose identifiers are the crafted names, verbatim."""

from dataclasses import replace

import sqlglot
from sqlglot import exp

from stored_procs import sql
from stored_procs.loading import key_checks
from stored_procs.spec import Place, TableSpec
from sync_contract.manifest import Column
from tests.factories import manifest

TABLE = 'evil"; DROP TABLE x; --'
COLUMN = "v'); DELETE FROM y; --"


def test_every_load_statement_keeps_crafted_names_inside_their_quotes():
    spec = TableSpec("public", TABLE, ("order_id",), watermark_column="updated_at")
    base = manifest(table=TABLE)
    m = replace(base, columns=(*base.columns, Column(COLUMN, "text", "text", True, 4)))
    place = Place.create("ANALYTICS", "CTL")
    stmts = [
        sql.create_target(spec, "ANALYTICS", sql.target_columns(spec, m)),
        sql.merge(place, spec, m, "ANALYTICS"),
        key_checks.duplicate_keys(place, spec, m),
        sql.add_column(spec, "ANALYTICS", COLUMN.upper(), sql.target_columns(spec, m)[-1][1]),
    ]
    for stmt in stmts:
        parsed = sqlglot.parse(stmt.text, read="snowflake")
        assert len(parsed) == 1, stmt.text  # no second statement smuggled in
        names = {i.name for i in parsed[0].find_all(exp.Identifier)}
        if '"PUBLIC"' in stmt.text:  # the statements on the target table
            assert TABLE.upper() in names, stmt.text
        if "MERGE" in stmt.text or "CREATE" in stmt.text or "ALTER" in stmt.text:
            assert COLUMN.upper() in names, stmt.text
        assert not any(isinstance(e, exp.Drop | exp.Delete) for e in parsed[0].walk())
