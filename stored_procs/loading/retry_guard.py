"""RETRY_MANIFEST of a document intake refused: only when the exporter signed it (issue 13, review).

Intake records a document it refuses under `invalid-<digest>` with the document as it came (DOC). Some
were signed by the exporter and refused for what they say (a window that cannot be ordered, a file out
of place): those may be retried once the cause is fixed. Others failed the signature check: retrying
one would load a document nobody can vouch for, so RETRY_MANIFEST refuses it, naming DISCARD_MANIFEST.
"""

from __future__ import annotations

import json
from typing import Any

from stored_procs import ledger
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.loading import manifest_keys
from stored_procs.loading.duplicates import status_and_doc
from stored_procs.loading.intake import INVALID_PREFIX
from stored_procs.spec import Place
from sync_contract import signing
from sync_contract.errors import ManifestError


def check(session: Any, place: Place, export_id: str) -> None:
    """Raise InvalidSetting when `export_id` is a refused document whose signature does not verify with the
    keys the procedures hold now (stored_procs.loading.manifest_keys; NotConfigured without any)."""
    if not export_id.startswith(INVALID_PREFIX):
        return  # recorded from a verified manifest (a ledger row of its own, or a `.dup-` newcomer)
    recorded = status_and_doc(session, place, export_id)
    if recorded is None:
        return  # RETRY_MANIFEST itself says it found nothing
    try:
        doc = json.loads(recorded[1] or "null")
        if not isinstance(doc, dict):
            raise ManifestError("$", "is not a JSON object")
        signing.verify(doc, manifest_keys.load())
    except (ManifestError, ValueError) as err:
        raise InvalidSetting(
            f"export {export_id} cannot be retried: intake refused it and it does not carry the exporter's "
            f"signature ({err}); a document nobody can vouch for is never loaded. If the key it names was "
            f"missing, add the key to the MANIFEST_KEY secret: the exporter's next export loads. Then "
            f"CALL CORE.DISCARD_MANIFEST('{export_id}', '<reason>')",
            "export_id",
        ) from None


def retry(session: Any, place: Place, export_id: str) -> dict[str, Any]:
    """A FAILED or QUARANTINED manifest back to NEW, its attempts reset, loaded again by the next run: the
    one code of CORE.RETRY_MANIFEST (handlers.retry_manifest) and `aurora-sync retry` (aurora_sync.cli).
    Raises InvalidSetting (naming `export_id`) for a refused document without the exporter's signature
    (`check`) and for an id no FAILED or QUARANTINED manifest has. Returns {export_id, status}."""
    check(session, place, export_id)
    if not ledger.retry_manifest(session, place, export_id):
        raise InvalidSetting(
            f"no FAILED or QUARANTINED manifest has export id {export_id!r}: see CORE.FAILURES, or "
            "`aurora-sync status --config sync.toml` with the local runner",
            "export_id",
        )
    return {"export_id": export_id, "status": ledger.NEW}
