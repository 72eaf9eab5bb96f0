"""Leases in the control tables: one holder at a time per name (a table's load, the intake), so two
overlapping cycles never both load the same table. The run's FINALIZER releases what its tasks still
hold (a task killed at its timeout); a lease also expires after its time to live, so a holder that
dies with no finalizer after it (a crashed `aurora-sync` process) blocks nobody for longer than that.

Acquiring is one conditional UPDATE of the lease's row (Snowflake serialises UPDATEs of one table), whose
row count says whether it took the lease; the row is created on first use, and who holds a busy lease
is read back only then.

Every lease of every table lives in the one LEASES table, so each acquisition and release (an UPDATE,
then an UPDATE) waits for that table's lock behind the others; Snowflake aborts a statement
once more than 20 wait ("Transactions", resource locking). Within a graph run only the load lanes take
table leases, each one table at a time, so at most `graph.MAX_LANES` (8) of the graph's statements wait
on LEASES at once (INTAKE takes its lease before the lanes start, the FINALIZER releases after they
end); a statement aborted anyway is run again by `statement.run`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from stored_procs.datetime_text import timestamp_ntz
from stored_procs.ledger import now
from stored_procs.spec import Place
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import slug

DEFAULT_TTL_S = 2 * 3600  # longer than a task may run (USER_TASK_TIMEOUT_MS = 1 h)


@dataclass(frozen=True)
class Busy:
    """Somebody else holds the lease: `holder` is `<run id>/<task>` (`held`), the times are UTC text."""

    name: str
    holder: str
    expires_at: str
    acquired_at: str | None = None

    @property
    def run_id(self) -> str:
        """The run holding the lease (RUNS.RUN_ID, RUN_SUMMARIES.RUN_ID)."""
        return self.holder.split("/", 1)[0]

    def message(self, done: str = "nothing was done") -> str:
        since = f" since {self.acquired_at} UTC" if self.acquired_at else ""
        return (
            f"{self.name} is held by {self.holder} (run {self.run_id}{since}, until {self.expires_at} UTC): "
            f"another run is at work on it; {done}. It is released when that run ends, or expires at that "
            "time if it died"
        )


def table_lease(schema: str, table: str) -> str:
    """The name of a table's load lease (`stored_procs.loading.load`)."""
    return f"load:{slug(schema, table)}"


_AT = timestamp_ntz()  # a bound ledger.now() text, with its explicit format (stored_procs/datetime_text.py)


def acquire(session: Any, place: Place, name: str, holder: str, ttl_s: float = DEFAULT_TTL_S) -> Busy | None:
    """None when `holder` now holds `name`; else who does.

    One statement when the lease row exists and is free: the conditional UPDATE's row count says whether
    it took the lease ("number of rows updated", UPDATE's output in the SQL command reference). Only when
    it updated nothing is the row created (a first use) and tried again, and the holder read back."""
    if _take(session, place, name, holder, ttl_s):
        return None
    leases = place.control("LEASES")
    run(
        session,
        Stmt(
            f"MERGE INTO {leases} AS t USING (SELECT CAST(? AS VARCHAR) AS NAME) AS s ON t.NAME = s.NAME "
            "WHEN NOT MATCHED THEN INSERT (NAME) VALUES (s.NAME)",
            (name,),
        ),
    )
    if _take(session, place, name, holder, ttl_s):
        return None
    query = f"SELECT HOLDER AS H, EXPIRES_AT AS E, ACQUIRED_AT AS A FROM {leases} WHERE NAME = ?"
    rows = run(session, Stmt(query, (name,)))
    current, expires, since = (rows[0][0], rows[0][1], rows[0][2]) if rows else (None, None, None)
    return None if current == holder else Busy(name, str(current), str(expires), None if since is None else str(since))


def _take(session: Any, place: Place, name: str, holder: str, ttl_s: float) -> bool:
    """The conditional UPDATE that takes a free (or expired, or already ours) lease; True when it did.

    It takes every row of the name, and only when none is held by another: two first uses at once may
    both have created the row (two MERGEs, neither seeing the other's insert), and taking one row each
    would give the lease to both."""
    leases = place.control("LEASES")
    rows = run(
        session,
        Stmt(
            f"UPDATE {leases} SET HOLDER = ?, ACQUIRED_AT = {_AT}, EXPIRES_AT = {_AT} WHERE NAME = ? "
            f"AND NOT EXISTS (SELECT 1 AS X FROM {leases} AS o WHERE o.NAME = ? AND o.HOLDER IS NOT NULL "
            f"AND o.HOLDER <> ? AND o.EXPIRES_AT >= {_AT})",
            (holder, now(), now(ttl_s), name, name, holder, now()),
        ),
    )
    return bool(rows) and int(rows[0][0] or 0) > 0


def _clear(session: Any, place: Place, where: str, params: tuple[Any, ...]) -> None:
    sets = "HOLDER = NULL, ACQUIRED_AT = NULL, EXPIRES_AT = NULL"
    run(session, Stmt(f"UPDATE {place.control('LEASES')} SET {sets} WHERE {where}", params))


def release(session: Any, place: Place, name: str, holder: str) -> None:
    _clear(session, place, "NAME = ? AND HOLDER = ?", (name, holder))


def release_run(session: Any, place: Place, run_id: str) -> None:
    """Every lease a run still holds: the FINALIZER runs after all of its run's tasks ended, so a lease
    left by one of them (a task killed at its timeout) blocks the next run no longer."""
    prefix = f"{run_id}/"
    _clear(session, place, f"LEFT(HOLDER, {len(prefix)}) = ?", (prefix,))


@contextmanager
def held(session: Any, place: Place, name: str, owner: str, ttl_s: float = DEFAULT_TTL_S) -> Iterator[Busy | None]:
    """Hold `name` for the block (yields None), or yield who holds it and hold nothing."""
    holder = f"{owner}/{uuid.uuid4().hex[:8]}"
    try:
        busy = acquire(session, place, name, holder, ttl_s)
    except BaseException:  # interrupted (Ctrl-C) perhaps after the UPDATE took it: let go of what is ours
        with suppress(Exception):
            release(session, place, name, holder)
        raise
    try:
        yield busy
    finally:
        if busy is None:
            release(session, place, name, holder)
