"""`aurora-sync reconcile --rows` compares json and array values with exact numbers."""

from __future__ import annotations

import pytest

from aurora_sync.reconcile import normalise
from sync_contract.types import Kind

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", [Kind.JSON, Kind.ARRAY])
def test_a_number_rounded_past_double_precision_and_json_null_for_sql_null_are_differences(kind):
    source = '{"amount": 12345678901234567.89, "n": [1.50]}' if kind == Kind.JSON else "[12345678901234567.89, 1.50]"
    rounded = source.replace("12345678901234567.89", "1.2345678901234568E+16")
    same = source.replace("1.50", "1.5")
    assert normalise(kind, source) != normalise(kind, rounded)  # equal as floats
    assert normalise(kind, source) == normalise(kind, same)
    assert normalise(kind, None) is None and normalise(kind, "null") not in (None, normalise(kind, "{}"))
