"""The key the exporter signs its manifests with (sync_contract.signing): from Vault, else the environment.

- Vault (the Lambda): when `VAULT_ADDR` and `VAULT_SECRET_PATH_MANIFEST_KEY` are set, a KV v2 secret at
  that path with the fields `key_id` (letters, digits, `.`, `_`, `-`) and `key` (at least 32 bytes, hex),
  read with the same login as the source credentials (secrets.py). It is cached for MAX_AGE_S seconds, so
  a key rotated in Vault is used by every warm execution environment within that time (docs/DEPLOYMENT.md,
  'Rotating the key').
- otherwise `AURORA_SYNC_MANIFEST_SIGNING_KEY` = `<key_id>:<hex>` (local runs, the embedded stack's
  test process).

Neither set: `signing_key()` raises ExportError naming both settings, before anything is read or
written: the exporter never writes an unsigned manifest. No message carries key material.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from lambda_exporter.errors import ExportError
from lambda_exporter.secrets import SecretMalformedError, VaultSecret, VaultSettings
from sync_contract.signing import KeyFormatError, SigningKey, parse_signing_key

KEY_ENV = "AURORA_SYNC_MANIFEST_SIGNING_KEY"
VAULT_PATH_ENV = "VAULT_SECRET_PATH_MANIFEST_KEY"
MAX_AGE_S = 300.0


class VaultManifestKey(VaultSecret[SigningKey]):
    required_fields = ("key_id", "key")

    def parse(self, data: dict[str, Any]) -> SigningKey:
        key_id, key = data["key_id"], data["key"]
        if not isinstance(key_id, str) or not isinstance(key, str):
            raise SecretMalformedError(f"the secret at {self.settings.where}: key_id and key must be strings")
        try:
            return parse_signing_key(f"{key_id.strip()}:{key.strip()}")
        except KeyFormatError as err:
            raise SecretMalformedError(f"the manifest signing key at {self.settings.where} {err}") from None


@lru_cache(maxsize=4)
def _vault_key(settings: VaultSettings) -> VaultManifestKey:
    """One cache per Vault location for the execution environment's life."""
    return VaultManifestKey(settings, max_age_s=MAX_AGE_S)


def signing_key(env: dict[str, str] | None = None) -> SigningKey:
    """The manifest signing key (module docstring). Raises ExportError (a SecretError for Vault's
    failures) naming the settings when there is none or it is malformed."""
    e = os.environ if env is None else env
    if e.get(VAULT_PATH_ENV):
        settings = VaultSettings.from_env(dict(e), path_env=VAULT_PATH_ENV, what="the manifest signing key")
        return _vault_key(settings).get()
    text = e.get(KEY_ENV)
    if not text:
        raise ExportError(
            f"no manifest signing key: set {VAULT_PATH_ENV} (with VAULT_ADDR: a Vault KV v2 secret with fields "
            f"key_id and key) or {KEY_ENV} ('<key_id>:<hex>', e.g. `echo k1:$(openssl rand -hex 32)`). The "
            "exporter does not write unsigned manifests: the loader refuses them (docs/DEPLOYMENT.md, "
            "'Manifest signing key')"
        )
    try:
        return parse_signing_key(text)
    except KeyFormatError as err:
        raise ExportError(f"environment variable {KEY_ENV} {err}") from None
