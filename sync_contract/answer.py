"""The exporter's answer to an asynchronous export request: a signed JSON document in S3.

REQUEST_EXPORTS invokes the exporter with InvocationType=Event (Lambda Invoke API: the call returns 202
as soon as the event is queued, with no result), naming the request (`request_id`, the event's one field
outside the export contract). When the export ends, the exporter writes its answer at
``<prefix>answers/<request_id>.json``:

    {"kind": "export_answer", "version": 1, "request_id": "req-...", "table": {"schema": ..., "name": ...},
     "mode": "incremental" | "full" | "keys" | null, "status": "exported" | "no_change" | "failed",
     "rows": 0, "manifest_keys": [...], "export_id": ... | null, "window": {"low": ..., "high": ...} | null,
     "error": ... | null, "finished_at": "<UTC ISO 8601>", "signature": {...}}

plus, for an export fanned out over several invocations (lambda_exporter.fan_out_async), "invocations":
how many (the plan's included), and every part's manifest in "manifest_keys".

signed like a manifest (sync_contract.signing, the same key), so a writer of the bucket who does not
hold the key can neither fail a table nor settle a request. The manifests stay the completion signal
of the data (intake takes them in as it does in push mode); the answer only settles the request's
EXPORT_REQUESTS row: EXPORTED / NO_CHANGE, or FAILED with the exporter's error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_contract.errors import ManifestError
from sync_contract.signing import verify

KIND, VERSION = "export_answer", 1
ANSWERS_FOLDER = "answers/"  # relative to the export prefix, beside manifests/ and data/
REQUEST_ID = re.compile(r"req-[0-9a-f]{32}")  # used with fullmatch: the object key is built from it
STATUSES = ("exported", "no_change", "failed")
MAX_ERROR_CHARS = 4000


def answer_key(request_id: str) -> str:
    """`answers/<request_id>.json`, relative to the export prefix. Raises ValueError for a malformed id."""
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise ValueError(f"request id {str(request_id)[:80]!r} is not 'req-' and 32 hex digits")
    return f"{ANSWERS_FOLDER}{request_id}.json"


@dataclass(frozen=True)
class Answer:
    request_id: str
    status: str  # exported / no_change / failed
    rows: int
    manifest_keys: tuple[str, ...]
    error: str | None
    high: str | None = None  # the exported window's high bound (PostgreSQL text), when the export had one


def parse_answer(doc: Any, keys: Mapping[str, bytes]) -> Answer:
    """A verified answer. Raises ManifestError (its `path` names the field) for a document that is not an
    answer, is not signed by one of `keys`, or whose members have the wrong shapes."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ManifestError("kind", f"must be {KIND!r}: not an export answer")
    verify(doc, keys)
    if doc.get("version") != VERSION:
        raise ManifestError("version", f"must be {VERSION}, got {doc.get('version')!r}")
    request_id = doc.get("request_id")
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise ManifestError("request_id", "must be 'req-' and 32 hex digits")
    status = doc.get("status")
    if status not in STATUSES:
        raise ManifestError("status", f"must be one of {', '.join(STATUSES)}, got {status!r}")
    rows = doc.get("rows", 0)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ManifestError("rows", f"must be a whole number >= 0, got {rows!r}")
    manifest_keys = doc.get("manifest_keys") or []
    if not isinstance(manifest_keys, list) or not all(isinstance(k, str) for k in manifest_keys):
        raise ManifestError("manifest_keys", "must be a list of strings")
    error = doc.get("error")
    if error is not None and not isinstance(error, str):
        raise ManifestError("error", "must be a string or null")
    if status == "failed" and not error:
        raise ManifestError("error", "is required when status is 'failed'")
    window = doc.get("window")
    if window is not None and not (
        isinstance(window, dict) and all(isinstance(window.get(k), str | None) for k in ("low", "high"))
    ):
        raise ManifestError("window", 'must be {"low": text or null, "high": text or null} or null')
    invocations = doc.get("invocations", 1)
    if isinstance(invocations, bool) or not isinstance(invocations, int) or invocations < 1:
        raise ManifestError("invocations", f"must be a whole number >= 1, got {invocations!r}")
    high = window.get("high") if window else None
    return Answer(request_id, status, rows, tuple(manifest_keys), error[:MAX_ERROR_CHARS] if error else None, high)


def answer_doc(
    request_id: str,
    table: Mapping[str, Any] | None,
    mode: str | None,
    finished_at: str,
    summary: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
) -> dict[str, Any]:
    """The unsigned answer of an export that ended with `summary` (the exporter's result, status
    "exported" / "no_change"; any other status is answered as failed, fail closed) or with `error`."""
    doc: dict[str, Any] = {
        "kind": KIND,
        "version": VERSION,
        "request_id": request_id,
        "table": dict(table) if table else None,
        "mode": mode,
        "finished_at": finished_at,
    }
    if error is not None:
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        return {
            **doc,
            "status": "failed",
            "rows": 0,
            "manifest_keys": [],
            "export_id": None,
            "window": None,
            "error": text,
        }
    summary = summary or {}
    status = str(summary.get("status"))
    if status not in ("exported", "no_change"):  # anything else (a fan-out plan) is no export: refused
        why = ValueError(f"the exporter answered {status!r}, which is no export this request can be settled with")
        return answer_doc(request_id, table, mode, finished_at, None, why)
    invocations = summary.get("invocations")
    return {
        **doc,
        "status": status,
        "rows": int(summary.get("rows") or 0),
        "manifest_keys": [str(k) for k in summary.get("manifest_keys") or []],
        "export_id": summary.get("export_id"),
        "window": _window(summary.get("window")),
        "error": None,
        **({"invocations": int(invocations)} if isinstance(invocations, int) else {}),
    }


def _window(value: Any) -> dict[str, str | None] | None:
    if not isinstance(value, Mapping):
        return None
    return {k: value[k] if isinstance(value.get(k), str) else None for k in ("low", "high")}
