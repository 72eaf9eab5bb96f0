"""Where intake's manifest keys come from (stored_procs.loading.manifest_keys): the bound secret inside
Snowflake (the Secret API mocked at its boundary, as only Snowflake provides it), else the environment."""

from __future__ import annotations

import pytest
from snowflake.snowpark import secrets

from stored_procs.configuration.app_config import NotConfigured
from stored_procs.loading import manifest_keys

pytestmark = pytest.mark.unit

KEY = "k1:" + "ab" * 32


def test_inside_snowflake_the_bound_secret_is_read_by_its_alias(monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(
        secrets, "get_generic_secret_string", lambda alias: asked.append(alias) or KEY + ",k0:" + "cd" * 32
    )
    monkeypatch.setenv(manifest_keys.ENV, "other:" + "ef" * 32)  # the secret wins inside Snowflake
    assert set(manifest_keys.load()) == {"k1", "k0"}
    assert asked == ["manifest_key"]


def test_an_unbound_secret_names_the_reference_and_the_fix(monkeypatch) -> None:
    def unbound(alias: str) -> str:
        raise ValueError("Secret 'manifest_key' does not exist or not authorized")

    monkeypatch.setattr(secrets, "get_generic_secret_string", unbound)
    with pytest.raises(NotConfigured, match=r"'manifest_key' is not usable .*MANIFEST_KEY"):
        manifest_keys.load()


def test_outside_snowflake_the_environment_holds_the_keys(monkeypatch) -> None:
    monkeypatch.setenv(manifest_keys.ENV, KEY)
    assert manifest_keys.load() == {"k1": bytes.fromhex("ab" * 32)}


@pytest.mark.parametrize("value", [None, "", "k1:abcd", "k1:" + "zz" * 32])
def test_no_key_or_a_malformed_one_is_a_configuration_error_without_key_material(monkeypatch, value) -> None:
    if value is None:
        monkeypatch.delenv(manifest_keys.ENV, raising=False)
    else:
        monkeypatch.setenv(manifest_keys.ENV, value)
    with pytest.raises(NotConfigured) as err:
        manifest_keys.load()
    assert "MANIFEST_KEY" in str(err.value) or manifest_keys.ENV in str(err.value)
    assert "abcd" not in str(err.value) and "zz" not in str(err.value)
