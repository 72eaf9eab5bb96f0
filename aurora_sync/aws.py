"""boto3 clients for the local face. Requests to an emulator on the loopback interface go unsigned,
so running against the embedded stack needs no AWS credentials at all."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import boto3
from botocore import UNSIGNED
from botocore.config import Config

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    config = None
    if endpoint_url and urlparse(endpoint_url).hostname in LOOPBACK_HOSTS:
        config = Config(signature_version=UNSIGNED)
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
