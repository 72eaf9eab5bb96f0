"""The names loading.transforms.problem refuses in a `transform` expression, by why: each list names the
Snowflake documentation page it follows."""

from __future__ import annotations

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
# Functions whose result depends on the session rather than the row: the rest of Snowflake's context
# functions ("Context functions", same page: IS_ROLE_IN_SESSION, IS_DATABASE_ROLE_IN_SESSION, …,
# POLICY_CONTEXT, GET_CONDITION_QUERY_UUID; every CURRENT_* is refused by its prefix), and timestamps
# read in the session's time zone or type mapping: TIMESTAMP_LTZ ("Date & time data types", TIMESTAMP_LTZ:
# operations use the session's TIMEZONE) and the unsuffixed TO_TIMESTAMP / TIMESTAMP_FROM_PARTS / TIMESTAMP,
# which map to a variant by the TIMESTAMP_TYPE_MAPPING session parameter ("TO_TIMESTAMP / TO_TIMESTAMP_*",
# https://docs.snowflake.com/en/sql-reference/functions/to_timestamp). A _TZ or _NTZ variant is row-only.
SESSION_CALLS = frozenset(
    {
        "IS_ROLE_IN_SESSION",
        "IS_DATABASE_ROLE_IN_SESSION",
        "IS_APPLICATION_ROLE_IN_SESSION",
        "IS_INSTANCE_ROLE_IN_SESSION",
        "IS_GRANTED_TO_INVOKER_ROLE",
        "POLICY_CONTEXT",
        "GET_CONDITION_QUERY_UUID",
        "TO_TIMESTAMP",
        "TRY_TO_TIMESTAMP",
        "TO_TIMESTAMP_LTZ",
        "TRY_TO_TIMESTAMP_LTZ",
        "TIMESTAMP_FROM_PARTS",
        "TIMESTAMP_LTZ_FROM_PARTS",
        "TIMESTAMPFROMPARTS",
        "TIMESTAMPLTZFROMPARTS",
    }
)
SESSION_TYPES = frozenset({"TIMESTAMP_LTZ", "TIMESTAMPLTZ"})  # refused wherever named (a cast, ::)
SESSION_CAST_TYPES = frozenset({"TIMESTAMP"})  # refused as a cast's type only (TIMESTAMP may name a column)
# context functions that are called without parentheses too ("Context functions", usage notes); any other
# name above is refused only where it is called (a column named CURRENT_BALANCE or NORMAL is a column)
WITHOUT_PARENTHESES = frozenset(
    {"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "LOCALTIME", "LOCALTIMESTAMP"}
)
# Aggregate and window-only functions ("Aggregate functions", https://docs.snowflake.com/en/sql-reference/functions-aggregation;
# "Window functions", https://docs.snowflake.com/en/sql-reference/functions-window): their result depends on other
# rows (a batch's, or the whole relation's), so a transform using one is not a function of its row.
AGGREGATES = frozenset(
    {
        "ANY_VALUE", "APPROX_COUNT_DISTINCT", "APPROX_PERCENTILE", "APPROX_TOP_K", "APPROXIMATE_JACCARD_INDEX",
        "APPROXIMATE_SIMILARITY", "ARRAY_AGG", "ARRAY_UNION_AGG", "ARRAY_UNIQUE_AGG", "AVG", "BITAND_AGG",
        "BITOR_AGG", "BITXOR_AGG", "BIT_AND", "BIT_OR", "BIT_XOR", "BOOLAND_AGG", "BOOLOR_AGG", "BOOLXOR_AGG",
        "CORR", "COUNT", "COUNT_IF", "COVAR_POP", "COVAR_SAMP", "GROUPING", "GROUPING_ID", "HASH_AGG", "HLL",
        "HLL_ACCUMULATE", "HLL_COMBINE", "KURTOSIS", "LISTAGG", "MAX", "MAX_BY", "MEDIAN", "MIN", "MIN_BY",
        "MINHASH", "MINHASH_COMBINE", "MODE", "OBJECT_AGG", "PERCENTILE_CONT", "PERCENTILE_DISC", "SKEW",
        "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "SUM", "VARIANCE", "VARIANCE_POP", "VARIANCE_SAMP", "VAR_POP",
        "VAR_SAMP", "REGR_AVGX", "REGR_AVGY", "REGR_COUNT", "REGR_INTERCEPT", "REGR_R2", "REGR_SLOPE",
        "REGR_SXX", "REGR_SXY", "REGR_SYY", "CUME_DIST", "DENSE_RANK", "FIRST_VALUE", "LAG", "LAST_VALUE",
        "LEAD", "NTH_VALUE", "NTILE", "PERCENT_RANK", "RANK", "RATIO_TO_REPORT", "ROW_NUMBER",
        "CONDITIONAL_CHANGE_EVENT", "CONDITIONAL_TRUE_EVENT",
    }
)  # fmt: skip
# Words that read something other than the row, or name an object: a subquery (SELECT, WITH), a window
# (OVER, QUALIFY) or an ordered aggregate (WITHIN GROUP), a sequence's next value (`seq.NEXTVAL`,
# "Using sequences", https://docs.snowflake.com/en/user-guide/querying-sequences)
REFUSED_WORDS = {
    "SELECT": "a subquery: a transform reads only its own row's columns",
    "WITH": "a subquery: a transform reads only its own row's columns",
    "OVER": "a window (OVER): a transform is a function of its own row, not of the rows around it",
    "QUALIFY": "a window (QUALIFY): a transform is a function of its own row",
    "WITHIN": "an ordered aggregate (WITHIN GROUP): a transform is a function of its own row",
    "NEXTVAL": "a sequence (NEXTVAL): its next value differs on every run",
}
# Calls that name an object by text or read a table ("IDENTIFIER()", https://docs.snowflake.com/en/sql-reference/identifier-literal;
# "TABLE()", https://docs.snowflake.com/en/sql-reference/functions-table), and flattening into rows
REFUSED_CALLS = frozenset({"IDENTIFIER", "TABLE", "FLATTEN", "GENERATOR"})
