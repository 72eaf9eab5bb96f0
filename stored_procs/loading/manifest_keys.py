"""The keys intake verifies manifest signatures with (sync_contract.signing).

Inside Snowflake: the SECRET of TYPE = GENERIC_STRING bound to the intake procedures under the alias
``manifest_key`` (the app's reference MANIFEST_KEY; docs/snowflake/consumer_setup.sql). Its string is
``<key_id>:<hex>[,<key_id>:<hex>...]``: during a rotation it holds the old and the new key. Handler code
reads it with the Secret API (Snowflake docs, "Python API for secret access":
``snowflake.snowpark.secrets.get_generic_secret_string``), which only a procedure whose SECRETS clause
names the alias can do; the secret must be in its external access integration's
ALLOWED_AUTHENTICATION_SECRETS ("CREATE EXTERNAL ACCESS INTEGRATION").

Outside Snowflake (the local runner, the embedded stack) the same text comes from the environment
variable AURORA_SYNC_MANIFEST_KEYS. No key at all is a configuration error, never "accept unsigned".
"""

from __future__ import annotations

import os

from stored_procs.configuration.app_config import NotConfigured
from sync_contract.signing import KeyFormatError, parse_keys

ALIAS = "manifest_key"  # SECRETS = ('manifest_key' = <secret>) on the procedures that take manifests in
ENV = "AURORA_SYNC_MANIFEST_KEYS"

_HOW = (
    "create a SECRET of TYPE = GENERIC_STRING holding '<key_id>:<hex>' (the exporter's key, from Vault), allow "
    "it in the EXPORTER_ACCESS integration and bind the reference MANIFEST_KEY (docs/snowflake/consumer_setup.sql "
    f"steps 4-7); outside Snowflake set {ENV}"
)


def load() -> dict[str, bytes]:
    """key id -> key. Raises NotConfigured naming the secret or variable and the fix (never the key)."""
    text, origin = _from_snowflake(), f"the secret bound as {ALIAS!r} (reference MANIFEST_KEY)"
    if text is None:
        text, origin = os.environ.get(ENV), f"the environment variable {ENV}"
    if not text:
        raise NotConfigured(f"no manifest signing key: manifests cannot be verified, so none is taken in. {_HOW}")
    try:
        return parse_keys(text)
    except KeyFormatError as err:
        raise NotConfigured(f"{origin} {err}") from None


def _from_snowflake() -> str | None:
    """The bound secret's string; None when not running inside Snowflake."""
    try:
        from snowflake.snowpark.secrets import get_generic_secret_string
    except ImportError:  # a Snowpark without the Secret API: Snowflake's own module, when inside Snowflake
        try:
            import _snowflake  # type: ignore[import-not-found]
        except ImportError:
            return None
        get_generic_secret_string = _snowflake.get_generic_secret_string
    try:
        return get_generic_secret_string(ALIAS)
    except NotImplementedError:  # the Secret API exists only inside Snowflake
        return None
    except Exception as err:  # inside Snowflake, but the alias is not bound to a readable secret
        raise NotConfigured(f"the manifest key secret {ALIAS!r} is not usable ({err}): {_HOW}") from None
