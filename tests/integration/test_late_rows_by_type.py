"""The late-row guard in the watermark column's own terms (docs/CORRECTNESS.md, "the guard per watermark type").

A `timestamp` (without time zone) column holds wall-clock values of the zone its writers' sessions run
in, so the guard's instant is turned into that zone's wall clock; a column of precision p < 6 rounds
now() to p digits, so the guard is floored to the column's precision. Each test leaves a transaction
open across a cycle while a newer update commits, then checks the late rows arrive with their values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest

from aurora_sync.reconcile import reconcile
from lambda_exporter.query import guard_in_column_terms
from lambda_exporter.source import execute
from sync_contract.identifiers import quote_ident
from sync_contract.types import Kind
from sync_contract.watermark import sort_key

pytestmark = pytest.mark.integration

ZONE = "America/New_York"


def _target(h: Any, table: str) -> dict[int, str]:
    return {r[0]: r[1] for r in h.query(f'SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."{table}" ORDER BY "ID"')}


def _clean(h: Any) -> bool:
    """Every column of every row equal in source and target (timestamps to the microsecond)."""
    (result,) = reconcile(h.snow, h.config.source_dsn, h.config.database, h.config.tables)
    return result.clean


def _windows(h: Any, table: str, mode: str = "incremental") -> list[dict[str, Any]]:
    rows = h.query(
        f"SELECT DOC FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? AND MODE = ? ORDER BY CREATED_AT",
        table,
        mode,
    )
    return [json.loads(r[0])["window"] for r in rows]


def _source(pg: Any, table: str) -> tuple[dict[int, str], str]:
    cur = pg.cursor()
    cur.execute(f"SELECT id, v FROM public.{table} ORDER BY id")
    values = dict(cur.fetchall())
    cur.execute(f"SELECT max(updated_at)::text FROM public.{table}")
    return values, cur.fetchone()[0]


def _dsn_as(endpoints: Any, user: str | None) -> str:
    if user is None:
        return str(endpoints.pg_dsn)
    params = psycopg2.extensions.parse_dsn(endpoints.pg_dsn) | {"user": user, "password": f"{user}-pw"}
    return " ".join(f"{k}={v}" for k, v in params.items())


@contextmanager
def _writers_in_new_york(pg: Any, how: str, table: str) -> Iterator[str | None]:
    """New sessions of the application write New York wall-clock times: set for the whole database
    (the exporter's own session default then says so too), or only for the application's role (the
    exporter, another role, still starts in UTC). Yields the role the application connects as."""
    cur = pg.cursor()
    cur.execute("SELECT current_database()")
    database = quote_ident(cur.fetchone()[0])
    role = None
    if how == "database":
        cur.execute(f"ALTER DATABASE {database} SET TimeZone = %s", (ZONE,))
    else:
        role = "late_ny_app"
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (f"{role}-pw",))
        cur.execute(f"GRANT SELECT, INSERT, UPDATE ON public.{table} TO {role}")
        cur.execute(f"ALTER ROLE {role} SET TimeZone = %s", (ZONE,))
    try:
        yield role
    finally:
        if role is None:
            cur.execute(f"ALTER DATABASE {database} RESET TimeZone")
        else:
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("how", ["database", "role"])
def test_late_rows_of_a_local_time_watermark_in_a_new_york_database_are_not_lost(pg, harness, endpoints, how):
    """`timestamp` written as New York local time (now() into a timestamp column): a transaction
    updates 5 rows and stays open across a cycle while another update commits; after it commits, the
    5 rows arrive with their values and the watermark ends at the source's newest value."""
    table = f"late_ntz_{how}"
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text NOT NULL, updated_at timestamp NOT NULL)")
    with _writers_in_new_york(pg, how, table) as role:
        app = psycopg2.connect(_dsn_as(endpoints, role))
        app.autocommit = True
        app_cur = app.cursor()
        app_cur.execute("SELECT current_setting('TimeZone')")
        assert app_cur.fetchone()[0] == ZONE  # a new session writes New York time
        app_cur.execute(
            f"INSERT INTO public.{table} SELECT g, 'old', now() - interval '1 minute' FROM generate_series(1, 10) g"
        )
        slow = psycopg2.connect(_dsn_as(endpoints, role))
        slow.cursor().execute(f"UPDATE public.{table} SET v = 'late', updated_at = now() WHERE id <= 5")
        app_cur.execute(f"UPDATE public.{table} SET v = 'new', updated_at = now() WHERE id > 5")  # commits
        h = harness.add(f"public.{table}", ["id"], "updated_at")
        try:
            first = h.cycle()
            assert not first.failed, first
            # rows 6-10, committed newer than the open transaction's start in New York time, wait
            assert _target(h, table.upper()) == {i: "old" for i in range(1, 6)}
            (window,) = _windows(h, table)
            assert window["bound"] == "max_watermark_below_open_transactions"
            assert sort_key(Kind.TIMESTAMP_NTZ, window["high"]) < sort_key(Kind.TIMESTAMP_NTZ, window["guard"])
        finally:
            slow.commit()
            slow.close()
            app.close()
        for _ in range(2):
            assert not h.cycle().failed
        values, newest = _source(pg, table)
        assert values == {**{i: "late" for i in range(1, 6)}, **{i: "new" for i in range(6, 11)}}
        assert _target(h, table.upper()) == values
        assert h.watermark(table) == newest
        assert _clean(h)


