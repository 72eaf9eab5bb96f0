"""Asynchronous export requests: in flight, answered, or lost.

REQUEST_EXPORTS in the Task graph invokes the exporter with InvocationType=Event and records each request
REQUESTED in EXPORT_REQUESTS with its id and time (`exports.request_exports`), so the task is not billed
while the exports run. Three things settle a request:

- the exporter's answer (sync_contract.answer: `answers/<request_id>.json`, signed with the manifest
  key). REQUEST_EXPORTS and INTAKE copy the answers in first (`settle`; INTAKE before the manifests: the
  exporter writes the answer after the manifests, so every manifest an answer names is in the stage when
  the answer is) and set the request EXPORTED / NO_CHANGE (with the window's high, WINDOW_HIGH), or
  FAILED with the exporter's error, writing their run's id in SETTLED_RUN_ID: that run's RUNS row of
  the table says FAILED with the error (`export_check`);
- no answer within the answer timeout (REGISTER_EXPORTER's ANSWER_TIMEOUT_MINUTES, default 30: the
  Lambda's 15-minute limit, its 10-minute maximum event age and a margin): the invocation was lost
  (timeout, out of memory, throttled past its event age). It is set FAILED, "no answer from the
  exporter within N minutes", unless manifests of its table and mode were taken in since the request
  (the export ran, only its answer is missing): then EXPORTED, with that note;
- nothing else: a late answer of a request already reported lost changes nothing (its manifests, if any,
  are still taken in and loaded: the manifests are the completion signal of the data).

While a table's request is REQUESTED, REQUEST_EXPORTS does not request it again (`in_flight`); once it is
settled the next run requests the table again: from its loaded watermark, or from the high of an export
answered but not loaded yet (`continuations`, `exports._continued`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from stored_procs import ledger
from stored_procs.datetime_text import timestamp_ntz
from stored_procs.loading import manifest_keys
from stored_procs.spec import Place
from stored_procs.statement import Stmt, run
from sync_contract.answer import ANSWERS_FOLDER, Answer, parse_answer
from sync_contract.errors import ContractError

REQUESTED = "REQUESTED"


def new_request_id() -> str:
    """`req-` and 32 hex digits (sync_contract.answer.REQUEST_ID)."""
    return f"req-{uuid.uuid4().hex}"


def in_flight(session: Any, place: Place) -> dict[tuple[str, str, str], str]:
    """(source schema, source table, mode) -> when requested, of every request still REQUESTED."""
    rows = run(
        session,
        Stmt(
            "SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, MODE AS M, REQUESTED_AT AS A "
            f"FROM {place.control('EXPORT_REQUESTS')} WHERE STATUS = ?",
            (REQUESTED,),
        ),
    )
    return {(r[0], r[1], str(r[2])): str(r[3]) for r in rows}


def continuations(session: Any, place: Place) -> dict[tuple[str, str], tuple[str | None, str, int]]:
    """(source schema, source table) -> (low, high, generation) of the table's newest incremental request
    when it was answered EXPORTED with a high bound (generation: the table's resync count when requested,
    0 for rows recorded before the column existed): the window the exporter wrote, which a load may not have applied
    yet (`exports` continues from its high while the loaded watermark is still its low). QUALIFY keeps the
    newest row per table ("QUALIFY": filters on a window function's result)."""
    rows = run(
        session,
        Stmt(
            "SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, STATUS AS X, WINDOW_LOW AS L, WINDOW_HIGH AS H, "
            "GENERATION AS G "
            f"FROM {place.control('EXPORT_REQUESTS')} WHERE MODE = 'incremental' QUALIFY ROW_NUMBER() OVER "
            "(PARTITION BY SOURCE_SCHEMA, SOURCE_TABLE ORDER BY REQUESTED_AT DESC) = 1",
        ),
    )
    return {(r[0], r[1]): (r[3], str(r[4]), int(r[5] or 0)) for r in rows if r[2] == "EXPORTED" and r[4] is not None}


def copy_answers(place: Place) -> Stmt:
    """COPY of new answer documents into ANSWERS, with their stage paths (as `intake_sql.copy_manifests`). Its load
    metadata skips an answer already copied; unlike manifests, an answer whose load status is unknown (last
    modified more than 64 days ago) is skipped too, the default ("Loading data", loading older files:
    docs.snowflake.com/user-guide/data-load-considerations-load): it answers a request long settled, and
    the bucket expires answers after `answer_expiration_days` (terraform/modules/storage)."""
    return Stmt(
        f"COPY INTO {place.control('ANSWERS')} (DOC, FILE_NAME) FROM (SELECT $1, METADATA$FILENAME FROM "
        f"{place.stage_path(ANSWERS_FOLDER)}) FILE_FORMAT=(TYPE=JSON)"
    )


def settle_answer(place: Place, answer: Answer, run_id: str) -> Stmt:
    """The request's row set to the exporter's answer, if it is still REQUESTED."""
    status = {"exported": "EXPORTED", "no_change": "NO_CHANGE", "failed": "FAILED"}[answer.status]
    keys = json.dumps(list(answer.manifest_keys)) if answer.manifest_keys else None
    return Stmt(
        f"UPDATE {place.control('EXPORT_REQUESTS')} SET STATUS = ?, ERROR = ?, ROWS_EXPORTED = ?, MANIFESTS = ?, "
        f"MANIFEST_KEYS = ?, WINDOW_HIGH = ?, SETTLED_RUN_ID = ?, SETTLED_AT = {timestamp_ntz()} "
        "WHERE REQUEST_ID = ? AND STATUS = ?",
        (
            status,
            answer.error,
            answer.rows,
            len(answer.manifest_keys),
            keys,
            answer.high,
            run_id,
            ledger.now(),
            answer.request_id,
            REQUESTED,
        ),
    )


def lost_message(minutes: float) -> str:
    return (
        f"no answer from the exporter within {minutes:g} minutes: the invocation was lost (a Lambda timeout, out "
        "of memory, or throttled past its maximum event age; see the exporter's CloudWatch logs) or its answer "
        "could not be written. The next run requests the table again from its loaded watermark"
    )


def _manifests_since_request(place: Place) -> str:
    """A manifest of the request's table and mode taken in since the request was made (correlated EXISTS:
    Snowflake's "Working with subqueries", correlated subqueries in a WHERE clause)."""
    return (
        f"EXISTS (SELECT 1 AS X FROM {place.control('MANIFESTS')} m WHERE m.SOURCE_SCHEMA = r.SOURCE_SCHEMA "
        "AND m.SOURCE_TABLE = r.SOURCE_TABLE AND m.MODE = r.MODE AND m.INTAKE_AT >= r.REQUESTED_AT)"
    )


def settle_delivered(place: Place, run_id: str, minutes: float) -> Stmt:
    """Requests REQUESTED for longer than the answer timeout whose table has had manifests of the same mode
    taken in since: the export ran and its data arrived, only its answer did not (the Lambda ended after
    writing the manifests). EXPORTED, with a note, never FAILED."""
    note = (
        f"no answer from the exporter within {minutes:g} minutes, but manifests of the table arrived since the request"
    )
    return Stmt(
        f"UPDATE {place.control('EXPORT_REQUESTS')} AS r SET STATUS = 'EXPORTED', ERROR = ?, SETTLED_RUN_ID = ?, "
        f"SETTLED_AT = {timestamp_ntz()} WHERE r.STATUS = ? AND r.REQUESTED_AT < {timestamp_ntz()} "
        f"AND {_manifests_since_request(place)}",
        (note, run_id, ledger.now(), REQUESTED, ledger.now(-minutes * 60)),
    )


def settle_lost(place: Place, run_id: str, minutes: float) -> Stmt:
    """Requests REQUESTED for longer than the answer timeout, with neither an answer nor manifests since
    (`settle_delivered` runs first), set FAILED in this run."""
    return Stmt(
        f"UPDATE {place.control('EXPORT_REQUESTS')} SET STATUS = 'FAILED', ERROR = ?, SETTLED_RUN_ID = ?, "
        f"SETTLED_AT = {timestamp_ntz()} WHERE STATUS = ? AND REQUESTED_AT < {timestamp_ntz()}",
        (lost_message(minutes), run_id, ledger.now(), REQUESTED, ledger.now(-minutes * 60)),
    )


def settle(session: Any, place: Place, run_id: str, timeout_minutes: Callable[[], float]) -> dict[str, Any]:
    """INTAKE's first step: take the exporter's answers in, then report lost the requests older than the
    timeout (`timeout_minutes()`, read only when something is in flight). Nothing in flight: one
    statement. Returns {"answers": n, "refused": [{"file", "error"}]}.
    An answer that is unsigned, signed with a key intake does not hold, or malformed changes nothing and
    is listed in `refused` (sync_contract.answer)."""
    if not in_flight(session, place):
        return {"answers": 0, "refused": []}
    run(session, copy_answers(place))
    rows = run(session, Stmt(f"SELECT DOC AS D, FILE_NAME AS F FROM {place.control('ANSWERS')}"))
    keys = manifest_keys.load() if rows else {}
    taken, refused = 0, []
    for doc_text, file_name in rows:
        try:
            answer = parse_answer(json.loads(doc_text), keys)
        except (ContractError, ValueError) as err:  # a forged or broken answer settles nothing
            refused.append({"file": str(file_name), "error": str(err)})
            continue
        run(session, settle_answer(place, answer, run_id))
        taken += 1
    if rows:
        names = [str(r[1]) for r in rows]
        marks = ", ".join("?" for _ in names)
        run(session, Stmt(f"DELETE FROM {place.control('ANSWERS')} WHERE FILE_NAME IN ({marks})", tuple(names)))
    minutes = timeout_minutes()
    run(session, settle_delivered(place, run_id, minutes))
    run(session, settle_lost(place, run_id, minutes))
    return {"answers": taken, "refused": refused}
