"""The exporter's answer to an asynchronous request (sync_contract.answer): what the procedures accept."""

from __future__ import annotations

import pytest

from sync_contract.answer import answer_doc, answer_key, parse_answer
from sync_contract.errors import ManifestError
from sync_contract.signing import SigningKey, sign

KEY = SigningKey("k1", bytes(range(32)))
KEYS = {"k1": KEY.secret}
RID = "req-" + "0123456789abcdef" * 2
TABLE = {"schema": "public", "name": "orders"}


def test_an_exported_answer_round_trips_with_its_manifest_keys() -> None:
    summary = {
        "status": "exported",
        "rows": 12,
        "manifest_keys": ["p/manifests/public.orders/e1.json"],
        "window": {"low": None, "high": "2026-04-01 00:05:00+00"},
    }
    answer = parse_answer(sign(answer_doc(RID, TABLE, "incremental", "2026-04-01T00:00:00+00:00", summary), KEY), KEYS)
    assert (answer.request_id, answer.status, answer.rows, answer.error) == (RID, "exported", 12, None)
    assert answer.high == "2026-04-01 00:05:00+00"
    assert answer.manifest_keys == ("p/manifests/public.orders/e1.json",)


def test_a_failed_answer_carries_the_exporters_error_and_no_change_stays_no_change() -> None:
    failed = answer_doc(RID, TABLE, "incremental", "t", error=ValueError("column 'x' has type bit(8)"))
    answer = parse_answer(sign(failed, KEY), KEYS)
    assert (answer.status, answer.rows, answer.error) == ("failed", 0, "ValueError: column 'x' has type bit(8)")
    same = parse_answer(sign(answer_doc(RID, TABLE, "full", "t", {"status": "no_change"}), KEY), KEYS)
    assert (same.status, same.manifest_keys) == ("no_change", ())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "done"}, "status"),
        ({"request_id": "req-1"}, "request_id"),
        ({"rows": -1}, "rows"),
        ({"manifest_keys": [1]}, "manifest_keys"),
        ({"status": "failed", "error": None}, "error"),
        ({"version": 2}, "version"),
        ({"window": {"low": None, "high": 5}}, "window"),
    ],
)
def test_a_signed_answer_of_the_wrong_shape_is_refused_naming_the_field(change: dict, field: str) -> None:
    doc = {**answer_doc(RID, TABLE, "incremental", "t", {"status": "exported"}), **change}
    with pytest.raises(ManifestError) as err:
        parse_answer(sign(doc, KEY), KEYS)
    assert err.value.path == field


def test_an_unsigned_or_altered_answer_or_another_document_is_refused() -> None:
    doc = answer_doc(RID, TABLE, "incremental", "t", error=RuntimeError("boom"))
    with pytest.raises(ManifestError, match="unsigned"):
        parse_answer(doc, KEYS)
    altered = {**sign(doc, KEY), "error": "something else"}
    with pytest.raises(ManifestError, match="does not match"):
        parse_answer(altered, KEYS)
    with pytest.raises(ManifestError, match="not an export answer"):
        parse_answer(sign({"export_id": "e1"}, KEY), KEYS)


def test_the_answer_key_is_built_from_a_well_formed_id_only() -> None:
    assert answer_key(RID) == f"answers/{RID}.json"
    for bad in ("req-../x", "req-" + "0" * 31, RID.upper(), RID + "\n"):
        with pytest.raises(ValueError, match="32 hex digits"):
            answer_key(bad)
