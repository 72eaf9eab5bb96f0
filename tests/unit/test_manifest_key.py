"""The exporter's manifest signing key from its environment (lambda_exporter.manifest_key)."""

import pytest

from lambda_exporter.errors import ExportError
from lambda_exporter.manifest_key import signing_key
from lambda_exporter.secrets import SecretError

MATERIAL = "ab" * 32


def test_the_key_comes_from_the_environment():
    key = signing_key({"AURORA_SYNC_MANIFEST_SIGNING_KEY": f"k1:{MATERIAL}"})
    assert (key.key_id, key.secret) == ("k1", bytes.fromhex(MATERIAL))
    assert MATERIAL not in repr(key)


def test_no_key_names_both_settings():
    with pytest.raises(ExportError) as info:
        signing_key({})
    assert "VAULT_SECRET_PATH_MANIFEST_KEY" in str(info.value)
    assert "AURORA_SYNC_MANIFEST_SIGNING_KEY" in str(info.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("k1:" + MATERIAL[:40], "is 20 bytes; use at least 32"),
        (MATERIAL, "is not '<key_id>:<hex>'"),
        (f"k1:{MATERIAL},k2:{MATERIAL}", "holds 2 keys"),
    ],
)
def test_a_malformed_key_is_refused_without_showing_it(text, said):
    with pytest.raises(ExportError, match=said) as info:
        signing_key({"AURORA_SYNC_MANIFEST_SIGNING_KEY": text})
    assert MATERIAL[:40] not in str(info.value)
    assert str(info.value).startswith("environment variable AURORA_SYNC_MANIFEST_SIGNING_KEY")


def test_a_vault_path_without_vault_is_a_configuration_error():
    with pytest.raises(SecretError, match="VAULT_ADDR not set: the exporter cannot find the manifest signing key"):
        signing_key({"VAULT_SECRET_PATH_MANIFEST_KEY": "aurora-sync/k", "AURORA_SYNC_MANIFEST_SIGNING_KEY": "x"})
