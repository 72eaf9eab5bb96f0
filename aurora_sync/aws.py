"""boto3 clients for the local face. An emulator on the loopback interface gets the emulators' dummy
credentials, so running against the embedded stack needs no AWS credentials at all (and requests are
signed, as moto wants for overwriting an object: a rerun rewrites the same export keys).

Every client connects within CONNECT_TIMEOUT_S and sends a request at most MAX_ATTEMPTS times in all
(botocore's "standard" retry mode, `total_max_attempts` counts the first try), so an endpoint that is
down fails in seconds, not after the default 60 s connect timeout times legacy mode's 5 attempts
(https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html: `connect_timeout`,
`read_timeout`, `retries`; https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).
A Lambda invocation may read for as long as the function may run."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from stored_procs.orchestration.lambda_invoke import INVOKE_TIMEOUT_S, is_loopback

EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
CONNECT_TIMEOUT_S = 5
MAX_ATTEMPTS = 3
READ_TIMEOUT_S = 60  # botocore's default, for S3


def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    keys: dict[str, str] = {}
    if is_loopback(endpoint_url):
        keys = EMULATOR_CREDENTIALS
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=INVOKE_TIMEOUT_S if service == "lambda" else READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config, **keys)
