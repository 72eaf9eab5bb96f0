"""The exporter's answer to an asynchronous request (sync_contract.answer): written when the export ends.

An event invoked with InvocationType=Event has no caller waiting for its result or its error, so the
exporter writes both to S3, signed with the manifest key, where the procedures' intake reads them. The
answer goes to the exporter's own S3 location (lambda_exporter.policy: its environment decides where
anything is written), so even an event that failed validation is answered. If the answer itself cannot
be written (no signing key, S3 unreachable), the request stays unanswered and the procedures report it
FAILED once their answer timeout passes ("no answer from the exporter within N minutes").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambda_exporter.manifest_key import signing_key
from lambda_exporter.observability import logger
from sync_contract.answer import REQUEST_ID, answer_doc, answer_key
from sync_contract.signing import sign

FIELD = "request_id"  # the event member naming an asynchronous request


def request_id_of(event: Any) -> str | None:
    """The event's request id when it carries a well-formed one, else None (a synchronous invocation)."""
    value = event.get(FIELD) if isinstance(event, dict) else None
    return value if isinstance(value, str) and REQUEST_ID.fullmatch(value) else None


def without_request_id(event: Any) -> Any:
    """The export event itself: the request id is the invoker's bookkeeping, not part of the export."""
    return {k: v for k, v in event.items() if k != FIELD} if isinstance(event, dict) else event


def write_answer(
    s3: Any,
    target: Any,
    request_id: str,
    event: Any,
    summary: dict[str, Any] | None = None,
    error: BaseException | None = None,
    first_only: bool = False,
) -> str | None:
    """Sign and write the answer; returns its key, or None when it could not be written (logged, never
    raised: the export's own outcome stands, and the procedures report the request unanswered).

    `first_only` (the parts of a fan-out export, lambda_exporter.fan_out_async, which several invocations
    may answer): written only if the request has no answer yet, atomically, with S3's conditional write
    (PutObject `If-None-Match: *`: 412 PreconditionFailed when the key exists, 409
    ConditionalRequestConflict when another conditional write of it is in progress; Amazon S3 User Guide,
    "How to prevent object overwrites with conditional writes"). So a part's failure answered first is
    never replaced by another part's success, and None is returned for the answer that came second."""
    table = event.get("table") if isinstance(event, dict) else None
    mode = event.get("mode", "incremental") if isinstance(event, dict) else None
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    doc = answer_doc(
        request_id,
        table if isinstance(table, dict) else None,
        mode if isinstance(mode, str) else None,
        finished,
        summary,
        error,
    )
    key = target.key(answer_key(request_id))
    condition = {"IfNoneMatch": "*"} if first_only else {}
    try:
        body = json.dumps(sign(doc, signing_key()), sort_keys=True).encode()
        s3.put_object(Bucket=target.bucket, Key=key, Body=body, ContentType="application/json", **condition)
    except Exception as err:
        if first_only and _answered_before(err):
            logger.info("export answer kept: the request was answered first", extra={"status": doc.get("status")})
            return None
        logger.error("export answer not written", extra={"error_type": type(err).__name__, "error": str(err)})
        return None
    return str(key)


def _answered_before(err: BaseException) -> bool:
    if not isinstance(err, ClientError):
        return False
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)