def _open_at_fraction(endpoints: Any, unit: str) -> tuple[Any, str]:
    """A transaction whose start (now()) is not a whole `unit`, so flooring it to the column's
    precision gives an earlier value; returns it and that floored value (the boundary)."""
    for _ in range(10):
        slow = psycopg2.connect(endpoints.pg_dsn)
        cur = slow.cursor()
        cur.execute(f"SELECT date_trunc('{unit}', now()) <> now(), date_trunc('{unit}', now())::text")
        fractional, boundary = cur.fetchone()
        if fractional:
            return slow, boundary
        slow.rollback()
        slow.close()
    raise AssertionError("now() was a whole unit ten times running")


@pytest.mark.parametrize(("precision", "unit"), [(0, "second"), (3, "milliseconds")])
def test_a_late_row_at_the_high_bound_in_the_columns_precision_is_not_lost(pg, harness, endpoints, precision, unit):
    """timestamptz(p): the open transaction's rows carry now() in p digits, which can equal the newest
    committed value (another transaction that started a moment earlier in the same second or
    millisecond). Without flooring the guard, high would be that value and the next window would start
    above the late rows."""
    table = f"late_tz{precision}"
    cur = pg.cursor()
    column = f"updated_at timestamptz({precision}) NOT NULL"
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text NOT NULL, {column})")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'old', now() - interval '1 hour' FROM generate_series(1, 10) g")
    slow, boundary = _open_at_fraction(endpoints, unit)
    # the late rows hold the transaction's start in the column's precision, rounded down (now() rounds
    # to the nearest: down or up, never below the floor)
    slow.cursor().execute(
        f"UPDATE public.{table} SET v = 'late', updated_at = date_trunc('{unit}', now()) WHERE id <= 5"
    )
    cur.execute(f"UPDATE public.{table} SET v = 'edge', updated_at = %s WHERE id = 6", (boundary,))  # commits
    h = harness.add(f"public.{table}", ["id"], "updated_at")
    try:
        first = h.cycle()
        assert not first.failed, first
        (window,) = _windows(h, table)
        assert sort_key(Kind.TIMESTAMP_TZ, window["high"]) < sort_key(Kind.TIMESTAMP_TZ, boundary)
        # row 6, committed at the boundary, waits for the next window with the late rows
        assert _target(h, table.upper()) == {i: "old" for i in range(1, 11) if i != 6}
    finally:
        slow.commit()
        slow.close()
    for _ in range(2):
        assert not h.cycle().failed
    values, newest = _source(pg, table)
    assert values == {**{i: "late" for i in range(1, 6)}, 6: "edge", **{i: "old" for i in range(7, 11)}}
    assert _target(h, table.upper()) == values
    assert h.watermark(table) == newest == boundary
    assert _clean(h)


def test_a_key_set_stays_below_the_oldest_open_transaction_too(pg, harness, endpoints):
    """Delete detection judges target rows at or below the key set's high: a row inserted by a
    transaction still open at the key set's snapshot must lie above that high, or a later window
    would load it and the key set would delete it."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.late_keys (id int PRIMARY KEY, v text NOT NULL, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.late_keys SELECT g, 'old', now() - interval '1 hour' FROM generate_series(1, 5) g")
    slow = psycopg2.connect(endpoints.pg_dsn)
    slow.cursor().execute("INSERT INTO public.late_keys VALUES (6, 'late', now())")
    cur.execute("UPDATE public.late_keys SET v = 'new', updated_at = now() WHERE id = 1")  # commits
    h = harness.add("public.late_keys", ["id"], "updated_at", delete_detection="'delete'", keys_interval_hours="0")
    try:
        assert not h.cycle().failed
        (keys,) = _windows(h, "late_keys", "keys")
        assert keys["bound"] == "max_watermark_below_open_transactions"
        cur.execute("SELECT updated_at::text FROM public.late_keys WHERE id = 1")
        assert sort_key(Kind.TIMESTAMP_TZ, keys["high"]) < sort_key(Kind.TIMESTAMP_TZ, keys["guard"])
        assert sort_key(Kind.TIMESTAMP_TZ, keys["high"]) < sort_key(Kind.TIMESTAMP_TZ, cur.fetchone()[0])
    finally:
        slow.commit()
        slow.close()
    for _ in range(2):
        assert not h.cycle().failed
    values, newest = _source(pg, "late_keys")
    assert _target(h, "LATE_KEYS") == values == {1: "new", 2: "old", 3: "old", 4: "old", 5: "old", 6: "late"}
    assert h.watermark("late_keys") == newest
    assert _clean(h)


@pytest.mark.parametrize(
    ("guard", "expected"),
    [
        # 01:30 EDT, half an hour before New York falls back to 01:00 EST: the hour repeats, so the
        # bound is the repeated 01:00 (less one minute, the sampling step)
        ("2026-11-01 05:30:00.2504+00", "2026-11-01 00:59:00.2504"),
        # a day later: plain wall-clock time
        ("2026-11-02 05:30:00.2504+00", "2026-11-02 00:30:00.2504"),
        # 01:30 EST before springing forward to 03:00 EDT: local times only jump ahead
        ("2026-03-08 06:30:00.2504+00", "2026-03-08 01:30:00.2504"),
    ],
)
def test_the_guard_of_a_local_time_watermark_across_daylight_saving_changes(pg, endpoints, guard, expected):
    """The wall-clock bound is the earliest local time any writer's zone shows from the guard on (so a
    value written in an hour that repeats after the transition is never below high), floored to the
    column's precision."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS public.late_dst (id int PRIMARY KEY, updated_at timestamp(3))")
    cur.execute("SELECT current_database()")
    database = quote_ident(cur.fetchone()[0])
    cur.execute(f"ALTER DATABASE {database} SET TimeZone = %s", (ZONE,))
    try:
        fresh = psycopg2.connect(endpoints.pg_dsn)  # a new session: the database's zone is its default
        try:
            (exact,) = execute(fresh, guard_in_column_terms("public", "late_dst", guard, 6, wall_clock=True))[0]
            (floored,) = execute(fresh, guard_in_column_terms("public", "late_dst", guard, 3, wall_clock=True))[0]
        finally:
            fresh.close()
    finally:
        cur.execute(f"ALTER DATABASE {database} RESET TimeZone")
    assert exact == expected
    assert floored == expected[: -len("04")]  # .2504 -> .25 (three digits, trailing zero dropped)


