"""The low bound of a scheduled export, taken from S3 so the exporter stays stateless.

An EventBridge-scheduled invocation carries no watermark: the newest manifest of the table (the last
export that committed) tells where the previous export ended. Exports chain from export to export;
Snowflake's loader applies them in window order and refuses any that would leave a gap.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from lambda_exporter.errors import ExportError
from lambda_exporter.event import ExportRequest
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, manifest_prefix, parse_manifest

ONE_SECOND = timedelta(seconds=1)


def newest_exported_high(s3: Any, request: ExportRequest) -> str | None:
    """`window.high` of the table's newest manifest, or None when it has never been exported.

    S3's LastModified has one-second resolution, so every manifest of the newest second is read and
    the one whose snapshot is newest (`created_at`, microseconds) wins.
    """
    prefix = request.s3.key(manifest_prefix(request.schema, request.table))
    listed = [
        obj
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=request.s3.bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if obj["Key"].endswith(".json")
    ]
    if not listed:
        return None
    newest_time = max(obj["LastModified"] for obj in listed)
    candidates = [_read(s3, request, obj["Key"]) for obj in listed if newest_time - obj["LastModified"] <= ONE_SECOND]
    manifest = max(candidates, key=lambda m: m.created_at)
    if manifest.mode != request.mode:
        raise ExportError(
            f"the newest manifest of {request.schema}.{request.table} is a {manifest.mode!r} export, "
            f'this event asks for {request.mode!r}; pass "low" in the event'
        )
    return manifest.window.high


def _read(s3: Any, request: ExportRequest, key: str) -> Manifest:
    body = s3.get_object(Bucket=request.s3.bucket, Key=key)["Body"].read()
    try:
        return parse_manifest(json.loads(body))
    except (ContractError, ValueError) as err:
        raise ExportError(
            f"the manifest s3://{request.s3.bucket}/{key} is unreadable, so the export's low bound "
            f'is unknown: {err}; pass "low" in the event'
        ) from err
