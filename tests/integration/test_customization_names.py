"""Names in issue 16's customization, adopted from the review's attack file: the reserved prefix of every
internal column (configuration.renames.RESERVED_PREFIX, `_AURORA_SYNC_`: a source column, a rename target, a
`columns` entry, a key, a transform key or a name in a transform under it, in any case, is refused when
configured where it can be known, else at load naming the column and the fix, nothing created or merged),
names that cannot work (blank, INFORMATION_SCHEMA, text that is not a name), quoted and case-only names,
and schema-map targets the emulator cannot create (a named error, never a hang)."""

from __future__ import annotations

import json
import time
import tomllib

import pytest

from aurora_sync.config import ConfigError, parse_config
from benchmarks.full_mode import flush_counts
from tests.integration.test_customization_attacks import _BASE, _parse, _tbl
from tests.integration.test_history import _ok, at, versions

pytestmark = pytest.mark.integration


def test_a_source_column_named_like_the_full_merge_gone_flag_loses_no_row(pg, harness):
    # the full-mode MERGE's gone flag was "__AURORA_SYNC_GONE", a name a column could have: the MERGE read the
    # data column as the flag and deleted row 5. The flag is _AURORA_SYNC_GONE now (the reserved prefix), so a
    # column __aurora_sync_gone is an ordinary column
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_gone (id int PRIMARY KEY, __aurora_sync_gone boolean, v text)")
    cur.execute("INSERT INTO public.atk_gone SELECT g, g = 5, 'v' || g FROM generate_series(1, 40) g")
    h = harness.add("public.atk_gone", ["id"])
    flush_counts(cur)
    _ok(h.cycle())
    cur.execute("UPDATE public.atk_gone SET v = 'changed' WHERE id = 1")  # a small change: merged in place
    flush_counts(cur)
    _ok(h.cycle())
    target = '"ANALYTICS"."PUBLIC"."ATK_GONE"'
    rows = {r[0]: (r[1], r[2]) for r in _tbl(h, target, '"ID", "__AURORA_SYNC_GONE", "V"')}
    assert sorted(rows) == list(range(1, 41)), sorted(set(range(1, 41)) - set(rows))
    assert rows[1] == (False, "changed") and rows[5] == (True, "v5") and rows[6] == (False, "v6")
    cur.execute("UPDATE public.atk_gone SET v = 'changed2' WHERE id = 5")
    cur.execute("DELETE FROM public.atk_gone WHERE id = 7")  # a real gone key is still deleted
    flush_counts(cur)
    _ok(h.cycle())
    rows = {r[0]: (r[1], r[2]) for r in _tbl(h, target, '"ID", "__AURORA_SYNC_GONE", "V"')}
    assert sorted(rows) == [i for i in range(1, 41) if i != 7]
    assert rows[1] == (False, "changed") and rows[5] == (True, "changed2")


# --- reserved names: one prefix for every internal column -------------------------------------------

# one source column per family of internal names the load's statements use beside the row's columns
# (loading.full_merge's gone flag, sql's row number, loading.transforms' slots, loading.history's merge
# columns and merge keys), each in another case: all refused at load, naming the column and the fix
INTERNAL_NAMES = {
    "gone": ("_aurora_sync_gone", "full", {}),
    "row_number": ("_AURORA_SYNC_RN", "incremental", {}),
    "slot": ("_Aurora_Sync_T0", "incremental", {"transform": '{ V = "UPPER(V)" }'}),
    "history": ("_aurora_sync_raw_from", "incremental", {"history": "true"}),
    "merge_key": ("_aurora_sync_mk0", "incremental", {"history": "true"}),
}


