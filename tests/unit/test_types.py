import pytest

from sync_contract.errors import UnsupportedTypeError
from sync_contract.types import Kind, classify_change, map_type


@pytest.mark.parametrize(
    ("pg", "kind", "snowflake"),
    [
        ("smallint", Kind.INTEGER, "NUMBER(38,0)"),
        ("integer", Kind.INTEGER, "NUMBER(38,0)"),
        ("bigint", Kind.INTEGER, "NUMBER(38,0)"),
        ("numeric(12,2)", Kind.NUMBER, "NUMBER(12,2)"),
        ("numeric(38,18)", Kind.NUMBER, "NUMBER(38,18)"),
        ("numeric(10)", Kind.NUMBER, "NUMBER(10,0)"),
        ("numeric", Kind.NUMBER, "NUMBER(38,18)"),
        ("real", Kind.FLOAT, "FLOAT"),
        ("double precision", Kind.FLOAT, "FLOAT"),
        ("boolean", Kind.BOOLEAN, "BOOLEAN"),
        ("text", Kind.TEXT, "VARCHAR"),
        ("character varying(20)", Kind.TEXT, "VARCHAR"),
        ("character(2)", Kind.TEXT, "VARCHAR"),
        ("citext", Kind.TEXT, "VARCHAR"),
        ("date", Kind.DATE, "DATE"),
        ("timestamp without time zone", Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)"),
        ("timestamp(3) without time zone", Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)"),
        ("timestamp with time zone", Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)"),
        ("time without time zone", Kind.TIME, "TIME(6)"),
        ("json", Kind.JSON, "VARIANT"),
        ("jsonb", Kind.JSON, "VARIANT"),
        ("integer[]", Kind.ARRAY, "ARRAY"),
        ("text[]", Kind.ARRAY, "ARRAY"),
        ("uuid", Kind.UUID, "VARCHAR(36)"),
        ("bytea", Kind.BINARY, "BINARY"),
        ("interval", Kind.TEXT_REPR, "VARCHAR"),
        ("inet", Kind.TEXT_REPR, "VARCHAR"),
        ("money", Kind.MONEY, "VARCHAR"),
    ],
)
def test_design_type_mapping(pg, kind, snowflake):
    mapping = map_type(pg)
    assert (mapping.kind, mapping.snowflake_type) == (kind, snowflake)


def test_unbounded_numeric_scale_is_configurable_and_checked():
    mapping = map_type("numeric", "price", unbounded_numeric_scale=4)
    assert mapping.snowflake_type == "NUMBER(38,4)"
    assert mapping.unbounded_scale == 4


def test_numeric_wider_than_38_digits_fails_closed_naming_the_column_and_the_fix():
    with pytest.raises(UnsupportedTypeError, match=r"'total' is numeric\(40,2\).*numeric\(38,2\)"):
        map_type("numeric(40,2)", "total")


def test_unknown_type_fails_closed_naming_the_column():
    with pytest.raises(UnsupportedTypeError, match="'shape' has PostgreSQL type 'geometry'"):
        map_type("geometry", "shape")


def test_array_of_unknown_type_fails_too():
    with pytest.raises(UnsupportedTypeError):
        map_type("geometry[]", "shapes")


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        ("NUMBER(38,0)", "NUMBER(38,0)", "same"),  # int -> bigint: both NUMBER(38,0)
        ("NUMBER(10,2)", "NUMBER(14,2)", "widen"),
        ("NUMBER(14,2)", "NUMBER(10,2)", "fits"),
        ("NUMBER(10,2)", "NUMBER(9,1)", "fits"),
        ("NUMBER(10,2)", "NUMBER(12,1)", "incompatible"),  # 11 integer digits do not fit in 8
        ("NUMBER(10,2)", "NUMBER(10,4)", "incompatible"),  # more decimals: would round
        ("NUMBER(12,4)", "NUMBER(12,2)", "incompatible"),  # more integer digits at another scale
        ("VARCHAR(36)", "VARCHAR", "widen"),  # uuid -> text
        ("VARCHAR", "VARCHAR(36)", "fits"),
        ("NUMBER(38,0)", "VARCHAR", "incompatible"),
        ("TIMESTAMP_NTZ(6)", "TIMESTAMP_TZ(6)", "incompatible"),
    ],
)
def test_a_type_change_is_classified_by_what_the_target_column_can_hold(old, new, change):
    assert classify_change(old, new) == change
