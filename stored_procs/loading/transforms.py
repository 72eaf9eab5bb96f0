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
from collections.abc import Iterable, Sequence
from typing import Any

from stored_procs.configuration.renames import RESERVED_PREFIX
from stored_procs.configuration.suggest import did_you_mean, source_names_in
from stored_procs.loading.errors import ConfigRefused
from stored_procs.loading.transform_names import (
    AGGREGATES,
    NON_DETERMINISTIC,
    REFUSED_CALLS,
    REFUSED_WORDS,
    SESSION_CALLS,
    SESSION_CAST_TYPES,
    SESSION_TYPES,
    WITHOUT_PARENTHESES,
)
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, target_name

# Outside strings and quoted names an expression holds names, numbers and these characters only: operators
# (+ - * / % || comparisons), parentheses, commas inside calls, `.` (a qualified name or a decimal point), `:`
# (a VARIANT path, `::` casts) and `[ ]` (an index). Everything else is refused: `;`, `$` (session variables
# $NAME and positional columns $1 read outside the row), `?` and `:name` binds, `@` stages, `{ }`.
_ALLOWED_CHARS = frozenset("+-*/%|(),.:=<>![]")
# Snowflake's string constants: single-quoted with '' and backslash escape sequences (a `\'` inside is a
# quote, not the end: "String & binary data types", escape sequences in single-quoted string constants,
# https://docs.snowflake.com/en/sql-reference/data-types-text#escape-sequences-in-single-quoted-string-constants),
# and dollar-quoted ($$...$$, no escapes: same page, "Dollar-quoted string constants"); double-quoted names
# with "" inside ("Identifier requirements", https://docs.snowflake.com/en/sql-reference/identifiers-syntax).
_TOKENS = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\$\$.*?\$\$|\"(?:[^\"]|\"\")*\"|[A-Za-z_][A-Za-z0-9_$]*|[0-9][A-Za-z0-9_.]*|\S", re.S
)
_RESERVED = RESERVED_PREFIX  # every internal column's prefix (configuration.renames)
_SLOT = _RESERVED + "T{}"  # a transformed value's column between the two SELECTs of `applied`


def _is_literal(token: str) -> bool:
    return len(token) > 1 and (token[0] == "'" or token.startswith("$$") or token[0] == '"')