@pytest.mark.parametrize("family", sorted(INTERNAL_NAMES))
def test_a_source_column_under_the_reserved_prefix_is_refused_at_load_naming_it(pg, harness, family):
    column, mode, options = INTERNAL_NAMES[family]
    table = f"atk_res_{family}"
    cur = pg.cursor()
    wm = ", updated_at timestamptz NOT NULL" if mode == "incremental" else ""
    cur.execute(f'CREATE TABLE public.{table} (id int PRIMARY KEY, "{column}" text, v text{wm})')
    values = "1, 'other', 'abc'" + (", now()" if wm else "")
    cur.execute(f"INSERT INTO public.{table} VALUES ({values})")
    h = harness.add(f"public.{table}", ["id"], "updated_at" if wm else None, **options)
    flush_counts(cur)
    (t,) = h.cycle().tables
    assert t.failed, t.load
    error = str(t.load.get("error"))
    assert repr(column.upper()) in error and "_AURORA_SYNC_" in error, error
    assert "rename" in error and "`columns`" in error, error
    (manifest,) = h.query(f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table)
    assert manifest[0] == "FAILED" and column.upper() in manifest[1].upper(), manifest
    assert h.watermark(table) is None
    created = h.query(
        'SELECT TABLE_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        "PUBLIC",
        table.upper(),
    )
    assert created == []  # nothing created, nothing merged
    # the fix named: renamed away, the column keeps its own values
    h.tables[-1] += f'rename = {{ "{column}" = "KEPT" }}\n'
    h._config = None
    _ok(h.cycle())
    rows = _tbl(h, f'"ANALYTICS"."PUBLIC"."{table.upper()}"', '"ID", "KEPT", "V"')
    assert rows == [(1, "other", "ABC" if options.get("transform") else "abc")], rows


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('rename = { a = "_aurora_sync_x" }\n', "tables[0].rename.a"),
        ('rename = { a = "_Aurora_Sync_T0" }\n', "tables[0].rename.a"),
        ('transform = { _AURORA_SYNC_RAW_FROM = "V" }\n', "tables[0].transform._AURORA_SYNC_RAW_FROM"),
        ('transform = { V = "V || _aurora_sync_raw_from" }\n', "tables[0].transform.V"),
        ('columns = ["id", "updated_at", "_aurora_sync_gone"]\n', "tables[0].columns"),
    ],
)
def test_sync_toml_refuses_names_under_the_reserved_prefix_naming_the_key(extra, key):
    with pytest.raises(ConfigError, match="_AURORA_SYNC_") as err:
        _parse(extra)
    assert key in str(err.value), err.value


def test_a_key_column_under_the_reserved_prefix_must_be_renamed():
    doc = tomllib.loads(_BASE.replace('primary_key = ["id"]', 'primary_key = ["_aurora_sync_id"]'))
    with pytest.raises(ConfigError, match=r"tables\[0\]\.rename.*_AURORA_SYNC_ID"):
        parse_config(doc)
    doc = tomllib.loads(
        _BASE.replace('primary_key = ["id"]', 'primary_key = ["_aurora_sync_id"]')
        + 'rename = { _aurora_sync_id = "ID" }\n'
    )
    assert parse_config(doc).tables[0].column("_aurora_sync_id") == "ID"


# --- transform: the slot column's name --------------------------------------------------------------


def test_a_column_named_like_the_transform_slot_keeps_its_values(pg, harness):
    # loading.transforms.applied computes each expression under "_AURORA_SYNC_T<i>": a column of that name is
    # refused at load (it silently took V's transformed value), nothing created
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.atk_slot (id int PRIMARY KEY, _aurora_sync_t0 text, v text, "
        "updated_at timestamptz NOT NULL)"
    )
    cur.execute("INSERT INTO public.atk_slot VALUES (1, 'other', 'abc', now())")
    h = harness.add("public.atk_slot", ["id"], "updated_at", transform='{ V = "UPPER(V)" }')
    flush_counts(cur)
    (t,) = h.cycle().tables
    assert t.failed and "'_AURORA_SYNC_T0'" in str(t.load.get("error")), t.load
    assert h.watermark("atk_slot") is None
    with pytest.raises(Exception, match="ATK_SLOT"):
        h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ATK_SLOT"')


def test_a_rename_onto_the_transform_slot_name_is_refused_or_keeps_values():
    with pytest.raises(ConfigError, match=r"tables\[0\]\.rename\.a.*_AURORA_SYNC_T0"):
        _parse('rename = { a = "_AURORA_SYNC_T0" }\ntransform = { V = "UPPER(V)" }\n')


# --- configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('rename = { a = "  " }\n', "tables[0].rename.a"),  # a blank column name
        ('rename = { "  " = "A" }\n', "tables[0].rename"),
        ('[target]\nschema_map = { public = "INFORMATION_SCHEMA" }\n', "target.schema_map.public"),
        ('[target]\nschema_map = { public = "information_schema" }\n', "target.schema_map.public"),
        ('[target]\nschema_map = { PUBLIC = "RAW" }\n', "target.schema_map.PUBLIC"),  # matches no source schema
    ],
)
def test_config_refuses_names_that_cannot_work(extra, key):
    doc = tomllib.loads(extra + _BASE if extra.startswith("[target]") else _BASE + extra)
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    assert key in str(err.value), err.value


def test_a_target_in_information_schema_is_refused():
    doc = tomllib.loads(_BASE + 'target = "INFORMATION_SCHEMA.T"\n')
    with pytest.raises(ConfigError, match=r"tables\[0\].*INFORMATION_SCHEMA.*read-only"):
        parse_config(doc)


