"""Randomized cycles: random source changes (inserts, updates, deletes, transactions left open across a
cycle, columns added with a DEFAULT or GENERATED and renamed, a second-precision watermark) and random
crashes at the failpoints; at the end the target equals the source.

CI runs 50 cycles with a fixed seed; `make fuzz` runs more (AURORA_SYNC_FUZZ_CYCLES, _SEED). The
figures are printed and written to .pytest-tmp/fuzz.json (docs/CORRECTNESS.md quotes a run)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from sync_contract import failpoints
from tests.integration.crashes import compare, cycle_in_child, expire_leases, local_toml

pytestmark = pytest.mark.integration

CYCLES = int(os.environ.get("AURORA_SYNC_FUZZ_CYCLES", "50"))
SEED = int(os.environ.get("AURORA_SYNC_FUZZ_SEED", "20261122"))
CRASH_PROBABILITY = 0.35
SCHEMA_CHANGE_PROBABILITY = 0.12


def _changes(rng: random.Random, cur: Any, next_id: list[int]) -> int:
    """Random inserts and updates on the incremental table, and inserts, updates and deletes on the
    full one (an incremental table sees no deletes: that is what keys-mode exports are for)."""
    n = 0
    for _ in range(rng.randint(0, 15)):
        next_id[0] += 1
        cur.execute("INSERT INTO public.fz_orders VALUES (%s, %s, clock_timestamp())", (next_id[0], rng.random()))
        n += 1
    ids = rng.sample(range(1, next_id[0] + 1), k=min(next_id[0], rng.randint(0, 10)))
    if ids:
        cur.execute(
            "UPDATE public.fz_orders SET amount = random(), updated_at = clock_timestamp() WHERE id = ANY(%s)", (ids,)
        )
        n += len(ids)
    for _ in range(rng.randint(0, 6)):  # timestamptz(0): rows of one second share their watermark
        event = rng.randint(1, 40)
        cur.execute(
            "INSERT INTO public.fz_events VALUES (%s, %s, clock_timestamp()) ON CONFLICT (id) DO UPDATE "
            "SET v = EXCLUDED.v, updated_at = clock_timestamp()",
            (event, rng.randint(0, 1000)),
        )
        n += 1
    code = rng.randint(1, 60)
    action = rng.choice(["insert", "update", "delete", "none"])
    if action == "insert":
        cur.execute("INSERT INTO public.fz_codes VALUES (%s, md5(random()::text)) ON CONFLICT DO NOTHING", (code,))
    elif action == "update":
        cur.execute("UPDATE public.fz_codes SET label = md5(random()::text) WHERE code = %s", (code,))
    elif action == "delete":
        cur.execute("DELETE FROM public.fz_codes WHERE code = %s", (code,))
    return n + (action != "none")


def _schema_change(rng: random.Random, cur: Any, added: list[str], step: int) -> int:
    """Now and then a column PostgreSQL fills for every existing row without moving the watermark (a
    DEFAULT or a GENERATED column), or a rename of one added before."""
    if rng.random() >= SCHEMA_CHANGE_PROBABILITY:
        return 0
    if added and rng.random() < 0.4:
        old = added.pop(rng.randrange(len(added)))
        added.append(f"r{step}_{old}")
        cur.execute(f"ALTER TABLE public.fz_orders RENAME COLUMN {old} TO {added[-1]}")
    elif rng.random() < 0.5:
        added.append(f"d{step}")
        cur.execute(f"ALTER TABLE public.fz_orders ADD COLUMN {added[-1]} int NOT NULL DEFAULT {step}")
    else:
        added.append(f"g{step}")
        cur.execute(
            f"ALTER TABLE public.fz_orders ADD COLUMN {added[-1]} float8 GENERATED ALWAYS AS (amount * {step}) STORED"
        )
    return 1


def test_randomized_cycles_with_crashes_end_with_the_target_equal_to_the_source(pg, harness, endpoints):
    rng = random.Random(SEED)
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.fz_orders (id int PRIMARY KEY, amount float8, updated_at timestamptz NOT NULL)")
    cur.execute("CREATE TABLE public.fz_codes (code int PRIMARY KEY, label text)")
    cur.execute("INSERT INTO public.fz_codes SELECT g, md5(g::text) FROM generate_series(1, 30) g")
    cur.execute("CREATE TABLE public.fz_events (id int PRIMARY KEY, v int, updated_at timestamptz(0) NOT NULL)")
    h = harness.add("public.fz_orders", ["id"], "updated_at").add("public.fz_codes", ["code"])
    h.add("public.fz_events", ["id"], "updated_at")
    toml = local_toml(h)
    next_id, changes, crashes, runs, open_txns, schema_changes = [0], 0, 0, 0, 0, 0
    added: list[str] = []
    for step in range(CYCLES):
        changes += _changes(rng, cur, next_id)
        schema_changes += _schema_change(rng, cur, added, step)
        slow = None
        if rng.random() < 0.2:  # a transaction that stays open across the cycle, stamped before it
            slow = psycopg2.connect(endpoints.pg_dsn)
            next_id[0] += 1
            slow.cursor().execute(
                "INSERT INTO public.fz_orders (id, amount, updated_at) VALUES (%s, -1, now())", (next_id[0],)
            )
            slow.cursor().execute(
                "INSERT INTO public.fz_events VALUES (%s, -1, now()) ON CONFLICT (id) DO UPDATE "
                "SET v = -1, updated_at = now()",
                (rng.randint(1, 40),),
            )
            open_txns += 1
        point = rng.choice(failpoints.POINTS) if rng.random() < CRASH_PROBABILITY else None
        code = cycle_in_child(toml, point)
        runs += 1
        if code == failpoints.EXIT_CODE:
            crashes += 1
            expire_leases(h)
            code = cycle_in_child(toml)
            runs += 1
        assert code == 0, f"cycle {runs} failed"
        if slow is not None:
            slow.commit()
            slow.close()
    assert cycle_in_child(toml) == 0  # the last changes and the last committed transaction
    verdict = compare(h)
    figures = {
        "seed": SEED,
        "cycles": CYCLES,
        "runs": runs + 1,
        "crashes": crashes,
        "source_changes": changes,
        "transactions_open_across_a_cycle": open_txns,
        "schema_changes": schema_changes,
        "rows_compared": verdict.rows_compared,
        "mismatches": verdict.mismatches,
        "duplicate_keys": verdict.duplicate_keys,
    }
    Path(".pytest-tmp").mkdir(exist_ok=True)
    Path(".pytest-tmp/fuzz.json").write_text(json.dumps(figures, indent=2))
    print(figures)
    assert verdict.details == [], verdict.details
    assert crashes > 0 and verdict.rows_compared > 0 and schema_changes > 0
