"""Adversarial cases of issue 16's customization (rename, schema_map, transform, type_overrides / allow_lossy,
history), adopted from the review's attack file: each asserts what the target holds, or that the input is
refused naming it before anything is created or merged. Names (the reserved prefix, blank names, schema
map targets): test_customization_names.py."""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from typing import Any

import pytest

from aurora_sync.config import ConfigError, parse_config
from benchmarks.full_mode import flush_counts
from stored_procs.configuration.table_config import resync_table
from stored_procs.loading.transforms import problem
from tests.integration.test_app_procedures import app  # noqa: F401 (the app fixture)
from tests.integration.test_history import _ok, _reconciled, at, versions

pytestmark = pytest.mark.integration

_BASE = """
[source]
dsn = "postgresql://u@h/d"
[s3]
bucket = "b"
prefix = "p/"
region = "us-east-1"
[snowflake]
account = "a"
user = "u"
password = "p"
database = "ANALYTICS"
control_schema = "AURORA_SYNC"
[[tables]]
source = "public.t"
primary_key = ["id"]
watermark_column = "updated_at"
"""


def _parse(extra: str):
    return parse_config(tomllib.loads(_BASE + extra))


def _tbl(h, target: str, cols: str, order: str = '"ID"') -> list[tuple]:
    return [tuple(r) for r in h.query(f"SELECT {cols} FROM {target} ORDER BY {order}")]


# --- transform: validation bypasses -------------------------------------------------------------------

# Snowflake string literals take backslash escapes ('\'' is one quote: "String & binary constants",
# https://docs.snowflake.com/en/sql-reference/data-types-text#escape-sequences-in-single-quoted-string-constants);
# the validator's tokenizer only knows '' doubling, so everything between '\'' and '\'' is "inside a string"
# for the checks but code for Snowflake (and for the emulator, whose parser is sqlglot's Snowflake dialect).
BACKSLASH_BYPASSES = [
    "'\\'' || (SELECT 1) || '\\''",  # a subquery
    "'\\'' || RANDOM() || '\\''",  # a non-deterministic function
    "'\\'' ; DROP TABLE X ; '\\''",  # a second statement
    "'\\'' || V -- '",  # a comment hiding the rest
]


@pytest.mark.parametrize("expression", BACKSLASH_BYPASSES)
def test_backslash_escaped_quote_does_not_hide_code_from_the_transform_checks(expression):
    assert problem(expression) is not None, f"accepted: {expression}"


