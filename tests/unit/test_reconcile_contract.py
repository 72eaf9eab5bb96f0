"""The reconciliation contract both sides share: bucket sizing, the exporter's event, the comparison."""

from __future__ import annotations

import pytest

from sync_contract.errors import ContractError
from sync_contract.reconcile import (
    MAX_ROWS_COMPARED,
    ReconcileRequest,
    batches,
    bucket_digits,
    diff_rows,
    differing_buckets,
    is_document,
    is_hashed,
    is_key_hashable,
    node_text,
    parse_request,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("rows", "digits"), [(0, 1), (32_000, 1), (32_001, 2), (512_000, 2), (512_001, 3), (10**8, 4), (10**12, 4)]
)
def test_about_two_thousand_rows_per_bucket(rows, digits):
    assert bucket_digits(rows) == digits


def test_the_event_round_trips_and_bad_events_are_named():
    request = ReconcileRequest("public", "orders", ("id",), 2, ("0a", "ff"))
    assert parse_request(request.to_event()) == request
    for change, message in [
        ({"bucket_digits": 5}, "'bucket_digits' must be 1..4"),
        ({"buckets": ["0A"]}, "'buckets' must be 2-digit lowercase hex"),
        ({"buckets": ["abc"]}, "'buckets' must be 2-digit"),
        ({"primary_key": []}, "'primary_key' must be a non-empty list"),
        ({"table": ""}, "'table' must be a non-empty string"),
    ]:
        with pytest.raises(ContractError, match=message):
            parse_request({**request.to_event(), **change})


def test_only_buckets_whose_fingerprints_differ_are_compared_row_by_row():
    source = {"0": (10, "a"), "1": (5, "b"), "2": (7, "c")}
    target = {"0": (10, "a"), "1": (5, "x"), "3": (1, "d")}
    assert differing_buckets(source, target) == ["1", "2", "3"]
    found = diff_rows({("1",): "h1", ("2",): "h2", ("3",): "h3"}, {("1",): "h1", ("2",): "zz", ("4",): "h4"})
    assert (found.missing, found.extra, found.different, found.total) == ([("3",)], [("4",)], [("2",)], 3)


def test_row_comparisons_are_asked_in_groups_that_fit_a_lambda_response():
    source = {"0": (MAX_ROWS_COMPARED - 10, "a"), "1": (20, "b"), "3": (MAX_ROWS_COMPARED * 2, "c")}
    target = {"0": (5, "x"), "1": (3, "y"), "2": (5, "z")}  # a group is sized by the larger side of each bucket
    assert batches(["0", "1", "2", "3"], source, target) == [["0"], ["1", "2"], ["3"]]


@pytest.mark.parametrize(
    ("pg_type", "document", "hashed", "key"),
    [
        ("jsonb", True, True, False),
        ("json", True, True, False),
        ("numeric(10,2)[]", True, True, False),
        ("text[]", True, True, False),
        ("timestamp with time zone[]", True, True, False),
        ("double precision[]", False, False, False),  # PostgreSQL writes 1e-05: Snowflake holds a DOUBLE
        ("real[]", False, False, False),
        ("double precision", False, False, False),
        ("time without time zone", False, True, True),
        ("numeric(12,2)", False, True, True),
        ("text", False, True, True),
    ],
)
def test_json_and_arrays_are_compared_by_content_floats_by_presence(pg_type, document, hashed, key):
    assert (is_document(pg_type), is_hashed(pg_type), is_key_hashable(pg_type)) == (document, hashed, key)


def test_a_node_text_names_its_type_so_equal_texts_of_other_types_differ():
    assert node_text("string", "x") == "'s' || x"
    assert node_text("boolean", "x") == "'b' || x"
    assert node_text("object", "") == "'o'" and node_text("array", "") == "'a'" and node_text("null", "") == "'z'"
    assert node_text("number", "x").startswith("'n' || CASE WHEN")  # no trailing zeros, -0 is 0
    with pytest.raises(ValueError, match="unknown document node kind"):
        node_text("double", "x")
