"""Manifests a test writes or changes, signed with the embedded stack's manifest key.

The stack provisions one key per run (the exporter reads it as AURORA_SYNC_MANIFEST_SIGNING_KEY, the
procedures as AURORA_SYNC_MANIFEST_KEYS). A test that changes a manifest to exercise a later check signs
it again, as the exporter would have; a test of the signature itself does not.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sync_contract.signing import parse_signing_key, sign

SIGNING_KEY_ENV = "AURORA_SYNC_MANIFEST_SIGNING_KEY"


def signed_body(doc: dict[str, Any]) -> bytes:
    """`doc` signed with the stack's key, as the bytes of a manifest file."""
    return json.dumps(sign(doc, parse_signing_key(os.environ[SIGNING_KEY_ENV]))).encode()