def test_a_backslash_escaped_transform_reads_another_table_into_the_target(pg, harness):
    # the subquery smuggled past the checks (a backslash-escaped quote) is refused when configured
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_bs (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    expr = '\'\\\'\' || (SELECT MAX("S") FROM "ANALYTICS"."ATK_SECRETS"."KEYS") || \'\\\'\''
    h = harness.add("public.atk_bs", ["id"], "updated_at", transform=f"{{ V = {json.dumps(expr)} }}")
    with pytest.raises(ConfigError, match=r"transform\.V.*subquery"):
        _ = h.config


# --- transform: batch-dependent values ---------------------------------------------------------------


def test_a_window_function_transform_gives_a_row_a_value_that_depends_on_its_batch(pg, harness):
    # a window function's value depends on which other rows share the batch: refused when configured,
    # also for a table already loaded
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_win (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.atk_win SELECT g, 'x', clock_timestamp() FROM generate_series(1, 3) g")
    h = harness.add("public.atk_win", ["id"], "updated_at")
    flush_counts(cur)
    _ok(h.cycle())
    h.tables[-1] += 'transform = { V = "TO_VARCHAR(COUNT(*) OVER ())" }\n'
    h._config = None
    with pytest.raises(ConfigError, match=r"transform\.V.*OVER"):
        _ = h.config
    assert _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_WIN"', '"ID", "V"') == [(1, "x"), (2, "x"), (3, "x")]


# --- type overrides: allow_lossy must never round silently -------------------------------------------


def test_allow_lossy_float_override_of_a_bigint_and_a_numeric_rounds_nothing_silently(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.atk_flt (id int PRIMARY KEY, n bigint, d numeric(38,10), updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.atk_flt VALUES (1, 9007199254740993, 1, now()), "
        "(2, 5, 12345678901234567.8901234567, now()), (3, 7, 2.5, now())"
    )
    h = harness.add(
        "public.atk_flt",
        ["id"],
        "updated_at",
        type_overrides='{ n = "FLOAT", d = "FLOAT" }',
        allow_lossy="true",
    )
    flush_counts(cur)
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    rows = {r[0]: (r[1], r[2]) for r in _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_FLT"', '"ID", "N", "D"')}
    assert rows[3] == (7, 2.5)
    # docs: "With allow_lossy = true, no value is rounded or cut silently: a value the override cannot hold
    # as it is follows bad_values" -> rows 1 and 2 quarantined, or loaded exactly
    if 1 in rows:
        assert Decimal(rows[1][0]) == Decimal(9007199254740993), rows[1]
    if 2 in rows:
        assert Decimal(rows[2][1]) == Decimal("12345678901234567.8901234567"), rows[2]


def test_allow_lossy_number_override_quarantines_only_what_does_not_fit(pg, harness):
    # held-check: negative at max precision, trailing zeros, exactly the limit
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_num (id int PRIMARY KEY, a numeric(8,3), updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.atk_num VALUES (1, -999.990, now()), (2, 1.230, now()), (3, 1.235, now()), "
        "(4, 1000.00, now()), (5, -0.001, now()), (6, 0, now())"
    )
    h = harness.add("public.atk_num", ["id"], "updated_at", type_overrides='{ a = "NUMBER(5,2)" }', allow_lossy="true")
    flush_counts(cur)
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    rows = dict(_tbl(h, '"ANALYTICS"."PUBLIC"."ATK_NUM"', '"ID", "A"'))
    assert rows == {1: Decimal("-999.99"), 2: Decimal("1.23"), 6: Decimal("0")}, rows


# --- rename: swap ------------------------------------------------------------------------------------


def test_two_columns_renamed_onto_each_others_names_swap_values(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_rswap (id int PRIMARY KEY, a text, b text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.atk_rswap VALUES (1, 'from-a', 'from-b', now())")
    h = harness.add(
        "public.atk_rswap", ["id"], "updated_at", rename='{ a = "B", b = "A" }', transform='{ A = "UPPER(A)" }'
    )
    flush_counts(cur)
    _ok(h.cycle())
    target = '"ANALYTICS"."PUBLIC"."ATK_RSWAP"'
    assert _tbl(h, target, '"ID", "A", "B"') == [(1, "FROM-B", "from-a")]
    cur.execute("UPDATE public.atk_rswap SET a = 'a2', updated_at = clock_timestamp()")
    flush_counts(cur)
    _ok(h.cycle())
    assert _tbl(h, target, '"ID", "A", "B"') == [(1, "FROM-B", "a2")]


# --- history -----------------------------------------------------------------------------------------


def test_history_full_mode_sees_a_value_becoming_null_and_back(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_hnull (id int PRIMARY KEY, v text)")
    cur.execute("INSERT INTO public.atk_hnull VALUES (1, 'a'), (2, NULL)")
    h = harness.add("public.atk_hnull", ["id"], history="true")
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute("UPDATE public.atk_hnull SET v = CASE id WHEN 1 THEN NULL ELSE 'b' END")
    flush_counts(cur)
    _ok(h.cycle())
    rows = [(r[0], r[1], r[4]) for r in versions(h, "ATK_HNULL")]
    assert rows == [(1, "a", False), (1, None, True), (2, None, False), (2, "b", True)], rows
    view = _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_HNULL_CURRENT"', '"ID", "V"')
    assert view == [(1, None), (2, "b")]


def test_history_with_renamed_key_and_watermark_and_transform_through_delete_and_return(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_hren (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.executemany("INSERT INTO public.atk_hren VALUES (%s, %s, %s)", [(1, "a", at(1)), (2, "b", at(1))])
    h = harness.add(
        "public.atk_hren",
        ["id"],
        "updated_at",
        history="true",
        rename='{ id = "KEY", updated_at = "MODIFIED", v = "VAL" }',
        transform='{ VAL = "UPPER(VAL)" }',
        delete_detection="'delete'",
        keys_interval_hours="0",
        max_delete_fraction="1.0",
    )
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute("UPDATE public.atk_hren SET v = 'A', updated_at = %s WHERE id = 1", (at(2),))  # same once upper-cased
    cur.execute("UPDATE public.atk_hren SET v = 'c', updated_at = %s WHERE id = 2", (at(3),))
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute("DELETE FROM public.atk_hren WHERE id = 2")
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute("INSERT INTO public.atk_hren VALUES (2, 'd', %s)", (at(20),))
    flush_counts(cur)
    _ok(h.cycle())
    target = '"ANALYTICS"."PUBLIC"."ATK_HREN"'
    rows = _tbl(h, target, '"KEY", "VAL", "_IS_CURRENT"', '"KEY", "_VALID_FROM"')
    assert rows[-3:] == [(2, "B", False), (2, "C", False), (2, "D", True)], rows
    assert [r for r in rows if r[0] == 1][-1] == (1, "A", True)
    assert len([r for r in rows if r[2]]) == 2
    view = _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_HREN_CURRENT"', '"KEY", "VAL"', '"KEY"')
    assert view == [(1, "A"), (2, "D")]
    history_before = _tbl(h, target, '"KEY", "VAL", "_VALID_FROM", "_IS_CURRENT"', '"KEY", "_VALID_FROM"')
    resync_table(h.snow, h.config.place, "public.atk_hren", "atk-resync")
    flush_counts(cur)
    _ok(h.cycle())
    assert _tbl(h, target, '"KEY", "VAL", "_VALID_FROM", "_IS_CURRENT"', '"KEY", "_VALID_FROM"') == history_before


# --- history: a key that comes back unchanged ---------------------------------------------------------


def _history_key_deleted(pg: Any, harness: Any, table: str) -> tuple[Any, Any]:
    """A history table with keys 1 and 2 whose key set has closed key 2: (cursor, table harness)."""
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.executemany(f"INSERT INTO public.{table} VALUES (%s, %s, %s)", [(1, "a", at(1)), (2, "b", at(1))])
    h = harness.add(
        f"public.{table}",
        ["id"],
        "updated_at",
        history="true",
        delete_detection="'delete'",
        keys_interval_hours="0",
        max_delete_fraction="1.0",
    )
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute(f"DELETE FROM public.{table} WHERE id = 2")
    flush_counts(cur)
    _ok(h.cycle())
    assert [r[4] for r in versions(h, table.upper())] == [True, False]
    return cur, h


def test_history_a_deleted_key_restored_identical_is_current_again_after_a_resync(pg, harness):
    cur, h = _history_key_deleted(pg, harness, "atk_hback")
    cur.execute("INSERT INTO public.atk_hback VALUES (2, 'b', %s)", (at(1),))  # restored as it was
    resync_table(h.snow, h.config.place, "public.atk_hback", "atk-resync")
    flush_counts(cur)
    _ok(h.cycle())
    rows = versions(h, "ATK_HBACK")
    report = _reconciled(h, "public.atk_hback")
    # key 2's closed version stays; a new current one opens at its _VALID_TO (versions never overlap)
    assert [(r[0], r[1], r[4]) for r in rows] == [(1, "a", True), (2, "b", False), (2, "b", True)], rows
    assert rows[2][2] == rows[1][3] and rows[1][3] is not None, rows
    view = _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_HBACK_CURRENT"', '"ID", "V"')
    assert view == [(1, "a"), (2, "b")]
    assert report["status"] == "CLEAN", report


def test_history_a_deleted_key_restored_identical_with_a_newer_watermark_is_current_on_its_next_export(pg, harness):
    # the regular incremental window covers the restored row: it is current again without a resync
    cur, h = _history_key_deleted(pg, harness, "atk_hback2")
    cur.execute("INSERT INTO public.atk_hback2 VALUES (2, 'b', %s)", (at(5),))
    flush_counts(cur)
    _ok(h.cycle())
    rows = versions(h, "ATK_HBACK2")
    assert [(r[0], r[1], r[4]) for r in rows] == [(1, "a", True), (2, "b", False), (2, "b", True)], rows
    assert rows[2][2] == rows[1][3], rows  # from the closed version's end: no overlap
    assert _reconciled(h, "public.atk_hback2")["status"] == "CLEAN"


def test_history_full_mode_large_change_delete_and_identical_return(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_hfull (id int PRIMARY KEY, v text)")
    cur.execute("INSERT INTO public.atk_hfull SELECT g, 'v' || g FROM generate_series(1, 10) g")
    h = harness.add("public.atk_hfull", ["id"], history="true")
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute("UPDATE public.atk_hfull SET v = v || '-2' WHERE id <= 8")  # most of the table: no swap allowed
    cur.execute("DELETE FROM public.atk_hfull WHERE id = 10")
    flush_counts(cur)
    _ok(h.cycle())
    rows = versions(h, "ATK_HFULL")
    assert len(rows) == 18, rows
    assert sorted((r[0], r[1]) for r in rows if r[4]) == [(i, f"v{i}-2") for i in range(1, 9)] + [(9, "v9")]
    cur.execute("INSERT INTO public.atk_hfull VALUES (10, 'v10')")  # back, identical to its closed version
    flush_counts(cur)
    _ok(h.cycle())
    rows = versions(h, "ATK_HFULL")
    assert sorted((r[0], r[1]) for r in rows if r[4])[-1] == (10, "v10"), [r for r in rows if r[0] == 10]
    assert len([r for r in rows if r[0] == 10]) == 2
    # versions of a key never overlap
    ten = [r for r in rows if r[0] == 10]
    assert ten[0][3] is not None and ten[0][3] <= ten[1][2], ten


# --- app procedures: OPTIONS of the wrong type --------------------------------------------------------

BAD_OPTIONS = [
    {"rename": "x"},
    {"rename": {"v": 1}},
    {"rename": {"v": "  "}},
    {"transform": "UPPER(V)"},
    {"transform": {"V": 1}},
    {"transform": {"V": "'\\'' || (SELECT 1) || '\\''"}},
    {"type_overrides": {"v": 5}},
    {"type_overrides": ["v"]},
    {"type_overrides": {"v": "BLOB"}},
    {"allow_lossy": "yes"},
    {"allow_lossy": 1},
    {"history": "true"},
    {"history": 1},
    {"history": None},
]


def test_app_options_of_the_wrong_type_are_refused_naming_the_key(pg, app, stack):  # noqa: F811
    from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
    from stored_procs.configuration.app_config import InvalidSetting
    from tests.integration.test_app_procedures import call

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_opts (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    ep = stack.endpoints
    call(app, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(app, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(app, "SET_TARGET_DATABASE", "ANALYTICS")
    wrong = []
    for options in BAD_OPTIONS:
        (key,) = options
        try:
            call(app, "ADD_TABLE", "public.atk_opts", ["id"], "updated_at", "incremental", None, None, options)
            wrong.append((options, "accepted"))
            call(app, "REMOVE_TABLE", "public.atk_opts")
        except InvalidSetting as err:
            if key not in str(err):
                wrong.append((options, f"InvalidSetting not naming {key}: {err}"))
        except Exception as err:
            wrong.append((options, f"{type(err).__name__}: {err}"))
    assert wrong == [], "\n".join(map(str, wrong))


# --- transform to NULL: null-safe change detection ----------------------------------------------------


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_transform_that_turns_a_value_into_null_updates_the_target(pg, harness, mode):
    cur = pg.cursor()
    name = f"atk_tnull_{mode[:4]}"
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v text, w text, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, 'a', 'keep', clock_timestamp() FROM generate_series(1, 20) g")
    watermark = "updated_at" if mode == "incremental" else None
    h = harness.add(f"public.{name}", ["id"], watermark, transform="{ V = \"NULLIF(V, 'x')\", W = \"NULLIF(W, 'y')\" }")
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute(f"UPDATE public.{name} SET v = 'x', updated_at = clock_timestamp() WHERE id = 1")  # a -> NULL
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute(f"UPDATE public.{name} SET v = 'b', updated_at = clock_timestamp() WHERE id = 1")  # NULL -> b
    cur.execute(f"UPDATE public.{name} SET w = 'y', updated_at = clock_timestamp() WHERE id = 2")
    flush_counts(cur)
    _ok(h.cycle())
    rows = {r[0]: (r[1], r[2]) for r in _tbl(h, f'"ANALYTICS"."PUBLIC"."{name.upper()}"', '"ID", "V", "W"')}
    assert (rows[1], rows[2], rows[3]) == (("b", "keep"), ("a", None), ("a", "keep")), rows


# --- type overrides at the edges with allow_lossy -----------------------------------------------------


def test_allow_lossy_edges_float_to_number_and_timestamptz_to_ntz0(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.atk_edges (id int PRIMARY KEY, f float8, ts timestamptz, updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.atk_edges VALUES "
        "(1, 0.1, '2026-03-29 01:30:00+01', now()), "  # fits / fits (wall clock kept, offset dropped)
        "(2, 123.456, '2026-03-29 01:30:00.5+00', now()), "  # 3 decimals / a fraction: both set aside
        "(3, 'NaN', '2026-01-01 00:00:00+00', now()), "
        "(4, '-Infinity', '2026-01-01 00:00:00+00', now()), "
        "(5, 1e-7, '2026-01-01 00:00:00+00', now()), "
        "(6, -99999999.99, '2026-01-01 00:00:00+00', now())"
    )
    h = harness.add(
        "public.atk_edges",
        ["id"],
        "updated_at",
        type_overrides='{ f = "NUMBER(10,2)", ts = "TIMESTAMP_NTZ(0)" }',
        allow_lossy="true",
    )
    flush_counts(cur)
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    rows = {r[0]: (r[1], r[2]) for r in _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_EDGES"', '"ID", "F", TO_VARCHAR("TS")')}
    assert set(rows) == {1, 6}, rows
    assert rows[1][0] == Decimal("0.10") and rows[6][0] == Decimal("-99999999.99"), rows
