"""The exporter Lambda, invoked with boto3 (Lambda Invoke API): RequestResponse, or Event (asynchronous).

Inside Snowflake the call leaves through the procedure's external access integration, signed with the
bound secret of TYPE = CLOUD_PROVIDER_TOKEN: an IAM role Snowflake assumes, so no AWS key is stored
anywhere. A loopback endpoint (the embedded stack) is called unsigned. boto3 is imported here only:
it is in this procedure's PACKAGES and in no other.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from stored_procs.configuration import app_config
from stored_procs.configuration.app_config import NotConfigured
from stored_procs.orchestration.exports import MAX_PARALLEL, Invoke

SECRET_ALIAS = "aws"  # noqa: S105 -- the alias, not a secret: SECRETS = ('aws' = <secret>) on REQUEST_EXPORTS
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
INVOKE_TIMEOUT_S = 900  # a Lambda runs at most 15 minutes
ACCEPTED = 202  # an asynchronous invocation queued (Lambda API reference, "Invoke")


class ExportFailed(RuntimeError):
    """The exporter reported an error; the message is the exporter's own."""


def is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and urlparse(endpoint_url).hostname in LOOPBACK_HOSTS


def lambda_client(region: str, endpoint_url: str | None = None, credentials: Any = None) -> Any:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=INVOKE_TIMEOUT_S,
        max_pool_connections=MAX_PARALLEL,
    )
    keys: dict[str, str] = {}
    if is_loopback(endpoint_url):
        config = config.merge(Config(signature_version=UNSIGNED))
    elif credentials is not None:
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.token,
        }
    return boto3.client("lambda", region_name=region, endpoint_url=endpoint_url, config=config, **keys)


def snowflake_credentials() -> Any:
    """The AWS credentials of the bound secret, or None outside Snowflake (then boto3's own chain)."""
    try:
        from snowflake.snowpark.secrets import get_cloud_provider_token
    except ImportError:
        return None
    try:
        return get_cloud_provider_token(SECRET_ALIAS)
    except NotImplementedError:  # not running inside Snowflake
        return None
    except Exception as err:
        raise NotConfigured(
            f"the exporter secret {SECRET_ALIAS!r} is not usable ({err}): bind the EXPORTER_SECRET and "
            "EXPORTER_ACCESS references (docs/snowflake/consumer_setup.sql, steps 4-6)"
        ) from err


def invoker(function_name: str, client: Any) -> Invoke:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        return parse_response(function_name, response)

    return invoke


def event_invoker(function_name: str, client: Any) -> Invoke:
    """Invoke asynchronously (InvocationType=Event): Lambda queues the event and answers 202 with no
    payload (Lambda API reference, "Invoke": "Event - Send the event to the function asynchronously ...
    The API response only includes a status code"; "StatusCode ... 202 for the Event invocation type").
    The answer is `{"status": "REQUESTED", "request_id": ...}`; the exporter's own answer comes later,
    through S3 (sync_contract.answer). The event must carry its `request_id`."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode())
        status = int(response.get("StatusCode") or 0)
        if status != ACCEPTED:
            raise ExportFailed(
                f"exporter {function_name} did not queue the event: status {status}, expected {ACCEPTED}"
            )
        return {"status": "REQUESTED", "request_id": event.get("request_id")}

    return invoke


def parse_response(function_name: str, response: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        detail = payload if isinstance(payload, dict) else {}
        raise ExportFailed(f"{detail.get('errorType', 'Error')}: {detail.get('errorMessage', payload)}")
    if not isinstance(payload, dict):
        raise ExportFailed(f"exporter {function_name} returned {payload!r}, expected an object")
    return payload


def from_settings(settings: app_config.AppSettings, asynchronous: bool = False) -> Invoke:
    """The registered exporter: loopback endpoints unsigned, else the bound secret's credentials.
    `asynchronous`: InvocationType=Event (`event_invoker`), else RequestResponse."""
    endpoint = settings.get(app_config.EXPORTER_ENDPOINT_URL)
    credentials = None if is_loopback(endpoint) else snowflake_credentials()
    client = lambda_client(settings.require(app_config.EXPORTER_REGION), endpoint, credentials)
    make = event_invoker if asynchronous else invoker
    return make(settings.require(app_config.EXPORTER_FUNCTION), client)
