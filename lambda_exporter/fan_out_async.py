"""Fan-out exports of asynchronous requests: the exporter drives them itself (docs/EXPORTER.md, "Fan-out").

REQUEST_EXPORTS (the app's Task graph) invokes the exporter with InvocationType=Event and a `request_id`,
and nobody waits for the result (lambda_exporter.answers). When that invocation answers a plan (status
"fan_out", lambda_exporter.fan_out), nobody could invoke its parts, so the exporter does:

1. the plan's invocation invokes its own function once per part, asynchronously (`dispatch`): the export
   event, the part (`part`) and the request's id under FIELD, not `request_id`, so that a part does not
   answer as if it were the request. Every part event is built and measured before the first is sent.
   The plan writes no answer; if a part cannot be queued, it answers the request failed;
2. each part exports its key range in a snapshot of its own, retrying transient failures inside its
   invocation (the handler's call_with_retries policy); Lambda does not retry it (pull mode sets no
   asynchronous retries, terraform/modules/exporter/main.tf);
3. the part that completes the set (it finds every part's manifest written and records latest.json,
   lambda_exporter.fan_out) writes the request's answer: "exported", every part's manifest key, the
   rows of all parts (read from their manifests) and `invocations` (the parts and the plan);
4. a part that fails for good answers the request "failed", naming its key range and its error (a
   full-mode part whose range changed since the plan, StalePart: the table changed during the fan-out).
   INTAKE reports the table FAILED; the next run requests it again, which plans again. The other parts'
   manifests stay in the stage and never load (the loader never loads an export with a part missing).

Answers of parts are written first-only (lambda_exporter.answers.write_answer, S3 conditional write):
the first answer of the request stands, so a later part's success never replaces a failure. What remains
possible: a part fails after writing its manifest (e.g. while reading the others' or recording
latest.json) while another part completes the set: whichever answers first stands. If "failed" stands,
the export is complete in the stage and loads anyway (the manifests are the completion signal); if
"exported" stands, the failed part's data was written. Either way nothing loads half.

Limits: at most fan_out.MAX_PARTS parts, all queued at once (Lambda runs them as its concurrency allows;
an event throttled past its maximum age is dropped, and the request is then reported lost). The app's
answer timeout (REGISTER_EXPORTER's ANSWER_TIMEOUT_MINUTES) must cover the whole fan-out: the plan, the
parts' time in the queue and the longest part.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from lambda_exporter import answers
from lambda_exporter.errors import ExportError
from lambda_exporter.event import S3Target
from lambda_exporter.fan_out import STALE
from sync_contract.answer import REQUEST_ID
from sync_contract.manifest import parse_manifest_json

FIELD = "fan_out_request_id"  # a part event's member: the request whose answer the part may write
# Lambda API reference, "Invoke" (docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html): the payload of an
# asynchronous invocation may be up to 1 MB (256 KB before, still the limit of the deprecated InvokeAsync);
# a part event is the request's event plus its part (two key values as text), a few KB: refused far below
ACCEPTED = 202  # "Invoke": StatusCode 202 for the Event invocation type (queued, no payload)
MAX_PART_EVENT_BYTES = 256 * 1024
DISPATCH_PARALLEL = 8
FUNCTION_ENV = "AWS_LAMBDA_FUNCTION_NAME"  # set by Lambda in every execution environment
VERSION_ENV = "AWS_LAMBDA_FUNCTION_VERSION"  # the version running: its parts run the same code
LAMBDA_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

Invoke = Callable[[bytes], None]
Target = Callable[[], tuple[Any, S3Target]]  # (S3 client, the exporter's own location)


class FanOutPartFailed(ExportError):
    """One part of a fan-out export failed for good: the request's export is incomplete."""


def request_id_of(event: Any) -> str | None:
    """The request a part event belongs to, or None for any other event."""
    value = event.get(FIELD) if isinstance(event, dict) else None
    return value if isinstance(value, str) and REQUEST_ID.fullmatch(value) else None


def without_request_id(event: Any) -> Any:
    return {k: v for k, v in event.items() if k != FIELD} if isinstance(event, dict) else event


def part_events(request_id: str, event: dict[str, Any], parts: list[dict[str, Any]]) -> list[bytes]:
    """The payload of each part's invocation: `event` (the request's export event, without its
    `request_id`) with the plan's `part` and FIELD. Raises ExportError when one exceeds
    MAX_PART_EVENT_BYTES (nothing is sent then)."""
    payloads = []
    for part in parts:
        body = json.dumps({**event, "part": part, FIELD: request_id}, sort_keys=True).encode()
        if len(body) > MAX_PART_EVENT_BYTES:
            raise ExportError(
                f"fan-out part {part.get('index', 0) + 1}'s event is {len(body)} bytes, over the "
                f"{MAX_PART_EVENT_BYTES} this exporter sends asynchronously (its key bounds are too long): "
                "raise max_rows_per_invocation so that the table is exported by one invocation"
            )
        payloads.append(body)
    return payloads


