"""Two sources never load into one Snowflake table: the pure rule (stored_procs.configuration.targets) and its key."""

import tomllib

import pytest

from aurora_sync.config import ConfigError, parse_config
from stored_procs.configuration.targets import CONTROL_TABLES, target_clash
from stored_procs.spec import TableSpec
from sync_contract.identifiers import collision_key, split_qualified

CONTROL = {"AURORA_SYNC": CONTROL_TABLES}
APP = {"STATE": CONTROL_TABLES, "CORE": "the app's procedures and views"}


def spec(source: str, target: str = "") -> TableSpec:
    schema, table = split_qualified(source)
    target_schema, target_table = split_qualified(target) if target else ("", "")
    return TableSpec(schema, table, ("id",), "full", target_schema=target_schema, target_table=target_table)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("orders", "ORDERS"),  # unquoted resolves upper-case; QUOTED_IDENTIFIERS_IGNORE_CASE folds quoted ones
        ("Orders", "oRDERS"),
        ("straße", "STRASSE"),  # full case mapping: ß upper-cases to SS
        ("\u1e9e", "ss"),  # capital sharp s
        ("t\u0131tle", "TITLE"),  # dotless i upper-cases to I
        ("\u0130stanbul", "istanbul"),  # dotted capital I: a Turkish-locale upper-casing maps i to it
        ("\ufb01les", "FILES"),  # the fi ligature
        ("caf\u00e9", "cafe\u0301"),  # composed and decomposed é
        ("\uff2f\uff32\uff24\uff25\uff32\uff33", "orders"),  # fullwidth letters
        ("or\u200bders", "orders"),  # zero-width space
        ("\u212a", "k"),  # Kelvin sign
        ("\u03c2", "\u03a3"),  # final sigma and capital sigma
    ],
)
def test_names_snowflake_may_resolve_as_one_have_one_key(a, b):
    assert a != b
    assert collision_key(a) == collision_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("orders", "order"),
        ("\u017caba", "zaba"),  # z with dot above is another letter, not a case of z
        ("orders", "orders "),  # quoted identifiers keep blanks
        ("a.b", "a_b"),
        ("\u043erders", "orders"),  # Cyrillic o: a look-alike, but another letter in every folding
    ],
)
def test_names_no_folding_joins_keep_their_own_keys(a, b):
    assert collision_key(a) != collision_key(b)


def test_a_quoted_upper_case_source_and_a_lower_case_one_share_the_default_target():
    clash = target_clash(spec('public."ORDERS"'), [spec("public.orders")], CONTROL)
    assert clash is not None
    assert clash.startswith('public.orders and public.ORDERS would both load into "PUBLIC"."ORDERS"')
    assert "Give public.ORDERS a target of its own" in clash


def test_one_explicit_target_for_two_tables_is_refused():
    clash = target_clash(spec("public.b", "SALES.ALL_ORDERS"), [spec("public.a", "SALES.ALL_ORDERS")], CONTROL)
    assert clash is not None and 'public.a and public.b would both load into "SALES"."ALL_ORDERS"' in clash


def test_targets_that_differ_only_in_case_are_refused_and_both_spellings_shown():
    clash = target_clash(spec("public.b", "sales.orders"), [spec("public.a", "SALES.ORDERS")], CONTROL)
    assert clash is not None
    assert '"SALES"."ORDERS" and "sales"."orders" (which Snowflake may resolve as one)' in clash


@pytest.mark.parametrize(
    ("source", "other"),
    [
        ("public.straße", "public.STRASSE"),  # default targets PUBLIC.STRASSE twice
        ('public."t\u0131tle"', "public.title"),  # dotless i: TITLE twice
        ('public."\u0130tem"', "public.item"),  # "İTEM" and ITEM
        ("public.caf\u00e9", "public.cafe\u0301"),  # two spellings of one name, two tables in PostgreSQL
    ],
)
def test_unicode_names_that_fold_into_one_target_are_refused(source, other):
    clash = target_clash(spec(source), [spec(other)], CONTROL)
    assert clash is not None and "would both load into" in clash


