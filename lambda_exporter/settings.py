"""The exporter's settings, read from its environment once per execution environment (cold start).

The source credentials come from Vault when `VAULT_ADDR` is set (see `secrets.py`), otherwise from
`AURORA_SYNC_SOURCE_DSN` (local runs, the embedded stack). Either way they are never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from lambda_exporter.errors import ExportError
from lambda_exporter.event import S3Target
from lambda_exporter.policy import (
    ALLOW_LOCAL_ENDPOINT_ENV,
    ALLOWED_TABLES_ENV,
    S3_BUCKET_ENV,
    S3_ENDPOINT_ENV,
    S3_PREFIX_ENV,
    S3_REGION_ENV,
    AllowList,
    s3_endpoint,
)
from lambda_exporter.secrets import VaultCredentials, VaultSettings

DSN_ENV = "AURORA_SYNC_SOURCE_DSN"
CONNECT_TIMEOUT_ENV = "AURORA_SYNC_CONNECT_TIMEOUT_S"
STATEMENT_TIMEOUT_ENV = "AURORA_SYNC_STATEMENT_TIMEOUT_MS"


class CredentialSource(Protocol):
    def dsn(self) -> str: ...

    def refresh(self) -> None:
        """Forget cached credentials: the database refused them (rotated password)."""


class EnvironmentDsn:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    def dsn(self) -> str:
        return self._dsn

    def refresh(self) -> None:
        return None  # the environment cannot change under a running function


class VaultDsn:
    def __init__(self, vault: VaultCredentials) -> None:
        self.vault = vault

    def dsn(self) -> str:
        return self.vault.get().dsn()

    def refresh(self) -> None:
        self.vault.refresh()


@dataclass(frozen=True)
class Settings:
    credentials: CredentialSource = field(repr=False)
    s3_endpoint_url: str | None
    connect_timeout_s: int = 10
    statement_timeout_ms: int = 600_000
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_region: str | None = None
    allowed_tables: AllowList = field(default_factory=AllowList)

    def s3_target(self) -> S3Target:
        """Where every export goes (lambda_exporter.policy); raises ExportError when it is not configured."""
        bucket, region = self.s3_bucket, self.s3_region
        if not bucket or not region:
            missing = [n for n, v in ((S3_BUCKET_ENV, bucket), (S3_REGION_ENV, region)) if not v]
            raise ExportError(
                f"environment variable(s) {', '.join(missing)} not set: the exporter's environment decides where "
                "exports go (Terraform sets them from the exporter module's bucket_name and prefix)"
            )
        return S3Target(bucket, self.s3_prefix, region, self.s3_endpoint_url)


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """Cached for the execution environment's life: warm invocations reuse the Vault secret."""
    credentials: CredentialSource
    if os.environ.get("VAULT_ADDR"):
        credentials = VaultDsn(VaultCredentials(VaultSettings.from_env()))
    elif dsn := os.environ.get(DSN_ENV):
        credentials = EnvironmentDsn(dsn)
    else:
        raise ExportError(f"no source credentials: set VAULT_ADDR and VAULT_SECRET_PATH_AURORA (Vault), or {DSN_ENV}")
    allow_local = os.environ.get(ALLOW_LOCAL_ENDPOINT_ENV, "").lower() in ("1", "true", "yes")
    prefix = os.environ.get(S3_PREFIX_ENV, "")
    if prefix.startswith("/") or (prefix and not prefix.endswith("/")) or "=" in prefix or ".." in prefix.split("/"):
        raise ExportError(
            f"{S3_PREFIX_ENV} must be empty or a key prefix ending in '/' (no '=', no '..'), got {prefix!r}"
        )
    return Settings(
        credentials=credentials,
        s3_endpoint_url=s3_endpoint(os.environ.get(S3_ENDPOINT_ENV), allow_local),
        connect_timeout_s=_int(CONNECT_TIMEOUT_ENV, 10, 1, 300),
        statement_timeout_ms=_int(STATEMENT_TIMEOUT_ENV, 600_000, 1_000, 900_000),
        s3_bucket=os.environ.get(S3_BUCKET_ENV) or None,
        s3_prefix=prefix,
        s3_region=os.environ.get(S3_REGION_ENV) or os.environ.get("AWS_REGION") or None,
        allowed_tables=AllowList.parse(os.environ.get(ALLOWED_TABLES_ENV)),
    )


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ExportError(f"environment variable {name} must be an integer in {low}..{high}, got {raw!r}")
    return value
