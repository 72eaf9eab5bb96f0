"""The Task graph's statement cuts (one read of every watermark, key set and request) keep tables whose
names read alike (`a.b`.`c`, `a`.`b.c`) apart, through the app's procedures."""

from __future__ import annotations

import pytest

from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs.statement import Stmt, run
from tests.integration.test_app_procedures import app, call  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def _setup(session, stack) -> None:  # type: ignore[no-untyped-def]
    ep = stack.endpoints
    call(session, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(session, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(session, "SET_TARGET_DATABASE", "ANALYTICS")


def test_the_graph_keeps_the_watermarks_of_tables_whose_names_read_alike(pg, app, stack):  # noqa: F811
    """REQUEST_EXPORTS now reads every watermark in one statement, keyed by `schema.table` text:
    "atk2"."p.q" and "atk2.p"."q" share the key, so the second is requested from the first's watermark."""
    cur = pg.cursor()
    cur.execute('CREATE SCHEMA IF NOT EXISTS "atk2"')
    cur.execute('CREATE SCHEMA IF NOT EXISTS "atk2.p"')
    cur.execute('CREATE TABLE "atk2"."p.q" (id int PRIMARY KEY, updated_at timestamptz NOT NULL)')
    cur.execute('CREATE TABLE "atk2.p"."q" (id int PRIMARY KEY, updated_at timestamptz NOT NULL)')
    cur.execute(
        """INSERT INTO "atk2"."p.q" SELECT g, TIMESTAMPTZ '2026-03-01 00:00:00+00' FROM generate_series(1, 5) g"""
    )
    cur.execute(
        """INSERT INTO "atk2.p"."q" SELECT g, TIMESTAMPTZ '2026-01-01 00:00:00+00' FROM generate_series(1, 7) g"""
    )
    _setup(app, stack)
    call(app, "ADD_TABLE", '"atk2"."p.q"', ["id"], "updated_at", "incremental", "ATK_APP.X")
    first = call(app, "SYNC_ALL")
    assert first["status"] == "SUCCEEDED", first
    call(app, "ADD_TABLE", '"atk2.p"."q"', ["id"], "updated_at", "incremental", "ATK_APP.Y")
    second = call(app, "SYNC_ALL")
    assert run(app, Stmt('SELECT COUNT(*) FROM "ANALYTICS"."ATK_APP"."X"'))[0][0] == 5
    rows = run(app, Stmt('SELECT COUNT(*) FROM "ANALYTICS"."ATK_APP"."Y"'))[0][0] if _exists(app, "Y") else 0
    assert rows == 7, second.get("steps", {}).get("REQUEST_EXPORTS")


def _exists(session, table: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        run(session, Stmt(f'SELECT 1 FROM "ANALYTICS"."ATK_APP"."{table}" LIMIT 1'))
        return True
    except Exception:
        return False