def test_a_transform_keyed_on_the_history_merge_internal_valid_from_column_is_refused(pg, harness):
    # loading.history applies `transform` over the target columns plus "_AURORA_SYNC_RAW_FROM" (the row's
    # valid-from): a key under the reserved prefix is refused when configured, history unchanged
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_hraw (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.atk_hraw VALUES (1, 'a', %s)", (at(1),))
    h = harness.add("public.atk_hraw", ["id"], "updated_at", history="true")
    _ok(h.cycle())
    h.tables[-1] += "transform = { _AURORA_SYNC_RAW_FROM = \"TO_TIMESTAMP_TZ('2026-01-01 00:00:00 +00:00')\" }\n"
    h._config = None
    with pytest.raises(ConfigError, match=r"transform\._AURORA_SYNC_RAW_FROM"):
        _ = h.config
    assert versions(h, "ATK_HRAW") == [(1, "a", at(1), None, True)]


# --- names: quotes, case-only twins, odd schema-map targets ------------------------------------------


def test_case_only_twin_columns_renamed_apart_keep_their_own_values(pg, harness):
    cur = pg.cursor()
    cur.execute(
        'CREATE TABLE public.atk_twin (id int PRIMARY KEY, email text, "EMAIL" text, "Email" text, '
        "updated_at timestamptz NOT NULL)"
    )
    cur.execute("INSERT INTO public.atk_twin VALUES (1, 'lower', 'UPPER', 'Mixed', now())")
    h = harness.add(
        "public.atk_twin",
        ["id"],
        "updated_at",
        rename='{ EMAIL = "EMAIL_UP", Email = "EMAIL_MIXED" }',
        transform='{ EMAIL_MIXED = "EMAIL_MIXED || EMAIL" }',
    )
    _ok(h.cycle())
    rows = _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_TWIN"', '"ID", "EMAIL", "EMAIL_UP", "EMAIL_MIXED"')
    assert rows == [(1, "lower", "UPPER", "Mixedlower")]


def test_a_rename_with_quotes_and_spaces_and_a_transform_reading_it(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_q (id int PRIMARY KEY, v text, w text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.atk_q VALUES (1, 'it''s', 'w', now())")
    name = "Va\"l ue'); DROP TABLE X; --"
    expr = 'UPPER("Va""l ue\'); DROP TABLE X; --") || \'--\''
    h = harness.add(
        "public.atk_q",
        ["id"],
        "updated_at",
        rename=f"{{ v = {json.dumps(name)} }}",
        transform=f"{{ W = {json.dumps(expr)} }}",
    )
    _ok(h.cycle())
    quoted = '"' + name.replace('"', '""') + '"'
    assert _tbl(h, '"ANALYTICS"."PUBLIC"."ATK_Q"', f'"ID", {quoted}, "W"') == [(1, "it's", "IT'S--")]


@pytest.mark.parametrize("schema", ['RAW"Q', "RAW.DOT", "RAW CRM"])
def test_sync_toml_refuses_schema_map_targets_the_app_refuses(schema):
    # the app's SET_SCHEMA_MAP refuses 'raw crm' ("is not a name", test_rename_app.py); sync.toml takes it,
    # and on the embedded stack a cycle into such a schema hangs past 240 s (the load test below)
    with pytest.raises(ConfigError, match="schema_map"):
        parse_config(tomllib.loads(f"[target]\nschema_map = {{ public = {json.dumps(schema)} }}\n" + _BASE))


def _schema_mapped(pg, harness, src: str, schema: str):
    cur = pg.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {src}")
    cur.execute(f"CREATE TABLE {src}.items (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO {src}.items VALUES (1, 'x', now())")
    h = harness.add(f"{src}.items", ["id"], "updated_at")
    h.tables.insert(0, f"[target]\nschema_map = {{ {src} = {json.dumps(schema)} }}\n")
    h._config = None
    return h


def test_a_schema_map_target_with_a_space_lands_in_that_schema(pg, harness):
    # the name double-quoted is a name in both sync.toml and SET_SCHEMA_MAP: the rows land there
    h = _schema_mapped(pg, harness, "atks", '"Raw Crm"')
    _ok(h.cycle())
    assert _tbl(h, '"ANALYTICS"."Raw Crm"."ITEMS"', '"ID", "V"') == [(1, "x")]


@pytest.mark.parametrize(("src", "schema"), [("atkq", '"RAW""Q"'), ("atkd", '"RAW.DOT"')])
def test_a_schema_map_target_the_emulator_cannot_create_fails_the_cycle_naming_it_never_hangs(pg, harness, src, schema):
    # valid Snowflake names, accepted by sync.toml and SET_SCHEMA_MAP alike. The emulator cannot make such a
    # schema its session's (fakesnow's unquoted DuckDB `SET schema`) and answered HTTP 500, which the
    # connector retried without end: the cycle hung > 240 s. Now the emulator answers a SQL error
    # (aurora_sync/stack/emulator/unhandled.py): the table fails naming the statement, nothing loaded
    h = _schema_mapped(pg, harness, src, schema)
    started = time.monotonic()
    report = h.cycle()
    assert time.monotonic() - started < 60
    (t,) = report.tables
    assert t.failed and "emulator cannot run this statement" in str(t.load.get("error")), t.load
    assert schema in str(t.load.get("error")), t.load
    assert h.watermark("items") is None
