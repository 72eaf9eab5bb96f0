"""boto3 clients for the local face. An emulator on the loopback interface gets the emulators' dummy
credentials, so running against the embedded stack needs no AWS credentials at all (and requests are
signed, as moto wants for overwriting an object: a rerun rewrites the same export keys)."""

from __future__ import annotations

from typing import Any

import boto3

from stored_procs.orchestration.lambda_invoke import is_loopback

EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    keys: dict[str, str] = {}
    if is_loopback(endpoint_url):
        keys = EMULATOR_CREDENTIALS
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **keys)
