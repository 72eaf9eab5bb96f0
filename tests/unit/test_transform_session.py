"""Transforms whose result depends on the session, not only on the row, are refused when configured
(loading.transforms.problem): Snowflake's context functions ("Context functions",
https://docs.snowflake.com/en/sql-reference/functions-context), TIMESTAMP_LTZ (the session's time zone) and
the unsuffixed TO_TIMESTAMP / TIMESTAMP (TIMESTAMP_TYPE_MAPPING); names under the reserved prefix."""

from __future__ import annotations

import pytest

from stored_procs.configuration import schema_map
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.loading.transforms import problem

SESSION = [
    "SYSTEM$WAIT(1)",
    "IS_ROLE_IN_SESSION('X')",
    "IFF(IS_DATABASE_ROLE_IN_SESSION('R'), V, NULL)",
    "IS_APPLICATION_ROLE_IN_SESSION('R')",
    "IS_INSTANCE_ROLE_IN_SESSION('R')",
    "IS_GRANTED_TO_INVOKER_ROLE('R')",
    "POLICY_CONTEXT('x', 'y')",
    "GET_CONDITION_QUERY_UUID()",
    "\"IS_ROLE_IN_SESSION\"('X')",
    "CURRENT_ROLE()",
    "CURRENT_REGION()",
    "CURRENT_SESSION()",
    "CURRENT_ORGANIZATION_NAME()",
    "current_timestamp",
    "TO_TIMESTAMP_LTZ(V)",
    "TRY_TO_TIMESTAMP_LTZ(V)",
    "V::TIMESTAMP_LTZ",
    "CAST(V AS TIMESTAMPLTZ)",
    "TO_TIMESTAMP(V)",
    "TRY_TO_TIMESTAMP(V)",
    "V::TIMESTAMP",
    "CAST(V AS timestamp)",
    "TIMESTAMP_FROM_PARTS(2026, 1, 1, 0, 0, 0)",
    "TIMESTAMP_LTZ_FROM_PARTS(2026, 1, 1, 0, 0, 0)",
]


@pytest.mark.parametrize("expression", SESSION)
def test_a_transform_that_depends_on_the_session_is_refused(expression):
    assert problem(expression) is not None, expression


ROW_ONLY = [
    "V::TIMESTAMP_NTZ",
    "TO_TIMESTAMP_TZ(V)",
    "CAST(V AS TIMESTAMP_TZ(3))",
    "V:timestamp",  # a VARIANT path, not a cast
    "TIMESTAMP || 'x'",  # a column named TIMESTAMP
    "CURRENT_BALANCE + 1",  # a column, not a call
    "UPPER(V)",
]


@pytest.mark.parametrize("expression", ROW_ONLY)
def test_a_transform_of_the_row_only_is_accepted(expression):
    assert problem(expression) is None, (expression, problem(expression))


@pytest.mark.parametrize("expression", ["V || _aurora_sync_raw_from", '"_AURORA_SYNC_T0"', "_Aurora_Sync_Gone"])
def test_a_transform_naming_a_reserved_column_is_refused(expression):
    assert "_AURORA_SYNC_" in (problem(expression) or "")


@pytest.mark.parametrize("value", ["INFORMATION_SCHEMA", "information_schema", '"INFORMATION_SCHEMA"'])
def test_set_schema_map_refuses_information_schema(value):
    with pytest.raises(InvalidSetting, match=r"schema_map\.public: .*read-only"):
        schema_map.parse({"public": value})


@pytest.mark.parametrize("value", ['RAW"Q', "RAW.DOT", "RAW CRM", "  "])
def test_set_schema_map_refuses_what_is_not_a_name(value):
    with pytest.raises(InvalidSetting, match=r"schema_map\.public: .*not a name"):
        schema_map.parse({"public": value})
