import pytest

from sync_contract.errors import ContractError
from sync_contract.types import Kind
from sync_contract.watermark import is_after, later, sort_key, timestamp_precision, watermark_kind


def test_timestamps_compare_as_instants_not_as_text():
    assert is_after(Kind.TIMESTAMP_TZ, "2026-01-01 10:00:00.5+00", "2026-01-01 10:00:00+00")
    assert not is_after(Kind.TIMESTAMP_TZ, "2026-01-01 10:00:00+01", "2026-01-01 09:30:00+00")


def test_numbers_compare_numerically():
    assert is_after(Kind.INTEGER, "10", "9")
    assert later(Kind.NUMBER, "9.5", "10") == "10"


def test_none_is_the_beginning_of_time():
    assert later(Kind.INTEGER, None, "1") == "1"
    assert later(Kind.INTEGER, "1", None) == "1"
    assert is_after(Kind.INTEGER, "1", None)
    assert not is_after(Kind.INTEGER, None, "1")


def test_bad_value_is_reported():
    with pytest.raises(ContractError, match="not a valid date"):
        sort_key(Kind.DATE, "yesterday")


def test_text_columns_cannot_carry_a_watermark():
    with pytest.raises(ContractError, match="watermark column 'status'"):
        watermark_kind("text", "status")
    assert watermark_kind("bigint", "version") == Kind.INTEGER


def test_a_date_is_too_coarse_for_a_watermark():
    with pytest.raises(ContractError, match="'changed_on' has type 'date'"):
        watermark_kind("date", "changed_on")


def test_a_timestamp_columns_precision_comes_from_its_type_modifier():
    assert timestamp_precision("timestamp(0) with time zone") == 0
    assert timestamp_precision("timestamp(3) without time zone") == 3
    assert timestamp_precision("timestamp with time zone") == 6  # PostgreSQL's default
    assert timestamp_precision("timestamp without time zone") == 6
