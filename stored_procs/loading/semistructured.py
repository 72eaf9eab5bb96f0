"""Values a VARIANT or ARRAY column would change, found on the staged JSON text before anything is merged.

What Snowflake does, and what we do about it (stored_procs/loading/quarantine.py applies the table's policy):

- Numbers. PARSE_JSON keeps a number exact as a fixed-point NUMBER, but stores a number written with an
  exponent, or one beyond NUMBER's range or scale, as a DOUBLE
  (https://docs.snowflake.com/en/sql-reference/functions/parse_json, usage notes). NUMBER holds 38
  digits of which at most 37 after the point
  (https://docs.snowflake.com/en/sql-reference/data-types-numeric). A number token (outside strings)
  with 39 or more digits, 38 or more decimals, or an exponent is set aside. The test reads the text
  itself, not PARSE_JSON's result (which is already rounded). jsonb and numeric[] never print an
  exponent; a `json` document keeps its text verbatim. Arrays of real / double precision are exempt
  from the exponent rule: their elements are binary floats already and a DOUBLE holds them (as a
  FLOAT column does).
- Duplicate object keys. PostgreSQL `json` keeps every pair (its functions use the last), `jsonb` keeps
  the last; PARSE_JSON refuses duplicates unless given 'd', which keeps the last
  (https://docs.snowflake.com/en/sql-reference/functions/try_parse_json). We do not pick a pair for
  the user: a document with a repeated key is set aside (the fix: replicate the column cast to jsonb
  in a view). Detected as TRY_PARSE_JSON(x) NULL while TRY_PARSE_JSON(x, 'd') is not.
- Array bounds. A Snowflake ARRAY starts at index 0 and keeps no bounds; the exporter writes an array
  whose lower bound is not 1 in PostgreSQL's text form (`[0:2]={7,8,9}`, lambda_exporter/query.py)
  and it is set aside here rather than loaded re-indexed.
- Dates and timestamps inside arrays travel as strings; ±infinity, BC dates and years past 9999 are
  set aside as the same values of a date or timestamp column are.

Conditions are SQL on the staged VARCHAR (an expression), the same text on Snowflake and the
emulator: regular expressions without backslashes (the engines unescape string literals
differently), CHR(92) for a backslash.
"""

from __future__ import annotations

from sync_contract.types import Kind, TypeMapping

MAX_DIGITS = 38  # NUMBER's precision
MAX_DECIMALS = 37  # NUMBER's largest scale
_ELEMENT_TARGET = {Kind.DATE: "DATE", Kind.TIMESTAMP_NTZ: "TIMESTAMP_NTZ", Kind.TIMESTAMP_TZ: "TIMESTAMP_TZ"}
_BACKSLASH = "CHR(92)"


def outside_strings(c: str) -> str:
    """The JSON text `c` with every string emptied to `""`: what remains are numbers, true / false /
    null and punctuation. Escaped backslashes, then escaped quotes, are dropped first so that a
    string ends at its real closing quote."""
    unescaped = f"REPLACE(REPLACE({c}, {_BACKSLASH} || {_BACKSLASH}, ''), {_BACKSLASH} || '\"', '')"
    return f'REGEXP_REPLACE({unescaped}, \'"[^"]*"\', \'""\')'


def array_bounds(c: str) -> str:
    """`c` is an array in PostgreSQL's text form with explicit bounds (`[0:2]={…}`, `[1:1][0:2]={…}`)."""
    return f"REGEXP_LIKE(SPLIT_PART({c}, '=', 1), '([[]-?[0-9]+:-?[0-9]+[]])+')"


def checks(c: str, mapping: TypeMapping) -> list[tuple[str, str]]:
    """(condition on the staged VARCHAR `c`, reason) for a VARIANT (JSON) or ARRAY column; [] otherwise."""
    if mapping.kind not in (Kind.JSON, Kind.ARRAY):
        return []
    out: list[tuple[str, str]] = []
    parses = f"TRY_PARSE_JSON({c}, 'd') IS NOT NULL"
    if mapping.kind == Kind.ARRAY:
        bounds = array_bounds(c)
        out.append((bounds, "an array whose lower bound is not 1: a Snowflake ARRAY keeps no bounds"))
        out.append((f"NOT ({parses}) AND NOT {bounds}", "not valid JSON"))
    else:
        out.append((f"NOT ({parses})", "not valid JSON"))
    out.append(
        (
            f"{parses} AND TRY_PARSE_JSON({c}) IS NULL",
            "a JSON object repeats a key, which PARSE_JSON refuses (replicate the column cast to jsonb in a "
            "view to keep the last value of each key, as PostgreSQL's json functions read it)",
        )
    )
    text = outside_strings(c)
    out.append(
        (
            f"REGEXP_COUNT(REPLACE({text}, '.', ''), '[1-9][0-9]{{{MAX_DIGITS}}}') > 0 "
            f"OR REGEXP_COUNT({text}, '[.][0-9]{{{MAX_DECIMALS + 1}}}') > 0",
            f"a number with more than {MAX_DIGITS} digits or {MAX_DECIMALS} decimals, which PARSE_JSON would "
            "store as a DOUBLE (rounded)",
        )
    )
    if mapping.element != Kind.FLOAT:
        out.append(
            (
                f"REGEXP_COUNT({text}, '[0-9][eE]') > 0",
                "a number written with an exponent, which PARSE_JSON would store as a DOUBLE (rounded, or out "
                "of range): replicate the column cast to jsonb in a view to write numbers in full",
            )
        )
    if mapping.element in (Kind.NUMBER, Kind.INTEGER):  # to_json writes NaN and ±Infinity as strings
        out.append(
            (
                f"{c} LIKE '%\"%'",
                "an element is NaN or ±Infinity, which no NUMBER holds (a numeric scalar is set aside alike)",
            )
        )
    if mapping.element in _ELEMENT_TARGET:
        target = _ELEMENT_TARGET[mapping.element]
        out.append((f"LOWER({c}) LIKE '%infinity%'", f"an element is ±infinity, which no {target} holds"))
        out.append(
            (
                f"{c} LIKE '% BC\"%' OR REGEXP_COUNT({c}, '\"[0-9]{{5}}') > 0",
                f"an element is a BC date or a year past 9999, outside {target}",
            )
        )
    return out
