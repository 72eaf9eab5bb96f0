"""The caller's side of a fan-out export (lambda_exporter.fan_out): plan, then one invocation per part.

`run(call, request)` sends `request` (which carries max_rows_per_invocation); an answer other than a
plan (status "fan_out") is returned as it is. Otherwise each part is sent as its own invocation
(`parallel` at a time), and a part that fails is sent again alone, up to `attempts` times: its export id
and S3 keys are the same each time, so a retry overwrites what a failed attempt wrote. A full-mode part
that finds its key range changed since the plan (StalePart) makes the whole export be planned again, up
to MAX_PLANS times. When a part fails for good, the other parts' manifests stay in the stage: the
loader never loads an export with a part missing and never moves the watermark for it; a later plan's
export supersedes them.

The answer has the shape of one export's (status "exported", manifest_keys, chunks, rows, files, bytes)
plus `invocations`: how many exporter invocations the export took (the plan included).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from lambda_exporter.event import ExportRequest, parse_part
from lambda_exporter.fan_out import STALE
from stored_procs.orchestration.lambda_invoke import ExportFailed

PART_ATTEMPTS = 3
MAX_PLANS = 3
PARALLEL = 4

Call = Callable[[ExportRequest], dict[str, Any]]


class _Stale(Exception):
    pass


def run(call: Call, request: ExportRequest, parallel: int = PARALLEL, attempts: int = PART_ATTEMPTS) -> dict[str, Any]:
    """The export of `request`, fanned out when the exporter answers a plan. Raises ExportFailed naming
    the part, its key range and the exporter's last error when a part fails `attempts` times."""
    started, invocations = time.monotonic(), 0
    for _ in range(MAX_PLANS):
        answer = call(request)
        invocations += 1
        if answer.get("status") != "fan_out":
            return answer
        parts = [_part(request, p) for p in answer["parts"]]
        counter = [0] * len(parts)
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(parts)))) as pool:
            futures = [pool.submit(_run_part, call, part, attempts, counter, i) for i, part in enumerate(parts)]
            outcomes = [_outcome(f) for f in futures]
        invocations += sum(counter)
        if any(isinstance(o, _Stale) for o in outcomes):
            continue
        if failed := next((o for o in outcomes if isinstance(o, BaseException)), None):
            raise failed
        results = [o for o in outcomes if isinstance(o, dict)]
        return {
            "status": "exported",
            "table": answer["table"],
            "window": answer["window"],
            "export_id": results[0]["export_id"],
            "manifest_key": results[0]["manifest_key"],
            "manifest_keys": [r["manifest_key"] for r in results],
            "chunks": len(results),
            "rows": sum(int(r["rows"]) for r in results),
            "files": sum(int(r["files"]) for r in results),
            "bytes": sum(int(r["bytes"]) for r in results),
            "duration_s": round(time.monotonic() - started, 3),
            "invocations": invocations,
        }
    raise ExportFailed(
        f"{request.schema}.{request.table}: the table changed under each of {MAX_PLANS} fan-out plans in a row "
        "(full mode checks each part against its plan); export it when it changes less often, or raise its "
        "max_rows_per_invocation so that fewer invocations read it"
    )


def _part(request: ExportRequest, event: dict[str, Any]) -> ExportRequest:
    """The request of one planned part (the plan's event, parsed as the exporter parses it)."""
    return replace(request, part=parse_part(event, request.mode))


def _run_part(call: Call, part: ExportRequest, attempts: int, counter: list[int], index: int) -> dict[str, Any]:
    assert part.part is not None
    last: BaseException | None = None
    for _ in range(attempts):
        counter[index] += 1
        try:
            return call(part)
        except Exception as err:  # ExportFailed from the Lambda, the exporter's own error in-process
            if STALE in str(err):
                raise _Stale(str(err)) from err
            last = err
    p = part.part
    raise ExportFailed(
        f"{part.schema}.{part.table}: fan-out part {p.index + 1} of {p.count} ({p.key_column} from {p.key_from!r} "
        f"to {p.key_to!r}) failed {attempts} times, the export is incomplete and will not load: {last}"
    )


def _outcome(future: Any) -> dict[str, Any] | BaseException:
    try:
        return dict(future.result())
    except BaseException as err:
        return err
