from dataclasses import replace

import pytest

from lambda_exporter.secrets import AuroraCredentials, SecretError, VaultSettings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "VAULT_ADDR, VAULT_SECRET_PATH_AURORA not set"),
        ({"VAULT_ADDR": "https://v", "VAULT_SECRET_PATH_AURORA": "p"}, "VAULT_AWS_ROLE"),
        ({"VAULT_ADDR": "https://v", "VAULT_SECRET_PATH_AURORA": "p", "VAULT_AUTH_METHOD": "token"}, "VAULT_TOKEN"),
        ({"VAULT_ADDR": "https://v", "VAULT_SECRET_PATH_AURORA": "p", "VAULT_AUTH_METHOD": "ldap"}, "'aws' or 'token'"),
    ],
)
def test_settings_from_the_environment_say_what_is_missing(env, message):
    with pytest.raises(SecretError, match=message):
        VaultSettings.from_env(env)


def test_tls_is_verified_unless_explicitly_disabled():
    base = {"VAULT_ADDR": "https://v", "VAULT_SECRET_PATH_AURORA": "p", "VAULT_TOKEN": "t"}
    assert VaultSettings.from_env(base).verify is True
    assert VaultSettings.from_env({**base, "VAULT_CACERT": "/etc/ca.pem"}).verify == "/etc/ca.pem"
    assert VaultSettings.from_env({**base, "VAULT_SKIP_VERIFY": "true"}).verify is False
    assert "very-secret-token" not in repr(replace(VaultSettings.from_env(base), token="very-secret-token"))


def test_credentials_never_show_the_password():
    creds = AuroraCredentials("db", 5432, "app", "u", "pa ss'word")
    assert "pa ss" not in repr(creds)
    assert creds.dsn() == "host=db port=5432 dbname=app user=u password='pa ss\\'word'"