def dispatch(request_id: str, event: dict[str, Any], plan: dict[str, Any], invoke: Invoke) -> dict[str, Any]:
    """Queue one asynchronous invocation per part of `plan` (the plan invocation's summary, status
    "fan_out"); the plan's summary with `dispatched` (how many). Raises when a part could not be queued
    (the caller answers the request failed)."""
    payloads = part_events(request_id, event, list(plan.get("parts") or []))
    with ThreadPoolExecutor(max_workers=max(1, min(DISPATCH_PARALLEL, len(payloads)))) as pool:
        list(pool.map(invoke, payloads))
    return {**plan, "dispatched": len(payloads)}


def self_invoker() -> Invoke:
    """Invoke this function's running version (AWS_LAMBDA_FUNCTION_NAME and _VERSION, "Defined runtime
    environment variables" in the Lambda developer guide) with InvocationType=Event. The endpoint is
    boto3's own (AWS_ENDPOINT_URL_LAMBDA where one is set, as the embedded stack does)."""
    name = os.environ.get(FUNCTION_ENV)
    if not name:
        raise ExportError(
            f"{FUNCTION_ENV} is not set: a fan-out export of an asynchronous request invokes its own function"
        )
    version = os.environ.get(VERSION_ENV)
    qualifier = {"Qualifier": version} if version else {}
    client = _lambda_client(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))

    def invoke(payload: bytes) -> None:
        response = client.invoke(FunctionName=name, InvocationType="Event", Payload=payload, **qualifier)
        status = int(response.get("StatusCode") or 0)
        if status != ACCEPTED:
            raise ExportError(f"{name} did not queue a fan-out part: status {status}, expected {ACCEPTED}")

    return invoke


@lru_cache(maxsize=4)
def _lambda_client(region: str | None) -> Any:
    return boto3.client("lambda", region_name=region, config=LAMBDA_CONFIG)


def run_part(
    request_id: str, event: dict[str, Any], export: Callable[[dict[str, Any]], dict[str, Any]], target: Target
) -> dict[str, Any]:
    """Export one part (`export`: the handler's export, with its retries) and answer the request when the
    part failed for good or completed the set; the part's summary. The part's error is raised again
    after its answer (Lambda counts it)."""
    try:
        summary = export(event)
    except Exception as err:
        _answer(target, request_id, event, error=part_failure(event, err))
        raise
    if summary.get("completed_manifest_keys"):
        s3, location = target()
        _answer(target, request_id, event, summary=completed(s3, location, event, summary))
    return summary


def part_failure(event: dict[str, Any], err: BaseException) -> FanOutPartFailed:
    """The failed answer's error: which part (1-based), its key range, and the part's own error."""
    table = event.get("table") or {}
    part = event.get("part") or {}
    name = f"{table.get('schema')}.{table.get('name')}"
    where = (
        f"fan-out part {int(part.get('index', 0)) + 1} of {part.get('count')} ({part.get('key_column')} from "
        f"{part.get('from')!r} to {part.get('to')!r})"
    )
    cause = f"{type(err).__name__}: {err}"
    if STALE in str(err):
        return FanOutPartFailed(
            f"{name}: the table changed during the fan-out export ({where}), so this export is incomplete and "
            f"will not load; the next request plans it again. {cause}"
        )
    return FanOutPartFailed(
        f"{name}: {where} failed, so this export is incomplete and will not load; the next request plans it "
        f"again. {cause}"
    )


def completed(s3: Any, location: S3Target, event: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The request's answer once every part's manifest is written: the export's rows (the sum of its
    manifests'), every manifest key in part order, the window (the request's low, the plan's high) and
    `invocations` (the parts and the plan)."""
    keys = [str(k) for k in summary["completed_manifest_keys"]]
    manifests = [
        parse_manifest_json(s3.get_object(Bucket=location.bucket, Key=k)["Body"].read().decode("utf-8")) for k in keys
    ]
    return {
        "status": "exported",
        "table": summary.get("table"),
        "window": {"low": event.get("low"), "high": (summary.get("window") or {}).get("high")},
        "export_id": manifests[0].export_id,
        "manifest_keys": keys,
        "rows": sum(m.rows for m in manifests),
        "invocations": len(keys) + 1,
    }


def _answer(
    target: Target,
    request_id: str,
    event: dict[str, Any],
    summary: dict[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
    try:
        s3, location = target()
    except Exception:  # nowhere to write (logged by the handler's own answer path): the request times out
        return
    answers.write_answer(s3, location, request_id, event, summary, error, first_only=True)
