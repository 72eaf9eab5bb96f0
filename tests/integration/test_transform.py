"""`transform` and `type_overrides` (docs/CUSTOMIZATION.md) through the whole load path on the embedded
stack (issue 16's first acceptance test): a renamed, transformed, type-overridden table in a
schema-mapped target through the initial load, updates, deletes by key sets, a crash between the merge
and the ledger, a resync (the swap) and both reconciliations; a failing expression fails its batch
closed naming the column; lossy overrides with allow_lossy quarantine what does not fit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.table_config import resync_table
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from stored_procs.statement import Stmt, run
from sync_contract import failpoints
from tests.integration.crashes import cycle_in_child, expire_leases, local_toml
from tests.integration.test_app_procedures import app, call, configure  # noqa: F401 (the app fixture)

pytestmark = pytest.mark.integration

TARGET = '"ANALYTICS"."SHOP_RAW"."CLIENTS"'


def _clients(pg, schema: str, rows: int = 6) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    cur.execute(
        f"CREATE TABLE {schema}.clients (client_id int PRIMARY KEY, email_address text, first_name varchar(20), "
        "amount numeric(12,2), changed_at timestamptz NOT NULL)"
    )
    cur.execute(
        f"INSERT INTO {schema}.clients SELECT g, '  Client' || g || '@Example.COM ', 'name' || g, g * 1.25, "
        f"clock_timestamp() FROM generate_series(1, {rows}) g"
    )


def _rows(h, target: str = TARGET) -> dict[int, tuple]:
    rows = h.query(f'SELECT "CLIENT_ID", "EMAIL", "FIRST_NAME", "AMOUNT" FROM {target} ORDER BY 1')
    return {r[0]: tuple(r[1:]) for r in rows}


def _expected(ids, **changed) -> dict[int, tuple]:
    out = {i: (f"client{i}@example.com", f"NAME{i}", Decimal(i) * Decimal("1.25")) for i in ids}
    return out | changed


def _harness(harness, schema: str, **extra: str):
    h = harness.add(
        f"{schema}.clients",
        ["client_id"],
        "changed_at",
        rename='{ email_address = "EMAIL" }',
        transform='{ EMAIL = "LOWER(TRIM(EMAIL))", FIRST_NAME = "UPPER(FIRST_NAME)" }',
        type_overrides='{ amount = "NUMBER(20,4)" }',
        **extra,
    )
    h.tables.append(f'[target]\nschema_map = {{ {schema} = "SHOP_RAW" }}\n')
    return h


def _columns(h, schema: str, table: str) -> dict[str, str]:
    rows = h.query(
        'SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS '
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        schema,
        table,
    )
    return {r[0]: (f"NUMBER({r[2]},{r[3]})" if r[1] in ("NUMBER", "DECIMAL") else r[1]) for r in rows}


def _bucket_report(h, source: str) -> dict:
    config = h.config
    (spec,) = [s for s in config.tables if s.source == source]
    exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    return reconcile_table(h.snow, config.place, config.database, spec, exporter.reconcile, new_run_id())


def test_a_renamed_transformed_overridden_table_loads_updates_deletes_survives_a_crash_resyncs_and_reconciles(
    pg, harness
):
    _clients(pg, "shop_t1")
    h = _harness(harness, "shop_t1", delete_detection="'delete'", keys_interval_hours="0")
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    assert _rows(h) == _expected(range(1, 7))
    assert _columns(h, "SHOP_RAW", "CLIENTS") == {
        "CLIENT_ID": "NUMBER(38,0)",
        "EMAIL": "TEXT",
        "FIRST_NAME": "TEXT",
        "AMOUNT": "NUMBER(20,4)",  # the override, not numeric(12,2)'s NUMBER(12,2)
        "CHANGED_AT": "TIMESTAMP_TZ",
    }
    first = h.watermark("clients")

    # updates (one transformed column, one overridden), an insert and a delete (by key set)
    cur = pg.cursor()
    cur.execute(
        "UPDATE shop_t1.clients SET email_address = ' NEW@Example.com', changed_at = clock_timestamp() "
        "WHERE client_id = 2"
    )
    cur.execute("UPDATE shop_t1.clients SET amount = 99999.99, changed_at = clock_timestamp() WHERE client_id = 3")
    cur.execute("INSERT INTO shop_t1.clients VALUES (7, 'Seven@X.org', NULL, NULL, clock_timestamp())")
    cur.execute("DELETE FROM shop_t1.clients WHERE client_id = 4")
    assert cycle_in_child(toml) == 0
    expected = _expected([1, 2, 3, 5, 6]) | {
        2: ("new@example.com", "NAME2", Decimal("2.50")),
        3: ("client3@example.com", "NAME3", Decimal("99999.99")),
        7: ("seven@x.org", None, None),
    }
    assert _rows(h) == expected
    assert h.watermark("clients") > first

    # a crash after the MERGE, before the ledger: the next run applies the batch again, same values
    cur.execute(
        "UPDATE shop_t1.clients SET first_name = 'renée', email_address = 'R@E.FR ', changed_at = clock_timestamp() "
        "WHERE client_id = 5"
    )
    before = h.watermark("clients")
    assert cycle_in_child(toml, "load:after_merge") == failpoints.EXIT_CODE
    assert h.watermark("clients") == before
    expire_leases(h)
    assert cycle_in_child(toml) == 0
    expected[5] = ("r@e.fr", "RENÉE", Decimal("6.25"))
    assert _rows(h) == expected
    cur.execute("SELECT max(changed_at)::text FROM shop_t1.clients")
    assert h.watermark("clients") == cur.fetchone()[0]
    statuses = h.query(
        f"SELECT DISTINCT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'clients' AND MODE <> 'keys'"
    )
    assert {r[0] for r in statuses} <= {"LOADED", "SUPERSEDED"}

    # a resync replaces the target in one swap: the same transformed values
    resync_table(h.snow, h.config.place, "shop_t1.clients", "test-resync")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    assert _rows(h) == expected
    assert _columns(h, "SHOP_RAW", "CLIENTS")["AMOUNT"] == "NUMBER(20,4)"

    # reconciliation: transformed columns by presence, the others by value; both CLEAN
    (result,) = reconcile(h.snow, h.config.source_dsn, h.config.database, h.config.tables)
    assert result.clean, (result.missing, result.extra, result.different, result.error)
    assert result.compared_by_presence == ["email_address", "first_name"]
    report = _bucket_report(h, "shop_t1.clients")
    assert (report["status"], report["source_rows"], report["target_rows"]) == ("CLEAN", 6, 6), report
    assert report["details"]["columns_transformed"] == ["email_address", "first_name"]
    assert {"email_address", "first_name"} <= set(report["details"]["columns_compared_by_presence"])
    assert "amount" in report["details"]["columns_hashed"]

    # a value the transform changes to NULL where the source has one is a difference (presence)
    h.query(f'UPDATE {TARGET} SET "FIRST_NAME" = NULL WHERE "CLIENT_ID" = 1')
    (result,) = reconcile(h.snow, h.config.source_dsn, h.config.database, h.config.tables)
    assert result.different == [((1,), ["first_name"])]
    assert _bucket_report(h, "shop_t1.clients")["different"] == 1


def test_a_full_table_applies_transforms_in_the_swap_and_in_the_small_change_merge(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.codes_t (code int PRIMARY KEY, label text)")
    cur.execute("INSERT INTO public.codes_t SELECT g, ' Label ' || g FROM generate_series(1, 20) g")
    h = harness.add("public.codes_t", ["code"], transform='{ LABEL = "UPPER(TRIM(LABEL))" }')
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    target = '"ANALYTICS"."PUBLIC"."CODES_T"'
    labels = {r[0]: r[1] for r in h.query(f'SELECT "CODE", "LABEL" FROM {target}')}
    assert labels == {i: f"LABEL {i}" for i in range(1, 21)}
    cur.execute("UPDATE public.codes_t SET label = 'changed ' WHERE code = 3")
    cur.execute("DELETE FROM public.codes_t WHERE code = 4")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_updated"], t.load["rows_deleted"]) == ("SUCCEEDED", 1, 1), t.load
    labels = {r[0]: r[1] for r in h.query(f'SELECT "CODE", "LABEL" FROM {target}')}
    assert labels == {i: f"LABEL {i}" for i in range(1, 21) if i != 4} | {3: "CHANGED"}
    assert "merged in place" in " ".join(str(t.load["notes"])) or t.load["rows_inserted"] == 0


def _failed_batch(h, table: str) -> tuple[str, str]:
    rows = h.query(
        f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? AND STATUS <> 'LOADED' "
        "ORDER BY CREATED_AT DESC",
        table,
    )
    return rows[0][0], rows[0][1]


def test_an_expression_failing_on_one_row_fails_the_batch_closed_naming_the_column(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.scores_t (id int PRIMARY KEY, score text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.scores_t SELECT g, (g * 10)::text, clock_timestamp() FROM generate_series(1, 5) g")
    h = harness.add(
        "public.scores_t", ["id"], "updated_at", transform='{ SCORE = "TO_VARCHAR(CAST(SCORE AS NUMBER(10,0)) + 1)" }'
    )
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    target = '"ANALYTICS"."PUBLIC"."SCORES_T"'
    loaded = {r[0]: r[1] for r in h.query(f'SELECT "ID", "SCORE" FROM {target}')}
    assert loaded == {i: str(i * 10 + 1) for i in range(1, 6)}
    watermark = h.watermark("scores_t")

    cur.execute("UPDATE scores_t SET score = 'n/a', updated_at = clock_timestamp() WHERE id = 2")
    cur.execute("UPDATE scores_t SET score = '7', updated_at = clock_timestamp() WHERE id = 3")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "transform.SCORE: fails on a row of" in t.load["error"], t.load["error"]
    assert "Nothing was merged and the watermark did not move" in t.load["error"]
    assert {r[0]: r[1] for r in h.query(f'SELECT "ID", "SCORE" FROM {target}')} == loaded  # row 3 not merged either
    assert h.watermark("scores_t") == watermark
    status, error = _failed_batch(h, "scores_t")
    assert status == "FAILED" and "transform.SCORE" in error

    # the expression fixed (TRY_CAST: NULL where the text is no number): the failed batch loads
    h.tables[0] = h.tables[0].replace("CAST(SCORE", "TRY_CAST(SCORE")
    h._config = None
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    assert {r[0]: r[1] for r in h.query(f'SELECT "ID", "SCORE" FROM {target}')} == loaded | {2: None, 3: "8"}
    assert h.watermark("scores_t") > watermark


def test_an_expression_that_does_not_compile_fails_the_first_load_naming_the_column(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.typo_t (id int PRIMARY KEY, email text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.typo_t VALUES (1, 'a@b.c', now())")
    h = harness.add("public.typo_t", ["id"], "updated_at", transform='{ EMAIL = "LOWER(EMAIL_ADDRESS)" }')
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "transform.EMAIL: does not compile:" in t.load["error"], t.load["error"]
    assert "Nothing was created or merged" in t.load["error"]
    assert not h.query("SELECT 1 FROM \"ANALYTICS\".INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'TYPO_T'")
    assert h.watermark("typo_t") is None

    # fixed: the batch loads
    h.tables[0] = h.tables[0].replace("EMAIL_ADDRESS", "EMAIL")
    h._config = None
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    assert [tuple(r) for r in h.query('SELECT "ID", "EMAIL" FROM "ANALYTICS"."PUBLIC"."TYPO_T"')] == [(1, "a@b.c")]


def _prices(pg, table: str) -> None:
    cur = pg.cursor()
    cur.execute(
        f"CREATE TABLE public.{table} (id int PRIMARY KEY, price numeric(12,2), code varchar(12), "
        "seen timestamp(6), updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        f"INSERT INTO public.{table} VALUES (1, 1.20, 'abc', '2026-03-01 10:00:00.5', now()), "
        "(2, 1.25, 'abc', '2026-03-01 10:00:00', now()), (3, 12345.00, 'abc', NULL, now()), "
        "(4, 7.00, 'abcdefghij', '2026-03-01 10:00:00', now()), (5, NULL, NULL, '2026-03-01 10:00:00.123', now())"
    )


OVERRIDES = '{ price = "NUMBER(6,1)", code = "VARCHAR(5)", seen = "TIMESTAMP_NTZ(1)" }'


def test_a_lossy_override_without_allow_lossy_fails_the_batch_naming_the_entry(pg, harness):
    _prices(pg, "prices_l1")
    h = harness.add("public.prices_l1", ["id"], "updated_at", type_overrides='{ price = "NUMBER(6,1)" }')
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert t.load["error"].startswith("type_overrides.price: NUMBER(6,1) cannot hold every numeric(12,2) value"), t.load
    assert "set allow_lossy = true" in t.load["error"]
    assert h.watermark("prices_l1") is None
    assert not h.query("SELECT 1 FROM \"ANALYTICS\".INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'PRICES_L1'")


def test_with_allow_lossy_values_that_do_not_fit_the_override_are_quarantined_never_rounded(pg, harness):
    _prices(pg, "prices_l2")
    h = harness.add("public.prices_l2", ["id"], "updated_at", type_overrides=OVERRIDES, allow_lossy="true")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"], t.load["rows_quarantined"]) == ("SUCCEEDED", 2, 3), t.load
    rows = h.query(
        'SELECT "ID", "PRICE", "CODE", "SEEN", "SEEN" IS NULL FROM "ANALYTICS"."PUBLIC"."PRICES_L2" ORDER BY 1'
    )
    assert [(r[0], r[1], r[2], None if r[4] else str(r[3])) for r in rows] == [
        (1, Decimal("1.2"), "abc", "2026-03-01 10:00:00.500000"),
        (3, Decimal("12345.0"), "abc", None),
    ]
    reasons = dict(
        h.query(
            f"SELECT PARSE_JSON(PRIMARY_KEY):ID::VARCHAR, REASON FROM {h.control('QUARANTINE')} "
            "WHERE SOURCE_TABLE = 'prices_l2'"
        )
    )
    assert "PRICE (numeric(12,2)): does not fit NUMBER(6,1) (its type_overrides entry)" in reasons["2"]
    assert "CODE (character varying(12)): does not fit VARCHAR(5)" in reasons["4"]
    assert "SEEN (timestamp(6) without time zone): does not fit TIMESTAMP_NTZ(1)" in reasons["5"]


def test_with_bad_values_fail_a_value_that_does_not_fit_the_override_fails_the_batch(pg, harness):
    _prices(pg, "prices_l3")
    h = harness.add(
        "public.prices_l3",
        ["id"],
        "updated_at",
        type_overrides='{ price = "NUMBER(6,1)" }',
        allow_lossy="true",
        bad_values="'fail'",
    )
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "PRICE (numeric(12,2)): does not fit NUMBER(6,1) (its type_overrides entry)" in t.load["error"], t.load
    assert "without rounding or cutting (1 rows)" in t.load["error"]
    assert h.watermark("prices_l3") is None


def test_the_app_checks_a_transform_against_the_target_when_configured_naming_the_key(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_tr (id int PRIMARY KEY, email text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_tr VALUES (1, 'A@B.C', now()), (2, 'D@E.F', now())")
    configure(app, stack, "public.app_tr", "APP_TR.APP_TR")
    with pytest.raises(InvalidSetting, match=r"^table\.transform\.ID: ID is the primary key column 'id'"):
        call(app, "CONFIGURE_TABLE", "public.app_tr", {"transform": {"ID": "ID + 1"}})
    with pytest.raises(InvalidSetting, match=r"^table\.transform\.EMAIL: .*calls RANDOM"):
        call(app, "CONFIGURE_TABLE", "public.app_tr", {"transform": {"EMAIL": "TO_VARCHAR(RANDOM())"}})
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"

    # the target exists: the expression must compile over its columns
    with pytest.raises(InvalidSetting, match=r"^transform\.EMAIL: does not compile: .*EMAIL_ADDRESS"):
        call(app, "CONFIGURE_TABLE", "public.app_tr", {"transform": {"EMAIL": "LOWER(EMAIL_ADDRESS)"}})
    with pytest.raises(InvalidSetting, match=r"^transform\.NOTE: the row has no column 'NOTE'"):
        call(app, "CONFIGURE_TABLE", "public.app_tr", {"transform": {"NOTE": "'x'"}})
    assert call(app, "SHOW_CONFIG")["tables"][0].get("transform") in (None, {})  # nothing saved
    configured = call(app, "CONFIGURE_TABLE", "public.app_tr", {"transform": {"email": "LOWER(EMAIL)"}})
    assert configured["transform"] == {"email": "LOWER(EMAIL)"}
    cur.execute("UPDATE public.app_tr SET email = 'X@Y.Z', updated_at = clock_timestamp() WHERE id = 2")
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    rows = run(app, Stmt('SELECT "ID", "EMAIL" FROM "ANALYTICS"."APP_TR"."APP_TR" ORDER BY 1'))
    assert [tuple(r) for r in rows] == [(1, "A@B.C"), (2, "x@y.z")]


def test_an_override_added_to_a_loaded_table_widens_its_column_or_fails_naming_the_entry(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.grow_t (id int PRIMARY KEY, code varchar(8), price numeric(10,2), t timestamptz)")
    cur.execute("ALTER TABLE public.grow_t ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()")
    cur.execute("INSERT INTO public.grow_t (id, code, price) VALUES (1, 'abc', 1.50)")
    h = harness.add("public.grow_t", ["id"], "updated_at")
    assert not h.cycle().failed
    target = '"ANALYTICS"."PUBLIC"."GROW_T"'

    # more precision at the same scale: the column is widened in place, and the new values load
    h.tables[0] += 'type_overrides = { price = "NUMBER(20,2)" }\n'
    h._config = None
    cur.execute("UPDATE public.grow_t SET price = 12345678.25, updated_at = clock_timestamp() WHERE id = 1")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    assert _columns(h, "PUBLIC", "GROW_T")["PRICE"] == "NUMBER(20,2)"
    assert h.query(f'SELECT "PRICE" FROM {target}')[0][0] == Decimal("12345678.25")

    # another scale: the existing column (NUMBER(20,2)) would round it: the batch fails, nothing merged
    h.tables[0] = h.tables[0].replace("NUMBER(20,2)", "NUMBER(20,4)")
    h._config = None
    cur.execute("UPDATE public.grow_t SET price = 2.5, updated_at = clock_timestamp() WHERE id = 1")
    watermark = h.watermark("grow_t")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert (
        "type_overrides.price: the target column PRICE is NUMBER(20,2), which cannot hold every NUMBER(20,4)"
        in (t.load["error"])
    ), t.load
    assert h.watermark("grow_t") == watermark
    assert h.query(f'SELECT "PRICE" FROM {target}')[0][0] == Decimal("12345678.25")


def test_lossless_overrides_keep_every_value_and_reconcile_clean(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.wide_t (id int PRIMARY KEY, qty integer, big bigint, price numeric(12,2), "
        "name varchar(20), t timestamptz, updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.wide_t VALUES (1, 2147483647, 9223372036854775807, 9999999999.99, 'twenty characters!!!', "
        "'2026-03-01 10:00:00.123456+02', now()), (2, -5, 0, 0.01, '', '1999-12-31 23:59:59+00', now()), "
        "(3, NULL, NULL, NULL, NULL, NULL, now())"
    )
    overrides = (
        '{ qty = "FLOAT", big = "NUMBER(19,0)", price = "NUMBER(38,6)", name = "VARCHAR(20)", t = "TIMESTAMP_LTZ(6)" }'
    )
    h = harness.add("public.wide_t", ["id"], "updated_at", type_overrides=overrides)
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"]) == ("SUCCEEDED", 3), t.load["error"]
    types = _columns(h, "PUBLIC", "WIDE_T")
    assert (types["QTY"], types["BIG"], types["PRICE"]) == ("FLOAT", "NUMBER(19,0)", "NUMBER(38,6)"), types
    row = h.query('SELECT "QTY", "BIG", "PRICE", "NAME" FROM "ANALYTICS"."PUBLIC"."WIDE_T" WHERE "ID" = 1')[0]
    assert tuple(row) == (2147483647.0, 9223372036854775807, Decimal("9999999999.99"), "twenty characters!!!")
    (result,) = reconcile(h.snow, h.config.source_dsn, h.config.database, h.config.tables)
    assert result.clean, (result.missing, result.extra, result.different, result.error)
    report = _bucket_report(h, "public.wide_t")
    assert (report["status"], report["different"]) == ("CLEAN", 0), report


@pytest.mark.parametrize("point", ["load:after_copy", "load:after_shadow", "load:after_merge", "load:after_ledger"])
def test_a_crash_while_loading_transformed_tables_is_repaired_with_the_same_values(pg, harness, point):
    table = "tcrash_" + point.split(":")[1]
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"CREATE TABLE public.{table}_full (code int PRIMARY KEY, name text)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'V' || g, now() FROM generate_series(1, 30) g")
    cur.execute(f"INSERT INTO public.{table}_full SELECT g, ' n' || g FROM generate_series(1, 20) g")
    h = harness.add(f"public.{table}", ["id"], "updated_at", transform="{ V = \"LOWER(V) || '!'\" }")
    h.add(f"public.{table}_full", ["code"], transform='{ NAME = "UPPER(TRIM(NAME))" }')
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    cur.execute(f"UPDATE public.{table} SET v = 'Changed', updated_at = clock_timestamp() WHERE id % 7 = 0")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'W' || g, clock_timestamp() FROM generate_series(31, 40) g")
    cur.execute(f"DELETE FROM public.{table}_full WHERE code % 5 = 0")
    cur.execute(f"UPDATE public.{table}_full SET name = 'renamed ' WHERE code % 3 = 0")
    assert cycle_in_child(toml, point) == failpoints.EXIT_CODE, f"{point} was not reached"
    expire_leases(h)
    assert cycle_in_child(toml) == 0

    rows = {r[0]: r[1] for r in h.query(f'SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."{table.upper()}"')}
    expected = {i: ("changed!" if i % 7 == 0 else f"v{i}!") for i in range(1, 31)}
    assert rows == expected | {i: f"w{i}!" for i in range(31, 41)}
    full = {r[0]: r[1] for r in h.query(f'SELECT "CODE", "NAME" FROM "ANALYTICS"."PUBLIC"."{table.upper()}_FULL"')}
    assert full == {i: ("RENAMED" if i % 3 == 0 else f"N{i}") for i in range(1, 21) if i % 5}
    cur.execute(f"SELECT max(updated_at)::text FROM public.{table}")
    assert h.watermark(table) == cur.fetchone()[0]
    (a, b) = reconcile(h.snow, h.config.source_dsn, h.config.database, h.config.tables)
    assert a.clean and b.clean, (a.different, b.different, a.missing, b.missing, a.extra, b.extra)


def test_a_history_table_keeps_each_version_transformed(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.hist_tr (id int PRIMARY KEY, email text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.hist_tr VALUES (1, ' A@B.C ', now()), (2, 'X@Y.Z', now())")
    h = harness.add(
        "public.hist_tr", ["id"], "updated_at", history="true", transform='{ EMAIL = "LOWER(TRIM(EMAIL))" }'
    )
    assert not h.cycle().failed
    cur.execute("UPDATE public.hist_tr SET email = 'NEW@B.C', updated_at = clock_timestamp() WHERE id = 1")
    cur.execute("UPDATE public.hist_tr SET email = ' x@y.z', updated_at = clock_timestamp() WHERE id = 2")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    versions = h.query(
        'SELECT "ID", "EMAIL", "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."HIST_TR" ORDER BY "ID", "_VALID_FROM"'
    )
    # every version holds the transformed value (id 2's new version differs by its UPDATED_AT only)
    assert [tuple(r) for r in versions] == [
        (1, "a@b.c", False),
        (1, "new@b.c", True),
        (2, "x@y.z", False),
        (2, "x@y.z", True),
    ]
