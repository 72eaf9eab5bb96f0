"""The COPY statements of INTAKE: manifests from the stage into INBOX."""

from __future__ import annotations

from stored_procs.spec import Place
from stored_procs.statement import Stmt
from sync_contract.identifiers import SLUG


def copy_manifests(place: Place, manifest_folder: str) -> Stmt:
    """COPY of a table's new manifests into INBOX, each with its file's stage path (METADATA$FILENAME,
    "Querying metadata for staged files": loaded with the data by a COPY transformation, "Transforming
    data during a load"), which intake checks against the manifest's own table and export id.
    LOAD_UNCERTAIN_FILES: a manifest whose load status is unknown (older than the 64 days of load
    metadata, e.g. push mode after a long suspension, or an INBOX re-created) is loaded rather than
    skipped for good ("Data loading considerations", loading older files); a manifest copied twice is
    recorded once (the ledger is keyed by export id)."""
    return Stmt(
        f"COPY INTO {place.control('INBOX')} (DOC, FILE_NAME) FROM (SELECT $1, METADATA$FILENAME FROM "
        f"{place.stage_path(manifest_folder)}) FILE_FORMAT=(TYPE=JSON) LOAD_UNCERTAIN_FILES=TRUE"
    )


def copy_manifests_of(place: Place, slugs: list[str]) -> Stmt:
    """One COPY of the new manifests of several tables into INBOX: the `manifests/` folder, files matched by
    PATTERN (a regular expression the whole file path must match: "COPY INTO <table>", PATTERN,
    https://docs.snowflake.com/en/sql-reference/sql/copy-into-table). It starts with `.*`, so it holds
    whether the path is taken from the stage's location or from the bucket. One statement instead of one
    per table; options as `copy_manifests`."""
    if not slugs or any(not SLUG.fullmatch(s) for s in slugs):
        raise ValueError(f"table folders {slugs!r} are not slugs (sync_contract.identifiers.slug)")
    pattern = f".*manifests/({'|'.join(slugs)})/[^/]*[.]json"
    return Stmt(
        f"COPY INTO {place.control('INBOX')} (DOC, FILE_NAME) FROM (SELECT $1, METADATA$FILENAME FROM "
        f"{place.stage_path('manifests/')}) PATTERN = '{pattern}' FILE_FORMAT=(TYPE=JSON) LOAD_UNCERTAIN_FILES=TRUE"
    )
