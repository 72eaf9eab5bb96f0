"""The low bound of a scheduled export, taken from S3 so the exporter stays stateless.

An EventBridge-scheduled invocation carries no watermark. After every complete export (all chunks'
manifests written) the exporter records where it ended in `state/<table>/latest.json`; the next
scheduled export starts there. Snowflake never reads this pointer: it trusts only manifests, applies
them in window order and refuses any that would leave a gap.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from lambda_exporter.errors import ExportError
from lambda_exporter.event import ExportRequest
from sync_contract.manifest import latest_export_key


def newest_exported_high(s3: Any, request: ExportRequest) -> str | None:
    """`window.high` of the table's newest complete export, or None when it has never been exported."""
    key = request.s3.key(latest_export_key(request.schema, request.table))
    try:
        body = s3.get_object(Bucket=request.s3.bucket, Key=key)["Body"].read()
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:
        pointer = json.loads(body)
        mode, high = pointer["mode"], pointer["window"]["high"]
    except (ValueError, KeyError, TypeError) as err:
        raise ExportError(
            f"s3://{request.s3.bucket}/{key} is unreadable, so the export's low bound is unknown; "
            'delete it to export from the beginning, or pass "low" in the event'
        ) from err
    if mode != request.mode:
        raise ExportError(
            f"the newest export of {request.schema}.{request.table} was a {mode!r} export, this "
            f'event asks for {request.mode!r}; pass "low" in the event'
        )
    return high if isinstance(high, str) else None
