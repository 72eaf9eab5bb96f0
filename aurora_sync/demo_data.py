"""The demo's generated dataset: four tables that exercise the contract, and a round of changes.

- public.orders: incremental on a timestamptz; an enum, numerics, jsonb, an array, awkward text
- public.order_items: composite primary key; incremental on a timestamp; uuid, bytea, numeric(38,18)
- public.countries: full mode (no watermark); changes include a delete
- "Sales"."Customer Events": names that need quoting (mixed case, a space, a reserved word)

The generated rows are dated relative to now (one second apart, the newest a second before the load's
transaction started; `placed_on` within the last 300 days), so `status` shows a lag of minutes, not of
the months since a fixed date. Every other value depends only on the row number: the same `orders`
gives the same data but for its timestamps.
"""

from __future__ import annotations

from typing import Any

TABLES_TOML = """
[[tables]]
source = "public.orders"
primary_key = ["order_id"]
watermark_column = "updated_at"
mode = "incremental"

[[tables]]
source = "public.order_items"
primary_key = ["order_id", "line_no"]
watermark_column = "updated_at"

[[tables]]
source = "public.countries"
primary_key = ["code"]
mode = "full"

[[tables]]
source = '"Sales"."Customer Events"'
primary_key = ["Event Id"]
watermark_column = "Updated At"
"""

SCHEMA_SQL = """
DROP TABLE IF EXISTS public.orders, public.order_items, public.countries, "Sales"."Customer Events";
DROP TYPE IF EXISTS public.order_status;
CREATE TYPE public.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE public.orders (
    order_id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    status public.order_status NOT NULL,
    amount numeric(12,2) NOT NULL,
    discount numeric,
    note text,
    placed_on date NOT NULL,
    meta jsonb,
    tags text[],
    updated_at timestamptz NOT NULL
);
CREATE TABLE public.order_items (
    order_id bigint NOT NULL,
    line_no smallint NOT NULL,
    sku uuid NOT NULL,
    qty integer NOT NULL,
    unit_price numeric(38,18) NOT NULL,
    thumbnail bytea,
    updated_at timestamp NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE public.countries (
    code char(2) PRIMARY KEY,
    name varchar(64) NOT NULL,
    population bigint,
    gdp_usd double precision,
    is_member boolean
);
CREATE SCHEMA IF NOT EXISTS "Sales";
CREATE TABLE "Sales"."Customer Events" (
    "Event Id" bigint PRIMARY KEY,
    "select" text,
    "CamelCase" integer,
    payload json,
    "Updated At" timestamptz NOT NULL
);
"""

NOTES = ("plain", "", None, 'comma, "quote"', "line\nbreak", "back\\slash \\N", "emoji 😀", "tab\tend ")

POPULATE_SQL = """
INSERT INTO public.orders
SELECT g, 1 + g %% 997, (ARRAY['new','paid','shipped','cancelled'])[1 + g %% 4]::public.order_status,
       round((g %% 10000) * 1.37, 2), CASE WHEN g %% 5 = 0 THEN NULL ELSE 12345678901234567890.123456789 / g END,
       (%(notes)s::text[])[1 + g %% %(n_notes)s], CURRENT_DATE - g %% 300,
       jsonb_build_object('source', 'web', 'items', g %% 7, 'vip', g %% 11 = 0),
       CASE WHEN g %% 6 = 0 THEN ARRAY[]::text[] ELSE ARRAY['a', NULL, 'tag ' || g] END,
       date_trunc('second', now()) - (%(orders)s + 1 - g) * INTERVAL '1 second'
FROM generate_series(1, %(orders)s) AS g;

INSERT INTO public.order_items
SELECT o, l, md5(o::text || '-' || l::text)::uuid, 1 + (o + l) %% 9, ((o * 31 + l) %% 100000) / 7.0,
       CASE WHEN l = 1 THEN decode(md5(o::text), 'hex') END,
       date_trunc('second', localtimestamp) - (%(orders)s + 1 - o) * INTERVAL '1 second'
FROM generate_series(1, %(orders)s) AS o, generate_series(1, 1 + o %% 4) AS l;

INSERT INTO public.countries VALUES
  ('DE', 'Germany', 83200000, 4.08e12, true), ('FR', 'France', 68000000, 2.78e12, true),
  ('JP', 'Japan', 125000000, 4.23e12, false), ('BR', 'Brazil', 203000000, 1.92e12, NULL),
  ('NZ', 'New Zealand', 5100000, 0.25e12, false);

INSERT INTO "Sales"."Customer Events"
SELECT g, CASE WHEN g %% 3 = 0 THEN 'select * from "x"' ELSE 'view' END, g * 7,
       json_build_object('page', '/p/' || g, 'ms', g %% 1000),
       date_trunc('second', now()) - (%(events)s + 1 - g) * INTERVAL '1 second'
FROM generate_series(1, %(events)s) AS g;
"""

CHANGES_SQL = """
INSERT INTO public.orders
SELECT g, 42, 'new', 99.99, 0.5, 'added after the first sync', CURRENT_DATE, '{"source": "app"}', ARRAY['late'],
       clock_timestamp()
FROM generate_series(%(orders)s + 1, %(orders)s + %(new_orders)s) AS g;
UPDATE public.orders SET status = 'shipped', note = 'updated, "again"', updated_at = clock_timestamp()
WHERE order_id %% 40 = 0;

INSERT INTO public.order_items
SELECT o, 1, md5(o::text)::uuid, 1, 0.000000000000000001, NULL, localtimestamp
FROM generate_series(%(orders)s + 1, %(orders)s + %(new_orders)s) AS o;
UPDATE public.order_items SET qty = qty + 100, updated_at = localtimestamp WHERE order_id %% 50 = 0;

UPDATE public.countries SET population = population + 1 WHERE code IN ('DE', 'JP');
DELETE FROM public.countries WHERE code = 'NZ';
INSERT INTO public.countries VALUES ('CA', 'Canada', 40000000, 2.14e12, true);

INSERT INTO "Sales"."Customer Events"
SELECT g, 'insert', 1, '{"late": true}', clock_timestamp()
FROM generate_series(%(events)s + 1, %(events)s + %(new_events)s) AS g;
UPDATE "Sales"."Customer Events" SET "CamelCase" = -1, "Updated At" = clock_timestamp() WHERE "Event Id" %% 25 = 0;
"""


def sizes(orders: int) -> dict[str, Any]:
    return {
        "orders": orders,
        "events": max(orders // 4, 10),
        "new_orders": max(orders // 20, 5),
        "new_events": max(orders // 40, 5),
        "notes": list(NOTES),
        "n_notes": len(NOTES),
    }


def create_and_populate(conn: Any, orders: int) -> None:
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)
        cur.execute(POPULATE_SQL, sizes(orders))
    conn.commit()


def apply_changes(conn: Any, orders: int) -> None:
    with conn.cursor() as cur:
        cur.execute(CHANGES_SQL, sizes(orders))
    conn.commit()