def test_a_utc_timestamp_column_in_a_new_york_database_waits_until_the_exporter_declares_its_zone(
    pg, harness, endpoints
):
    """An application that stores UTC wall-clock time in a `timestamp` column of a New York database
    writes values hours ahead of the database's zone: the guard, in New York time, holds them back
    (never loses them). Setting the exporter role's own TimeZone declares the writers' zone, and they
    flow."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.late_utc (id int PRIMARY KEY, v text NOT NULL, updated_at timestamp NOT NULL)")
    cur.execute("SELECT current_user")
    exporter_role = quote_ident(cur.fetchone()[0])  # the stack's exporter connects as this role too
    with _writers_in_new_york(pg, "database", "late_utc"):
        app = psycopg2.connect(endpoints.pg_dsn)
        app.autocommit = True
        app.cursor().execute(
            "INSERT INTO public.late_utc SELECT g, 'utc', now() AT TIME ZONE 'UTC' FROM generate_series(1, 5) g"
        )
        app.close()
        h = harness.add("public.late_utc", ["id"], "updated_at")
        first = h.cycle()
        assert not first.failed, first
        assert first.tables[0].export["status"] == "no_change"  # ahead of New York's wall clock: waiting
        assert h.watermark("late_utc") is None
        cur.execute(f"ALTER ROLE {exporter_role} SET TimeZone = 'UTC'")
        try:
            second = h.cycle()
        finally:
            cur.execute(f"ALTER ROLE {exporter_role} RESET TimeZone")
    assert not second.failed, second
    values, newest = _source(pg, "late_utc")
    assert _target(h, "LATE_UTC") == values == {i: "utc" for i in range(1, 6)}
    assert h.watermark("late_utc") == newest
    assert _clean(h)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("TimeZone = -7", "2026-11-01 22:30:00.2504"),  # hours east of UTC (ISO), as SET reads it
        ("TIME ZONE INTERVAL '-09:00' HOUR TO MINUTE", "2026-11-01 20:30:00.2504"),
        ("TimeZone = 'Pacific/Honolulu'", "2026-11-01 19:30:00.2504"),
        ("TimeZone = 'UTC+11'", "2026-11-01 18:30:00.2504"),  # a POSIX string: 11 hours west
    ],
)
def test_a_writing_roles_time_zone_in_each_form_postgresql_accepts(pg, endpoints, setting, expected):
    """A role that may write the table and has a zone of its own (west of the database's UTC) sets the
    bound: the wall-clock time its sessions write, for every form SET TimeZone takes. A number or an
    interval is an ISO offset (east positive), where AT TIME ZONE would read the text as POSIX."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS public.late_forms (id int PRIMARY KEY, updated_at timestamp)")
    cur.execute("CREATE ROLE late_forms_writer")
    try:
        cur.execute("GRANT INSERT ON public.late_forms TO late_forms_writer")
        cur.execute(f"ALTER ROLE late_forms_writer SET {setting}")
        stmt = guard_in_column_terms("public", "late_forms", "2026-11-02 05:30:00.2504+00", 6, wall_clock=True)
        (bound,) = execute(pg, stmt)[0]
        cur.execute("REVOKE INSERT ON public.late_forms FROM late_forms_writer")
        (unprivileged,) = execute(pg, stmt)[0]
    finally:
        cur.execute("DROP OWNED BY late_forms_writer")
        cur.execute("DROP ROLE late_forms_writer")
    assert bound == expected
    assert unprivileged == "2026-11-02 05:30:00.2504"  # a role that cannot write the table: not a writer
