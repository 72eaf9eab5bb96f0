"""`transform`: a Snowflake SQL expression per target column, applied to the typed staged row before it
is written (docs/CUSTOMIZATION.md, "Transform").

An expression sees the row's target columns (after `rename`) with their target types, as the batch
brought them: every expression reads the untransformed values, never another transform's result. Its
result replaces its column in every statement that writes the target (sql.typed_source and
sql.deduplicated_source: the incremental MERGE, the full-mode MERGE and the swap; history loads use the
same sources). Bad-value checks (loading.quarantine) run on the staged values before any transform.

Validated when configured (`problem`: pure, no session) and against the row's columns with a session
(`compile_errors`): a transform of a primary-key or watermark column is refused (they decide which row
a change matches, the windows and the deletes), so are subqueries, `;`, comments and non-deterministic
functions (a row must transform the same way when a batch is applied again after a crash).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, target_name

# Functions whose result changes between two runs over the same row: Snowflake's data generation
# functions ("Data generation functions", https://docs.snowflake.com/en/sql-reference/functions-data-generation:
# NORMAL, RANDOM, RANDSTR, SEQ1/2/4/8, UNIFORM, UUID_STRING, ZIPF) and context functions ("Context
# functions", https://docs.snowflake.com/en/sql-reference/functions-context: CURRENT_*, GETDATE, LOCALTIME,
# LOCALTIMESTAMP, SYSDATE, SYSTIMESTAMP, GETVARIABLE, LAST_QUERY_ID…; CURRENT_DATE, CURRENT_TIME,
# CURRENT_TIMESTAMP, CURRENT_USER, LOCALTIME and LOCALTIMESTAMP also without parentheses). Also refused:
# the AI_* functions (a model's answer) and any function called through a schema (a UDF, SNOWFLAKE.CORTEX.…),
# whose determinism cannot be checked. An unqualified user-defined function is the user's to keep deterministic.
NON_DETERMINISTIC = frozenset(
    {
        "NORMAL",
        "RANDOM",
        "RANDSTR",
        "SEQ1",
        "SEQ2",
        "SEQ4",
        "SEQ8",
        "UNIFORM",
        "UUID_STRING",
        "ZIPF",
        "GETDATE",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "SYSDATE",
        "SYSTIMESTAMP",
        "SYS_CONTEXT",
        "GETVARIABLE",
        "LAST_QUERY_ID",
        "LAST_TRANSACTION",
        "INVOKER_ROLE",
        "INVOKER_SHARE",
        "ALL_USER_NAMES",
    }
)
# context functions that are called without parentheses too ("Context functions", usage notes); any other
# name above is refused only where it is called (a column named CURRENT_BALANCE or NORMAL is a column)
WITHOUT_PARENTHESES = frozenset(
    {"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "LOCALTIME", "LOCALTIMESTAMP"}
)
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$\$.*?\$\$|[A-Za-z_][A-Za-z0-9_$]*|\S", re.S)
_SLOT = "_AURORA_SYNC_T{}"  # a transformed value's column between the two SELECTs of `applied`


def problem(expression: str) -> str | None:
    """Why `expression` cannot be a transform (None: nothing found without a session): an unterminated
    string or quoted name, `;`, a comment (`--`, `//`, `/*`: it could hide text), a subquery (SELECT),
    or a non-deterministic function."""
    tokens = _TOKENS.findall(expression)
    if any(t in ("'", '"', "$") for t in tokens):
        return "has an unterminated string or quoted name"
    quoted = [t for t in tokens if t[0] in "'\"$" and len(t) > 1]
    code = expression
    for text in quoted:  # what is left outside strings and quoted names
        code = code.replace(text, " ", 1)
    words = [t.upper() for t in tokens if t not in quoted]
    if ";" in code:
        return "holds ';': one expression only"
    if "--" in code or "//" in code or "/*" in code:
        return "holds a comment (--, //, /* */): write the expression without one"
    if "SELECT" in words or "WITH" in words:
        return "holds a subquery: a transform reads only its own row's columns"
    # a call: a name before "(", also a quoted one ("RANDOM"() is RANDOM())
    named = [t[1:-1].replace('""', '"') if t.startswith('"') else t.upper() for t in tokens]
    calls = {n for n, after in zip(named, [*tokens[1:], ""], strict=True) if after == "("}
    found = sorted(
        {w for w in calls if w in NON_DETERMINISTIC or w.startswith(("CURRENT_", "AI_"))}
        | (set(words) & WITHOUT_PARENTHESES)
    )
    if qualified := sorted({n for i, n in enumerate(named[1:], 1) if n in calls and tokens[i - 1] == "."}):
        return (
            f"calls {', '.join(qualified)} through a schema (a user-defined or Cortex function): whether its result "
            "is the same on every run cannot be checked; use built-in functions"
        )
    if found:
        return (
            f"calls {', '.join(found)}, whose result changes from one run to the next: a batch applied again "
            "after a crash must write the same values (random, sequence, UUID and context functions are refused)"
        )
    return None


def resolve(transform: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    """The transforms by target column name: a key names a column as written (`EMAIL`, a renamed
    `"Email"`) or by the default rule (`email` -> EMAIL). Raises ValueError naming `transform.<key>`
    when no column of the row has that name."""
    out = {}
    for key, expression in transform.items():
        name = key if key in names else target_name(key)
        if name not in names:
            raise ValueError(
                f"transform.{key}: the row has no column {key!r}; its target columns are {', '.join(names)}"
            )
        out[name] = expression
    return out


def transformed_sources(spec: Any, source_columns: Sequence[str]) -> tuple[str, ...]:
    """The source columns (of `source_columns`) whose target column a `transform` replaces: reconciliation
    compares them by presence (NULL or not), the source's value not being the target's."""
    if not spec.transform:
        return ()
    targets = {spec.column(c): c for c in source_columns}
    wanted = {k if k in targets else target_name(k) for k in spec.transform}
    return tuple(c for t, c in targets.items() if t in wanted)


def applied(select: str, names: Sequence[str], transform: dict[str, str], extra_columns: Sequence[str] = ()) -> str:
    """`select` (a query whose columns are `names`, then `extra_columns`) with each transformed column
    replaced by its expression's result; extra columns are kept as they are. Two SELECTs: the first
    computes each expression under a column name of its own, so an expression never reads another's
    result whatever the engine's rules on select-list aliases; the second puts the results under the
    target names."""
    exprs = resolve(transform, names)
    if not exprs:
        return select
    slots = {name: _SLOT.format(i) for i, name in enumerate(exprs)}
    kept = [quote_ident(n) for n in [*names, *extra_columns]]
    computed = ", ".join(kept + [f"({exprs[n]}) AS {quote_ident(slot)}" for n, slot in slots.items()])
    renamed = ", ".join(
        [f"{quote_ident(slots[n])} AS {quote_ident(n)}" if n in slots else quote_ident(n) for n in names]
        + [quote_ident(n) for n in extra_columns]
    )
    return f"SELECT {renamed} FROM (SELECT {computed} FROM ({select}) AS r) AS t"


def evaluate(relation: str, expression: str, compile_only: bool = False) -> Stmt:
    """Compute `expression` over every row of `relation` (a query over the row's target columns);
    `compile_only`: over none of them (WHERE FALSE), so only compiling it can fail."""
    where = " WHERE FALSE" if compile_only else ""
    return Stmt(f"SELECT COUNT(({expression})) AS N FROM ({relation}) AS r{where}")


def errors(session: Any, relation: str, transform: dict[str, str], compile_only: bool = False) -> dict[str, str]:
    """Each transform that fails over `relation` (`evaluate`), by key, with the engine's message."""
    out = {}
    for key, expression in transform.items():
        try:
            run(session, evaluate(relation, expression, compile_only))
        except Exception as err:  # the engine's compile or evaluation error, as it says it
            out[key] = " ".join(str(err).split())
    return out


def check_compiles(session: Any, spec: Any, database: str) -> None:
    """ADD_TABLE / CONFIGURE_TABLE with a target table that exists: each transform names one of its
    columns and compiles over its (zero) rows, with the target's column names and types. Raises
    ValueError naming `transform.<key>` and the engine's message. Without a target table yet, the first
    load checks the same over the batch's typed rows (`failure`) and fails it closed."""
    if not spec.transform:
        return
    rows = run(
        session,
        Stmt(
            f"SELECT COLUMN_NAME AS NAME FROM {quote_ident(database)}.INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (spec.target_schema, spec.target_table),
        ),
    )
    names = [str(r[0]) for r in rows]
    if not names:
        return
    exprs = resolve(spec.transform, names)
    relation = f"SELECT {', '.join(quote_ident(n) for n in names)} FROM {spec.target(database)}"
    if failing := errors(session, relation, exprs, compile_only=True):
        raise ValueError(
            "; ".join(f"transform.{k}: does not compile: {m}" for k, m in failing.items())
            + " (an expression over the row's target columns, as the target table names them: "
            + ", ".join(names)
            + ")"
        )


def zero_rows(columns: Sequence[tuple[str, Any]]) -> str:
    """A relation of no row with the row's target columns and types (`columns`: sql.target_columns)."""
    items = ", ".join(f"CAST(NULL AS {m.snowflake_type}) AS {quote_ident(n)}" for n, m in columns)
    return f"SELECT {items}"


def check_first_load(session: Any, spec: Any, columns: Sequence[tuple[str, Any]]) -> None:
    """Before a table's first load creates its target: each transform names a column of the row and
    compiles over its columns and types (`zero_rows`). Raises ValueError naming `transform.<key>`."""
    names = [n for n, _ in columns]
    exprs = resolve(spec.transform, names)
    if failing := errors(session, zero_rows(columns), exprs, compile_only=True):
        raise ValueError(
            "; ".join(f"transform.{k}: does not compile: {m}" for k, m in failing.items())
            + ". Nothing was created or merged; fix the expression"
        )


def failure(
    session: Any, relation: str, transform: dict[str, str], names: Sequence[str], what: str, err: Exception
) -> ValueError:
    """The error of a statement writing transformed rows that failed: the transform(s) that do not
    compile over the batch's typed rows (`relation`), else those that fail on one of them, else (each
    computes alone) that a result does not fit its column's type. `what` names the batch."""
    exprs = resolve(transform, names)
    if failing := errors(session, relation, exprs, compile_only=True):
        detail = "; ".join(f"transform.{k}: does not compile: {m}" for k, m in failing.items())
    elif failing := errors(session, relation, exprs):
        detail = "; ".join(f"transform.{k}: fails on a row of {what}: {m}" for k, m in failing.items())
    else:
        detail = (
            f"transform.{', transform.'.join(exprs)}: a result does not fit its column's type on {what} "
            f"(cast it to the column's type in the expression): {' '.join(str(err).split())}"
        )
    return ValueError(f"{detail}. Nothing was merged and the watermark did not move; fix the expression")
