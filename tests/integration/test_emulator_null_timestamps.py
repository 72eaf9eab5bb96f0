"""The emulator answers a NULL timestamp as NULL through the connector (it sent epoch 0, read as
1970-01-01: aurora_sync/stack/emulator/null_timestamps.py); values beside it are unchanged."""

from __future__ import annotations

import datetime
import tomllib

import pytest
import snowflake.connector

from aurora_sync.config import parse_config

pytestmark = pytest.mark.integration


def test_null_timestamps_read_back_as_null_through_the_connector(stack):
    config = parse_config(
        tomllib.loads(stack.config_toml('[[tables]]\nsource = "public.x"\nprimary_key = ["id"]\nmode = "full"\n'))
    )
    conn = snowflake.connector.connect(**config.snowflake_connect)
    try:
        cur = conn.cursor()
        cur.execute('CREATE DATABASE IF NOT EXISTS "ANALYTICS"')
        cur.execute('CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."NULL_TS"')
        cur.execute(
            'CREATE OR REPLACE TABLE "ANALYTICS"."NULL_TS"."T" (ID INT, TZ TIMESTAMP_TZ, NTZ TIMESTAMP_NTZ, '
            "LTZ TIMESTAMP_LTZ)"
        )
        cur.execute(
            'INSERT INTO "ANALYTICS"."NULL_TS"."T" VALUES (1, NULL, NULL, NULL), '
            "(2, TO_TIMESTAMP_TZ('2026-03-01 10:00:00.5 +00:00', 'YYYY-MM-DD HH24:MI:SS.FF TZH:TZM'), "
            "TO_TIMESTAMP_NTZ('2026-03-01 10:00:00', 'YYYY-MM-DD HH24:MI:SS'), NULL), (3, NULL, "
            "TO_TIMESTAMP_NTZ('1970-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS'), NULL)"
        )
        cur.execute('SELECT ID, TZ, NTZ, LTZ FROM "ANALYTICS"."NULL_TS"."T" ORDER BY ID')
        rows = cur.fetchall()
    finally:
        conn.close()
    assert rows[0] == (1, None, None, None)
    assert rows[1][1] == datetime.datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=datetime.UTC)
    assert rows[1][2:] == (datetime.datetime(2026, 3, 1, 10, 0), None)
    assert rows[2] == (3, None, datetime.datetime(1970, 1, 1), None)  # the epoch itself is still a value
