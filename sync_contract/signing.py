"""Manifest signatures: HMAC-SHA256 (RFC 2104) over the manifest's canonical JSON, keyed by a shared key.

The exporter signs every manifest it writes; the procedures verify the signature before a manifest
enters the ledger, so a writer of the bucket's `manifests/` prefix who does not hold the key cannot make
one the loader accepts (docs/SECURITY.md, threat model).

Shapes:
- a manifest carries ``"signature": {"algorithm": "HMAC-SHA256", "key_id": "<id>", "value": "<64 hex>"}``;
- the signed bytes are the manifest without its ``signature`` member, serialised with sorted keys, no
  white space and ASCII escapes (``canonical``). Snowflake keeps a JSON document's members and values
  through a VARIANT (the manifest has no floating point numbers, and its integers are at most 2^63-1), so
  the procedures rebuild the same bytes from the INBOX's VARIANT;
- keys are written as text ``<key_id>:<hex>``, several separated by commas or white space (``parse_keys``):
  during a rotation the verifier holds the old and the new key, the exporter signs with one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_contract.errors import ManifestError

ALGORITHM = "HMAC-SHA256"
SIGNATURE_FIELD = "signature"
MIN_KEY_BYTES = 32  # RFC 2104 section 3: a key shorter than the hash output (32 bytes) weakens the MAC
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # used with fullmatch
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class KeyFormatError(ValueError):
    """A key text that cannot be used; the message never contains key material."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes = field(repr=False)


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: ``doc`` without its signature member, in canonical JSON."""
    body = {k: v for k, v in doc.items() if k != SIGNATURE_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def mac(doc: Mapping[str, Any], secret: bytes) -> str:
    return hmac.new(secret, canonical(doc), hashlib.sha256).hexdigest()


def sign(doc: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """A copy of ``doc`` carrying its signature by ``key``."""
    signed = {k: v for k, v in doc.items() if k != SIGNATURE_FIELD}
    signed[SIGNATURE_FIELD] = {"algorithm": ALGORITHM, "key_id": key.key_id, "value": mac(signed, key.secret)}
    return signed


def verify(doc: Mapping[str, Any], keys: Mapping[str, bytes]) -> str:
    """Check ``doc``'s signature against ``keys`` (key id -> key); returns the key id that signed it.

    Raises ManifestError (field ``signature``) when the manifest is unsigned, names a key the verifier
    does not hold, or its value does not match: the message says which, never a key or the expected MAC.
    """
    signature = doc.get(SIGNATURE_FIELD)
    if signature is None:
        raise ManifestError(
            SIGNATURE_FIELD,
            "is missing: the manifest is unsigned. Manifests are signed by the exporter with the manifest key "
            "(docs/DEPLOYMENT.md, 'Manifest signing key'); one written by anything else is not loaded",
        )
    if not isinstance(signature, dict) or set(signature) != {"algorithm", "key_id", "value"}:
        raise ManifestError(SIGNATURE_FIELD, 'must be {"algorithm": ..., "key_id": ..., "value": ...}')
    if signature["algorithm"] != ALGORITHM:
        raise ManifestError(f"{SIGNATURE_FIELD}.algorithm", f"must be {ALGORITHM!r}, got {signature['algorithm']!r}")
    key_id = signature["key_id"]
    if not isinstance(key_id, str) or key_id not in keys:
        held = ", ".join(sorted(keys)) or "none"
        raise ManifestError(
            f"{SIGNATURE_FIELD}.key_id",
            f"{str(key_id)[:64]!r} is not a key the procedures hold (they hold: {held}); if the exporter's key "
            "was rotated, add the new key to the MANIFEST_KEY secret (docs/DEPLOYMENT.md, 'Rotating the key')",
        )
    value = signature["value"]
    # compared as bytes: compare_digest refuses text that is not ASCII (a TypeError, not a refusal)
    expected = mac(doc, keys[key_id]).encode()
    if not isinstance(value, str) or not hmac.compare_digest(value.lower().encode("utf-8", "replace"), expected):
        raise ManifestError(
            f"{SIGNATURE_FIELD}.value",
            f"does not match the manifest's content under key {key_id!r}: the manifest was changed after the "
            "exporter signed it, or was not written by the exporter",
        )
    return key_id


def parse_keys(text: str) -> dict[str, bytes]:
    """``"k1:<hex>, k2:<hex>"`` -> {"k1": bytes, "k2": bytes}. Raises KeyFormatError naming the entry's
    position and key id (never its material) when an entry is malformed or shorter than 32 bytes."""
    keys: dict[str, bytes] = {}
    entries = [e for e in re.split(r"[\s,]+", text.strip()) if e]
    if not entries:
        raise KeyFormatError("holds no key: write '<key_id>:<hex>' (generate one with `openssl rand -hex 32`)")
    for position, entry in enumerate(entries, 1):
        key_id, _, material = entry.partition(":")
        if not _KEY_ID.fullmatch(key_id) or not _HEX.fullmatch(material):
            raise KeyFormatError(
                f"entry {position} is not '<key_id>:<hex>' (a key id of letters, digits, '.', '_' or '-', "
                "then an even number of hex digits)"
            )
        secret = bytes.fromhex(material)
        if len(secret) < MIN_KEY_BYTES:
            raise KeyFormatError(
                f"key {key_id!r} is {len(secret)} bytes; use at least {MIN_KEY_BYTES} (openssl rand -hex 32)"
            )
        if key_id in keys:
            raise KeyFormatError(f"key id {key_id!r} appears twice")
        keys[key_id] = secret
    return keys


def parse_signing_key(text: str) -> SigningKey:
    """The exporter's one signing key, ``"<key_id>:<hex>"``; raises KeyFormatError like ``parse_keys``."""
    keys = parse_keys(text)
    if len(keys) != 1:
        raise KeyFormatError(f"holds {len(keys)} keys; the exporter signs with exactly one '<key_id>:<hex>'")
    ((key_id, secret),) = keys.items()
    return SigningKey(key_id, secret)
