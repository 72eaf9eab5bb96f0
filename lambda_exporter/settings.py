"""The exporter's settings, read from its environment once per cold start.

The source DSN comes from `AURORA_SYNC_SOURCE_DSN` for now; the Vault-backed provider replaces
this seam (it must return the same DSN string and never log it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lambda_exporter.errors import ExportError

DSN_ENV = "AURORA_SYNC_SOURCE_DSN"
S3_ENDPOINT_ENV = "AURORA_SYNC_S3_ENDPOINT_URL"


@dataclass(frozen=True)
class Settings:
    source_dsn: str
    s3_endpoint_url: str | None
    connect_timeout_s: int = 10


def load_settings() -> Settings:
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        raise ExportError(f"environment variable {DSN_ENV} is not set: the exporter has no source database")
    return Settings(source_dsn=dsn, s3_endpoint_url=os.environ.get(S3_ENDPOINT_ENV) or None)
