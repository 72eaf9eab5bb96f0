"""What this run's export requests say about a table's LOAD: a failed export, or exported manifests the
ledger never received. Either fails the table's run (RUNS.STATUS FAILED with the reason), on the local
runner and in the Task graph alike, so a run that could not export never counts as a success.

REQUEST_EXPORTS (`stored_procs.orchestration.exports.record_request`) writes one EXPORT_REQUESTS row per request;
the LOAD of the same run (`load.load_table`) and the FINALIZER (for a table whose LOAD did not run)
read them back here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stored_procs import ledger
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run

SHOWN_KEYS = 5  # manifest keys named in a message; the rest are counted


@dataclass(frozen=True)
class Request:
    mode: str | None  # incremental / full / keys; None in rows written before the column existed
    status: str  # EXPORTED / NO_CHANGE / FAILED
    error: str | None
    manifest_keys: tuple[str, ...]


def requests_of_run(session: Any, place: Place, spec: TableSpec, run_id: str) -> list[Request]:
    """The table's EXPORT_REQUESTS rows of `run_id`, oldest first: those it made, and the asynchronous
    requests its INTAKE settled (SETTLED_RUN_ID: answered, or reported lost; `answers`). A request made
    and still REQUESTED is neither failed nor exported yet, so it fails nothing."""
    return requests_by_table(session, place, run_id, spec).get(spec.key, [])


def requests_by_table(
    session: Any, place: Place, run_id: str, spec: TableSpec | None = None
) -> dict[tuple[str, str], list[Request]]:
    """`requests_of_run` of every table (or of `spec` only) in one statement, by (schema, table)."""
    where, params = "(RUN_ID = ? OR SETTLED_RUN_ID = ?)", [run_id, run_id]
    if spec is not None:
        where += " AND SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?"
        params += [spec.source_schema, spec.source_table]
    rows = run(
        session,
        Stmt(
            "SELECT SOURCE_SCHEMA AS A, SOURCE_TABLE AS B, MODE AS M, STATUS AS S, ERROR AS E, MANIFEST_KEYS AS K "
            f"FROM {place.control('EXPORT_REQUESTS')} WHERE {where} ORDER BY REQUESTED_AT",
            tuple(params),
        ),
    )
    found: dict[tuple[str, str], list[Request]] = {}
    for r in rows:
        found.setdefault((r[0], r[1]), []).append(
            Request(r[2], str(r[3]), r[4], tuple(json.loads(r[5]) if r[5] else ()))
        )
    return found


def latest(requests: list[Request]) -> list[Request]:
    """One request per mode (the window's export, the key set): the latest, as a task retried within the
    run (TASK_AUTO_RETRY_ATTEMPTS) requests again and its newer answer stands."""
    by_mode = {r.mode: r for r in requests}  # oldest first: later ones replace earlier ones
    return list(by_mode.values())


def export_errors(requests: list[Request]) -> list[str]:
    """The errors of the run's failed export requests (the latest per mode)."""
    return [failure_text(r.mode, r.error) for r in latest(requests) if r.status == "FAILED"]


def failure_text(mode: str | None, error: str | None) -> str:
    """How a failed export request reads in RUNS.ERROR and on the console."""
    return f"export {'of the key set ' if mode == 'keys' else ''}failed: {error or 'no error text recorded'}"


def export_id_of(manifest_key: str) -> str:
    """`<prefix>manifests/<table>/<export id>.json` -> the export id (sync_contract.manifest.manifest_key)."""
    return manifest_key.rsplit("/", 1)[-1].removesuffix(".json")


def written_manifests(session: Any, place: Place, spec: TableSpec, keys: list[str]) -> list[str]:
    """What the ledger says of the manifests (S3 keys) the exporter reported writing in this run, read in
    one statement: a manifest whose export id it does not hold (in any status: one taken in earlier,
    loaded or not, is not missing), and one whose export id an operator discarded (intake skips such a
    manifest as known, so its window would never load and the table would wait in silence). Both fail
    the table's run; [] when all is well. The local runner and the Task graph's LOAD both ask this."""
    if not keys:
        return []
    statuses = ledger.export_statuses(session, place, sorted({export_id_of(k) for k in keys}))
    found = []
    if missing := [k for k in keys if export_id_of(k) not in statuses]:
        found.append(missing_message(spec, missing))
    if again := [k for k in keys if statuses.get(export_id_of(k)) == ledger.DISCARDED]:
        found.append(discarded_message(spec, again))
    return found


def discarded_message(spec: TableSpec, keys: list[str]) -> str:
    ids = ", ".join(sorted({export_id_of(k) for k in keys}))
    return (
        f"the exporter wrote export {ids} of {spec.source} again, an export id an operator discarded "
        "(DISCARD_MANIFEST): the same window gets the same id, so it will not load and the watermark stays "
        f"where it is. If this export is genuine, CALL CORE.RETRY_MANIFEST('<id>'); else resync the table "
        f"({spec.resync_hint}), whose exports from the beginning get new ids"
    )


def missing_message(spec: TableSpec, missing: list[str]) -> str:
    shown = ", ".join(missing[:SHOWN_KEYS]) + (
        f" (+{len(missing) - SHOWN_KEYS} more)" if len(missing) > SHOWN_KEYS else ""
    )
    return (
        f"exported manifests not found: the exporter wrote {len(missing)} manifest(s) of {spec.source} in this run "
        f"({shown}) but intake did not take them in; nothing of them was loaded and the watermark did not move. "
        "Likely causes: the stage points at another bucket or prefix than the exporter writes to (compare the "
        "stage URL with the keys), intake failed or was busy with another run, or the objects were removed. "
        "The next run exports again from the same watermark and loads once intake finds its manifests"
    )


def problems(
    session: Any, place: Place, spec: TableSpec, run_id: str, requests: list[Request] | None = None
) -> list[str]:
    """Why this run of the table failed before its LOAD could help: export errors, manifests not found.
    `requests`: the table's requests of the run when already read (`requests_by_table`)."""
    if requests is None:
        requests = requests_of_run(session, place, spec, run_id)
    keys = [k for r in latest(requests) if r.status == "EXPORTED" for k in r.manifest_keys]
    return export_errors(requests) + written_manifests(session, place, spec, keys)
