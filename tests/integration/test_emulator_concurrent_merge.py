"""Two sessions MERGE into one table at the same time (two runs' FINALIZERs, leases, watermarks of different
tables). Snowflake serializes DML on a table (a statement waits for the lock, LOCK_TIMEOUT: 12 hours by default,
https://docs.snowflake.com/en/sql-reference/transactions#resource-locking): every MERGE applies."""

from __future__ import annotations

import threading
import tomllib

import pytest

from aurora_sync.config import parse_config
from aurora_sync.snowflake import snowpark_session
from stored_procs.statement import Stmt, run

pytestmark = pytest.mark.integration

T = '"ANALYTICS"."ATTACK_CONC"."T"'


@pytest.mark.parametrize(("shared", "seeded"), [(False, False), (True, False), (True, True)])
def test_concurrent_merges_into_one_table_all_apply(stack, snow, shared, seeded):
    """`seeded`: the keys exist before (every MERGE only updates: an UPDATE never adds a row)."""
    run(snow, Stmt('CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."ATTACK_CONC"'))
    run(snow, Stmt(f'CREATE OR REPLACE TABLE {T} ("K" VARCHAR, "N" NUMBER(38,0), "AT" VARCHAR)'))
    if seeded:
        run(
            snow,
            Stmt(
                f"INSERT INTO {T} VALUES ('s-0', -1, 'x'), ('s-1', -1, 'x'), ('s-2', -1, 'x'), "
                "('s-3', -1, 'x'), ('s-4', -1, 'x')"
            ),
        )
    config = parse_config(
        tomllib.loads(stack.config_toml('[[tables]]\nsource = "public.x"\nprimary_key = ["id"]\nmode = "full"\n'))
    )
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    rounds = 40

    def worker(name: str) -> None:
        try:
            with snowpark_session(config.snowflake_connect, config.database) as session:
                barrier.wait()
                for i in range(rounds):
                    run(
                        session,
                        Stmt(
                            f'MERGE INTO {T} AS t USING (SELECT ? AS "K", ? AS "N", ? AS "AT") AS s ON t."K" = s."K" '
                            'WHEN MATCHED THEN UPDATE SET "N" = s."N", "AT" = s."AT" '
                            'WHEN NOT MATCHED THEN INSERT ("K", "N", "AT") VALUES (s."K", s."N", s."AT")',
                            (f"{'s' if shared else name}-{i % 5}", i, name),
                        ),
                    )
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == [], [str(e)[:300] for e in errors]
    rows = sorted(tuple(r) for r in run(snow, Stmt(f'SELECT "K", "N" FROM {T}')))
    names = ("s",) if shared else ("a", "b")
    assert len(rows) == 5 * len(names), rows  # one row per key
    assert rows == sorted((f"{n}-{k}", rounds - 5 + k) for n in names for k in range(5))
