"""Issue 16's review of `transform` / `type_overrides` on the embedded stack: a transform of a table whose
target already exists is compiled against the target before the process's first load (sync.toml has no
session when read), and not again in the steady state; a non-transform failure of a transformed table is
reported as itself; an allow_lossy FLOAT override quarantines a number a FLOAT cannot hold exactly
(2^53 + 1); an override of a column added to a loaded table loads; a guard bypass is refused naming the key."""

from __future__ import annotations

from decimal import Decimal

import pytest
import snowflake.connector

from aurora_sync.config import ConfigError
from aurora_sync.cycle import run_cycle
from benchmarks.statements import counted_statements

pytestmark = pytest.mark.integration


def _failed(h, table: str) -> tuple[str, str]:
    rows = h.query(
        f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? AND STATUS <> 'LOADED' "
        "ORDER BY CREATED_AT DESC",
        table,
    )
    return rows[0][0], rows[0][1]


def _reconfigure(h, old: str, new: str) -> None:
    h.tables[0] = h.tables[0].replace(old, new) if old else h.tables[0] + new
    h._config = None


def test_a_transform_added_to_an_existing_target_is_compiled_against_it_once_per_process(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.tg_exist (id int PRIMARY KEY, email text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.tg_exist VALUES (1, 'A@B.C', now()), (2, 'D@E.F', now())")
    h = harness.add("public.tg_exist", ["id"], "updated_at")
    assert not h.cycle().failed
    target = '"ANALYTICS"."PUBLIC"."TG_EXIST"'
    watermark = h.watermark("tg_exist")

    # a typo, configured in sync.toml for a table whose target exists: the load fails closed naming the key
    _reconfigure(h, "", 'transform = { EMAIL = "LOWER(EMAIL_ADDRESS)" }\n')
    cur.execute("UPDATE public.tg_exist SET email = 'X@Y.Z', updated_at = clock_timestamp() WHERE id = 2")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED", t.load
    assert t.load["error"].startswith("transform.EMAIL: does not compile:"), t.load["error"]
    assert "EMAIL_ADDRESS" in t.load["error"] and "Nothing was merged" in t.load["error"]
    assert [tuple(r) for r in h.query(f'SELECT "ID", "EMAIL" FROM {target} ORDER BY 1')] == [(1, "A@B.C"), (2, "D@E.F")]
    assert h.watermark("tg_exist") == watermark
    assert _failed(h, "tg_exist")[0] == "FAILED"

    # fixed: compiled once (a zero-row SELECT … WHERE FALSE over the target), then the batch loads
    _reconfigure(h, "EMAIL_ADDRESS", "EMAIL")
    with counted_statements() as statements:
        report = run_cycle(h.snow, h.config, h.exporter)
    (t,) = report.tables
    assert t.load["status"] == "SUCCEEDED", t.load
    compiles = [s for s in statements if "COUNT((LOWER(EMAIL)))" in s and s.endswith("WHERE FALSE")]
    assert len(compiles) == 1 and "CAST(NULL AS" in compiles[0], statements
    assert [tuple(r) for r in h.query(f'SELECT "ID", "EMAIL" FROM {target} ORDER BY 1')] == [(1, "A@B.C"), (2, "x@y.z")]
    assert h.watermark("tg_exist") > watermark

    # the same transform in the same process: no compile statement in the next load
    cur.execute("UPDATE public.tg_exist SET email = 'Q@R.S', updated_at = clock_timestamp() WHERE id = 1")
    with counted_statements() as statements:
        report = run_cycle(h.snow, h.config, h.exporter)
    assert report.tables[0].load["status"] == "SUCCEEDED", report.tables[0].load
    assert not [s for s in statements if "COUNT((LOWER(EMAIL)))" in s], statements
    assert [tuple(r) for r in h.query(f'SELECT "ID", "EMAIL" FROM {target} ORDER BY 1')] == [(1, "q@r.s"), (2, "x@y.z")]


def test_a_failure_that_is_not_the_transform_is_reported_as_itself(pg, harness, monkeypatch):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.tg_warehouse (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.tg_warehouse VALUES (1, 'A', now())")
    h = harness.add("public.tg_warehouse", ["id"], "updated_at", transform='{ V = "LOWER(V)" }')
    assert not h.cycle().failed
    watermark = h.watermark("tg_warehouse")
    cur.execute("UPDATE public.tg_warehouse SET v = 'B', updated_at = clock_timestamp()")

    # the driver answers the MERGE with Snowflake's "no active warehouse" (000606, SQLSTATE 57P03)
    sql = h.snow.sql

    def suspended(text, *args, **kwargs):
        if text.startswith("MERGE INTO") and "TG_WAREHOUSE" in text:
            raise snowflake.connector.errors.ProgrammingError(
                msg="No active warehouse selected in the current session.", errno=606, sqlstate="57P03"
            )
        return sql(text, *args, **kwargs)

    monkeypatch.setattr(h.snow, "sql", suspended)
    (t,) = h.cycle().tables
    monkeypatch.undo()
    assert t.load["status"] == "FAILED", t.load
    assert "No active warehouse selected" in t.load["error"], t.load["error"]
    assert "transform." not in t.load["error"], t.load["error"]
    assert h.watermark("tg_warehouse") == watermark
    assert [tuple(r) for r in h.query('SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."TG_WAREHOUSE"')] == [(1, "a")]

    (t,) = h.cycle().tables  # the warehouse back: the batch loads, transformed
    assert t.load["status"] == "SUCCEEDED", t.load
    assert [tuple(r) for r in h.query('SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."TG_WAREHOUSE"')] == [(1, "b")]


def test_with_allow_lossy_a_bigint_a_float_cannot_hold_exactly_is_quarantined_never_rounded(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.tg_float (id int PRIMARY KEY, big bigint, amount numeric(38,10), "
        "updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.tg_float VALUES (1, 9007199254740993, 1.5, now()), (2, 9007199254740992, 0.25, now()), "
        "(3, 5, 1234567890123456789.0123456789, now()), (4, -17, NULL, now())"
    )
    h = harness.add(
        "public.tg_float",
        ["id"],
        "updated_at",
        type_overrides='{ big = "FLOAT", amount = "FLOAT" }',
        allow_lossy="true",
    )
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"], t.load["rows_quarantined"]) == ("SUCCEEDED", 2, 2), t.load
    rows = h.query('SELECT "ID", "BIG", "AMOUNT" FROM "ANALYTICS"."PUBLIC"."TG_FLOAT" ORDER BY 1')
    assert [tuple(r) for r in rows] == [(2, 9007199254740992.0, 0.25), (4, -17.0, None)]
    reasons = dict(
        h.query(
            f"SELECT PARSE_JSON(PRIMARY_KEY):ID::VARCHAR, REASON FROM {h.control('QUARANTINE')} "
            "WHERE SOURCE_TABLE = 'tg_float'"
        )
    )
    assert "BIG (bigint): does not fit FLOAT (its type_overrides entry) without rounding" in reasons["1"], reasons
    assert "AMOUNT (numeric(38,10)): does not fit FLOAT (its type_overrides entry)" in reasons["3"], reasons


def test_an_override_of_a_column_added_to_a_loaded_table_loads(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.tg_added (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.tg_added VALUES (1, 'a', now())")
    h = harness.add("public.tg_added", ["id"], "updated_at")
    assert not h.cycle().failed

    cur.execute("ALTER TABLE public.tg_added ADD COLUMN price numeric(10,2)")
    cur.execute("UPDATE public.tg_added SET price = 12.5, updated_at = clock_timestamp()")
    cur.execute("INSERT INTO public.tg_added VALUES (2, 'b', now(), 99999999.99)")
    _reconfigure(h, "", 'type_overrides = { price = "NUMBER(20,4)" }\n')
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    rows = h.query('SELECT "ID", "V", "PRICE" FROM "ANALYTICS"."PUBLIC"."TG_ADDED" ORDER BY 1')
    assert [tuple(r) for r in rows] == [(1, "a", Decimal("12.5")), (2, "b", Decimal("99999999.99"))]
    types = h.query(
        'SELECT NUMERIC_PRECISION, NUMERIC_SCALE FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS '
        "WHERE TABLE_SCHEMA = 'PUBLIC' AND TABLE_NAME = 'TG_ADDED' AND COLUMN_NAME = 'PRICE'"
    )
    assert tuple(types[0]) == (20, 4)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        (r"'a\\' ' || (SELECT MAX(VALUE) FROM STATE.SETTINGS) || '\\' '", "holds a subquery"),
        (r"'x\\' ' || RANDOM() || '\\' '", "calls RANDOM"),
        ("LAG(V) OVER (ORDER BY ID)", "a window (OVER)"),
        ("V) AS X, (V", "without its opening one"),
    ],
)
def test_a_guard_bypass_is_refused_naming_the_key_and_nothing_is_loaded(pg, harness, expression, says):
    cur = pg.cursor()
    table = f"tg_bypass_{abs(hash(expression)) % 100000}"
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    h = harness.add(f"public.{table}", ["id"], "updated_at", transform=f'{{ V = "{expression}" }}')
    with pytest.raises(ConfigError) as err:
        h.config  # noqa: B018 (sync.toml is read, and refused, before any cycle)
    assert err.value.key == "tables[0].transform.V" and says in str(err.value), str(err.value)


def test_a_transform_of_a_column_added_in_the_same_batch_compiles_over_the_batch_row(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.tg_newcol (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.tg_newcol VALUES (1, 'a', now())")
    h = harness.add("public.tg_newcol", ["id"], "updated_at")
    assert not h.cycle().failed

    # the target has no NICK yet: the check compiles over the batch's typed row, which has it
    cur.execute("ALTER TABLE public.tg_newcol ADD COLUMN nick text")
    cur.execute("UPDATE public.tg_newcol SET nick = 'ann', updated_at = clock_timestamp()")
    _reconfigure(h, "", 'transform = { NICK = "UPPER(NICK)" }\n')
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    rows = h.query('SELECT "ID", "V", "NICK" FROM "ANALYTICS"."PUBLIC"."TG_NEWCOL"')
    assert [tuple(r) for r in rows] == [(1, "a", "ANN")]
