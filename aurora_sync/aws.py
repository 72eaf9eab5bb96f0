"""boto3 clients for the local face. An emulator on the loopback interface gets the emulators' dummy
credentials, so running against the embedded stack needs no AWS credentials at all (and requests are
signed, as moto wants for overwriting an object: a rerun rewrites the same export keys)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import boto3

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    keys: dict[str, str] = {}
    if endpoint_url and urlparse(endpoint_url).hostname in LOOPBACK_HOSTS:
        keys = EMULATOR_CREDENTIALS
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **keys)
