"""What the live tests that need a Snowflake account (but not the installed app) share.

Environment:

    AURORA_SYNC_LIVE_CONNECTION   a connection name from the Snowflake connector's connections.toml
                                  (the same file the Snowflake CLI reads); its role needs CREATE SCHEMA
                                  on the database below, and a default warehouse
    AURORA_SYNC_LIVE_DATABASE     a database that role may create schemas in, spelled as Snowflake
                                  stores it (usually upper case: RAW, not raw)
    AURORA_SYNC_LIVE_WAREHOUSE    optional: run tasks on this warehouse instead of serverless

Every test works in a schema of its own, AURORA_SYNC_LIVE_<WHAT>_<random>, dropped with everything in
it at the end. Skipped when the first two are not set.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_qualified

CONNECTION = os.environ.get("AURORA_SYNC_LIVE_CONNECTION")
DATABASE = os.environ.get("AURORA_SYNC_LIVE_DATABASE", "")
WAREHOUSE = os.environ.get("AURORA_SYNC_LIVE_WAREHOUSE") or None

needs_account = pytest.mark.skipif(
    not (CONNECTION and DATABASE),
    reason="AURORA_SYNC_LIVE_CONNECTION and AURORA_SYNC_LIVE_DATABASE are not set: no Snowflake account",
)

T = TypeVar("T")


@contextmanager
def account_session() -> Iterator[Any]:
    """A Snowpark session on the account, opened by the product's own helper (aurora_sync.snowflake)."""
    from aurora_sync.snowflake import snowpark_session

    assert CONNECTION is not None
    args: dict[str, Any] = {"connection_name": CONNECTION}
    if WAREHOUSE:
        args["warehouse"] = WAREHOUSE
    with snowpark_session(args, DATABASE) as session:
        yield session


@contextmanager
def scratch_schema(session: Any, what: str) -> Iterator[str]:
    """A new schema in DATABASE (its name, unquoted); dropped with its contents afterwards."""
    name = f"AURORA_SYNC_LIVE_{what}_{uuid.uuid4().hex[:8].upper()}"
    run(session, Stmt(f"CREATE SCHEMA {quote_qualified(DATABASE, name)}"))
    try:
        yield name
    finally:
        run(session, Stmt(f"DROP SCHEMA IF EXISTS {quote_qualified(DATABASE, name)} CASCADE"))


def records(session: Any, stmt: Stmt) -> list[dict[str, Any]]:
    """The result rows as dicts keyed by column name (SHOW commands answer in lower case)."""
    return [row.as_dict() for row in run(session, stmt)]


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, every_s: float = 5.0) -> T:
    """Poll `probe` until it returns something other than None; fails naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout_s:.0f} s")
        time.sleep(every_s)