@pytest.mark.parametrize("target", ["AURORA_SYNC.MANIFESTS", "AURORA_SYNC.ORDERS", "aurora_sync.orders"])
def test_a_target_in_the_control_schema_is_refused(target):
    clash = target_clash(spec("public.orders", target), [], CONTROL)
    assert clash is not None
    assert 'is in schema "AURORA_SYNC", which holds the sync\'s own tables' in clash
    assert "give the table a target in another schema" in clash


@pytest.mark.parametrize("target", ["STATE.SYNC_TABLES", "state.x", "CORE.TABLE_STATUS"])
def test_a_target_in_the_apps_own_schemas_is_refused(target):
    clash = target_clash(spec("public.orders", target), [], APP)
    assert clash is not None and "give the table a target in another schema" in clash


@pytest.mark.parametrize("target", ["PUBLIC.ORDERS__AURORA_SYNC_SHADOW", "public.x__aurora_sync_shadow"])
def test_a_target_named_like_a_shadow_table_is_refused(target):
    clash = target_clash(spec("public.other", target), [spec("public.orders")], CONTROL)
    assert clash is not None and "ends in __AURORA_SYNC_SHADOW" in clash


def test_a_removed_tables_target_stays_taken_and_the_message_says_why():
    removed = spec("public.orders")
    clash = target_clash(spec('public."ORDERS"'), [removed], APP, removed={("public", "orders")})
    assert clash is not None
    assert "public.orders (removed from replication, but its target table is kept and ADD_TABLE resumes it" in clash


def test_two_sources_whose_staging_tables_would_coincide_are_refused():
    # found by search: the lossy readable part and the first 8 hex digits of the SHA-256 coincide
    a, b = spec("public.stAGingclaShprobe", "S.A"), spec("public.sTaGiNgclaShProbe", "S.B")
    assert a.staging_name == b.staging_name
    clash = target_clash(b, [a], CONTROL)
    assert clash is not None and f'would share the staging table "{a.staging_name}"' in clash


def test_distinct_targets_and_the_table_itself_pass():
    orders = spec("public.orders")
    others = [orders, spec("public.order_items"), spec("public.\u017caba"), spec("sales.orders")]
    assert target_clash(spec("public.zaba"), others, CONTROL) is None
    assert target_clash(spec("public.orders", "PUBLIC.ORDERS"), others, CONTROL) is None  # reconfiguring itself


BASE = """
[source]
dsn = "postgresql://u@127.0.0.1:5432/app"
[s3]
bucket = "exports"
[snowflake]
connection_name = "dev"
database = "ANALYTICS"
control_schema = "SYNC_CTL"
[[tables]]
source = "public.orders"
primary_key = ["id"]
watermark_column = "updated_at"
"""


def _table(source: str, target: str | None = None) -> str:
    line = f"target = '{target}'\n" if target else ""
    return f'[[tables]]\nsource = \'{source}\'\nprimary_key = ["id"]\nmode = "full"\n{line}'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (_table('public."ORDERS"'), 'public.orders and public.ORDERS would both load into "PUBLIC"."ORDERS"'),
        (_table("public.b", "PUBLIC.ORDERS"), 'public.orders and public.b would both load into "PUBLIC"."ORDERS"'),
        (_table("public.b", "SYNC_CTL.MANIFESTS"), 'target "SYNC_CTL"."MANIFESTS" is in schema "SYNC_CTL"'),
        (_table("public.b", "PUBLIC.ORDERS__AURORA_SYNC_SHADOW"), "ends in __AURORA_SYNC_SHADOW"),
    ],
)
def test_sync_toml_refuses_a_shared_or_reserved_target_naming_both_tables(extra, message):
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(BASE + extra))
    assert info.value.key == "tables[1].target"
    assert message in str(info.value)


def test_sync_toml_accepts_the_same_tables_with_targets_of_their_own():
    config = parse_config(tomllib.loads(BASE + _table('public."ORDERS"', "PUBLIC.ORDERS_UPPER")))
    assert [(t.source, t.target_schema, t.target_table) for t in config.tables] == [
        ("public.orders", "PUBLIC", "ORDERS"),
        ("public.ORDERS", "PUBLIC", "ORDERS_UPPER"),
    ]