def problem(expression: str) -> str | None:
    """Why `expression` cannot be a transform (None: nothing found without a session). Tokenized as
    Snowflake reads it (strings with '' and backslash escapes, $$ strings, quoted names), then refused:
    an unterminated string or quoted name; `;`; a comment (`--`, `//`, `/*`: it could hide text); a
    character outside the allowed ones (`_ALLOWED_CHARS`: `$` variables, `?` binds, `@` stages…);
    unbalanced parentheses or brackets, or a `,` / `AS` outside any call (either would end the
    expression and add SQL of its own); a subquery, window, sequence (`REFUSED_WORDS`); an aggregate or
    window function (`AGGREGATES`), IDENTIFIER(), TABLE(), a SYSTEM$ function; a non-deterministic
    function; a function called through a schema."""
    spans = [(m.start(), m.group()) for m in _TOKENS.finditer(expression)]
    tokens = [t for _, t in spans]
    code = [(i, t) for i, (_, t) in enumerate(spans) if not _is_literal(t)]
    adjacent = {
        tokens[i] + tokens[i + 1]
        for i, _ in code
        if i + 1 < len(spans) and spans[i + 1][0] == spans[i][0] + len(tokens[i])
    }
    if ";" in tokens:
        return "holds ';': one expression only"
    if {"--", "//", "/*"} & adjacent:
        return "holds a comment (--, //, /* */): write the expression without one"
    if any(t in ("'", '"') for t in tokens) or "$$" in "".join(t for t in tokens if not _is_literal(t)):
        return "has an unterminated string or quoted name"
    if bad := sorted({t for _, t in code if not t[0].isalnum() and t[0] != "_" and t not in _ALLOWED_CHARS}):
        return (
            f"holds {' '.join(bad)} outside a string: an expression uses names, numbers, strings, operators, "
            "parentheses and calls only ($ variables, ? binds and @ stages read outside the row)"
        )
    depth = 0
    for _, t in code:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(t, 0)
        if depth < 0:
            return "has a ')' or ']' without its opening one: the expression must be balanced"
        if depth == 0 and (t == "," or t.upper() == "AS"):
            return f"holds {t!r} outside any call: one expression only (it would add a column of its own)"
    if depth:
        return "has a '(' or '[' that is never closed: the expression must be balanced"
    words = {t.upper() for _, t in code if t[0].isalpha() or t[0] == "_"}
    for word, why in REFUSED_WORDS.items():
        if word in words:
            return f"holds {why}"
    # a call: a name before "(", also a quoted one ("RANDOM"() is RANDOM())
    named = [t[1:-1].replace('""', '"') if t.startswith('"') else t.upper() for t in tokens]
    calls = {n for n, after in zip(named, [*tokens[1:], ""], strict=True) if after == "("}
    if system := sorted(n for n in {*calls, *words} if n.upper().startswith("SYSTEM$")):
        return f"calls {', '.join(system)}: SYSTEM$ functions act on or read the account, not the row"
    if refused := sorted(calls & AGGREGATES):
        return (
            f"calls {', '.join(refused)}, an aggregate or window function: its result depends on other rows; a "
            "transform is a function of its own row's columns"
        )
    if refused := sorted(calls & REFUSED_CALLS):
        return f"calls {', '.join(refused)}: it names an object or makes rows; a transform reads only its own row"
    found = sorted(
        {w for w in calls if w in NON_DETERMINISTIC or w.startswith(("CURRENT_", "AI_"))}
        | (words & WITHOUT_PARENTHESES)
    )
    if internal := sorted({n for n in named if n.upper().startswith(_RESERVED)}):
        return (
            f"names {', '.join(internal)}: names starting with {_RESERVED} are the sync's own columns, never the "
            "row's; an expression reads the row's target columns"
        )
    casts = {n for i, n in enumerate(named[2:], 2) if tokens[i - 2 : i] == [":", ":"] or named[i - 1] == "AS"}
    if session := sorted((calls & SESSION_CALLS) | (words & SESSION_TYPES) | (casts & SESSION_CAST_TYPES)):
        return (
            f"uses {', '.join(session)}, whose result depends on the session (its roles, time zone or "
            "TIMESTAMP_TYPE_MAPPING), not only on the row: use a _TZ or _NTZ timestamp (TO_TIMESTAMP_TZ, "
            "::TIMESTAMP_NTZ) and no context functions"
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


def target_of(key: str, names: Iterable[str]) -> str:
    """The target column a `transform` key names among `names`: the key as written (`EMAIL`, a renamed
    `"Email"`) or by the default rule (`email` -> EMAIL). The one resolution rule of transform keys
    (`resolve`, `transformed_sources`, configuration.customization)."""
    return key if key in names else target_name(key)


def resolve(transform: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    """The transforms by target column name: a key names a column as written (`EMAIL`, a renamed
    `"Email"`) or by the default rule (`email` -> EMAIL). Raises ValueError naming `transform.<key>`
    when no column of the row has that name."""
    out = {}
    for key, expression in transform.items():
        name = target_of(key, names)
        if name not in names:
            raise ConfigRefused(
                f"transform.{key}: the row has no column {key!r}{did_you_mean(key, names)}; its target columns are "
                f"{', '.join(names)}"
            )
        out[name] = expression
    return out


def transformed_sources(spec: Any, source_columns: Sequence[str]) -> tuple[str, ...]:
    """The source columns (of `source_columns`) whose target column a `transform` replaces: reconciliation
    compares them by presence (NULL or not), the source's value not being the target's."""
    if not spec.transform:
        return ()
    targets = {spec.column(c): c for c in source_columns}
    wanted = {target_of(k, targets) for k in spec.transform}
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
    """Each transform that fails over `relation` (`evaluate`), by key, with the engine's message. With
    `compile_only`, all of them are compiled in one statement first; one by one only when it fails."""
    if compile_only and len(transform) > 1:
        counts = ", ".join(f"COUNT(({e})) AS {quote_ident(f'N{i}')}" for i, e in enumerate(transform.values()))
        try:
            run(session, Stmt(f"SELECT {counts} FROM ({relation}) AS r WHERE FALSE"))
            return {}
        except Exception:  # noqa: S110 (which one fails: each alone below)
            pass
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
        raise ConfigRefused(
            "; ".join(
                f"transform.{k}: does not compile: {m}{source_names_in(exprs[k], spec.rename)}"
                for k, m in failing.items()
            )
            + " (an expression over the row's target columns, as the target table names them: "
            + ", ".join(names)
            + ")"
        )


# (target schema, target table, transforms, the batch's typed columns) compiled in this process:
# `check_first_load` runs once per process for each, never in a steady-state cycle
_COMPILED: set[tuple[Any, ...]] = set()


# SQLSTATE classes of an expression's own failures: 22 (data exception: a value it cannot convert) and
# 42 (syntax error or access rule violation: SQL compilation errors), but not 42501 (insufficient
# privilege). Snowflake reports both through the connector's `sqlstate` ("Handling errors" in the
# Python connector's API reference, https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-api);
# a lock abort, a network error or a suspended warehouse (57P03) is another class, or none.
EXPRESSION_SQLSTATE_CLASSES = ("22", "42")


def sqlstate(err: BaseException) -> str | None:
    """The SQLSTATE of a failed statement (the connector error's, or the one Snowpark wraps); None when
    the error carries none (a network error before any answer)."""
    for candidate in (err, getattr(err, "conn_error", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None


def may_be_expression_error(err: BaseException) -> bool:
    """Whether a statement writing transformed rows may have failed because of a transform: a SQL
    compilation or data error (`EXPRESSION_SQLSTATE_CLASSES`). Anything else is not the transform's."""
    state = sqlstate(err)
    return state is not None and state[:2] in EXPRESSION_SQLSTATE_CLASSES and state != "42501"


def zero_rows(columns: Sequence[tuple[str, Any]]) -> str:
    """A relation of no row with the row's target columns and types (`columns`: sql.target_columns)."""
    items = ", ".join(f"CAST(NULL AS {m.snowflake_type}) AS {quote_ident(n)}" for n, m in columns)
    return f"SELECT {items}"


def check_first_load(session: Any, spec: Any, columns: Sequence[tuple[str, Any]], creates: bool = True) -> None:
    """Before a table's first load in this process, and again when its transforms or the batch's column
    types change: each transform names a column of the row and compiles over its columns and types
    (`zero_rows`: the typed staged row the MERGE source computes it over, sql.typed_source), before the
    first load creates the target (`creates`) and before a load into an existing one (sync.toml is read
    without a session, so a transform added to a loaded table is first compiled here; the app also
    checks at CONFIGURE_TABLE, `check_compiles`). One zero-row statement, kept out of later loads by
    `_COMPILED`. Raises ValueError naming `transform.<key>` and the engine's message."""
    names = [n for n, _ in columns]
    key = (
        spec.target_schema,
        spec.target_table,
        tuple(sorted(spec.transform.items())),
        tuple((n, m.snowflake_type) for n, m in columns),
    )
    if key in _COMPILED:
        return
    exprs = resolve(spec.transform, names)
    if failing := errors(session, zero_rows(columns), exprs, compile_only=True):
        raise ConfigRefused(
            "; ".join(
                f"transform.{k}: does not compile: {m}{source_names_in(exprs[k], spec.rename)}"
                for k, m in failing.items()
            )
            + (
                ". Nothing was created or merged; fix the expression"
                if creates
                else " (over the row's target columns). Nothing was merged and the watermark did not move; fix "
                "the expression"
            )
        )
    _COMPILED.add(key)


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
