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
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, latest_export_key, parse_manifest_json


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's body, or None when there is no such object."""
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def _unreadable(request: ExportRequest, key: str) -> ExportError:
    return ExportError(
        f"s3://{request.s3.bucket}/{key} is unreadable, so the export's low bound is unknown; "
        'delete it to export from the beginning, or pass "low" in the event'
    )


def _pointer(s3: Any, request: ExportRequest) -> tuple[str, dict[str, Any]] | None:
    """(key, document) of the table's `latest.json`, or None when the table was never exported."""
    key = request.s3.key(latest_export_key(request.schema, request.table))
    body = _read(s3, request.s3.bucket, key)
    if body is None:
        return None
    try:
        pointer = json.loads(body)
    except ValueError as err:
        raise _unreadable(request, key) from err
    if not isinstance(pointer, dict):
        raise _unreadable(request, key)
    return key, pointer


def newest_exported_high(s3: Any, request: ExportRequest) -> str | None:
    """`window.high` of the table's newest complete export, or None when it has never been exported."""
    found = _pointer(s3, request)
    if found is None:
        return None
    key, pointer = found
    try:
        mode, high = pointer["mode"], pointer["window"]["high"]
    except (KeyError, TypeError) as err:
        raise _unreadable(request, key) from err
    if mode != request.mode:
        raise ExportError(
            f"the newest export of {request.schema}.{request.table} was a {mode!r} export, this "
            f'event asks for {request.mode!r}; pass "low" in the event'
        )
    return high if isinstance(high, str) else None


def newest_exported_manifest(s3: Any, request: ExportRequest) -> Manifest | None:
    """The first manifest of the table's newest complete export of the same mode: the columns and
    source state the next export compares itself with (sync_contract.column_changes). None when there
    is none to compare with (never exported, another mode, the manifest gone or unreadable); the loader
    compares every batch with the newest loaded one as well."""
    found = _pointer(s3, request)
    if found is None:
        return None
    _, pointer = found
    keys = pointer.get("manifest_keys")
    if pointer.get("mode") != request.mode or not isinstance(keys, list) or not keys or not isinstance(keys[0], str):
        return None
    body = _read(s3, request.s3.bucket, keys[0])
    try:
        return None if body is None else parse_manifest_json(body.decode("utf-8"))
    except (ContractError, UnicodeDecodeError):
        return None
