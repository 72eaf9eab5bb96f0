"""The manifest signature contract (sync_contract.signing)."""

from __future__ import annotations

import json

import pytest

from sync_contract.errors import ManifestError
from sync_contract.signing import KeyFormatError, SigningKey, parse_keys, parse_signing_key, sign, verify

pytestmark = pytest.mark.unit

KEY = SigningKey("k1", bytes(range(32)))
DOC = {"export_id": "x1", "rows": 3, "table": {"schema": "public", "name": "é"}, "window": {"high": None}}


def test_a_signed_manifest_verifies_after_a_round_trip_through_json_with_other_key_order() -> None:
    signed = sign(DOC, KEY)
    reordered = json.loads(json.dumps(dict(reversed(list(signed.items()))), indent=2, ensure_ascii=False))
    assert verify(reordered, {"k1": KEY.secret, "k0": b"\0" * 32}) == "k1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("signature"), "signature"),
        (lambda d: d.__setitem__("rows", 0), "signature.value"),
        (lambda d: d["table"].__setitem__("name", "other"), "signature.value"),
        (lambda d: d["signature"].__setitem__("key_id", "k9"), "signature.key_id"),
        (lambda d: d["signature"].__setitem__("algorithm", "none"), "signature.algorithm"),
        (lambda d: d.__setitem__("signature", "abc"), "signature"),
        (lambda d: d["signature"].__setitem__("value", "é" * 64), "signature.value"),  # not ASCII: no TypeError
    ],
)
def test_a_changed_or_unsigned_manifest_is_refused_naming_the_field(change, field) -> None:
    doc = json.loads(json.dumps(sign(DOC, KEY)))
    change(doc)
    with pytest.raises(ManifestError) as err:
        verify(doc, {"k1": KEY.secret})
    assert err.value.path == field
    assert KEY.secret.hex() not in str(err.value)


def test_key_text_parsing_and_errors_without_key_material() -> None:
    hex_key = "ab" * 32
    assert parse_keys(f" k1:{hex_key},\nk2:{'cd' * 40} ") == {
        "k1": bytes.fromhex(hex_key),
        "k2": bytes.fromhex("cd" * 40),
    }
    assert parse_signing_key(f"k1:{hex_key}") == SigningKey("k1", bytes.fromhex(hex_key))
    for bad in ("", "k1", f"k1:{hex_key[:-1]}", "k1:" + "ab" * 16, f"k1:{hex_key},k1:{hex_key}", f"bad id:{hex_key}"):
        with pytest.raises(KeyFormatError) as err:
            parse_keys(bad)
        assert hex_key not in str(err.value)
    with pytest.raises(KeyFormatError):
        parse_signing_key(f"k1:{hex_key},k2:{hex_key}")
