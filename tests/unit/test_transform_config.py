"""`transform` and `type_overrides` refused at configuration naming the key and what is accepted
(stored_procs.configuration.customization, loading.transforms.problem), the lossless override rules
(sync_contract.type_overrides) and the same rules at load (stored_procs.sql.target_columns)."""

import tomllib

import pytest

from aurora_sync.config import ConfigError, parse_config
from lambda_exporter import reconcile as lambda_reconcile
from stored_procs import sql
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.table_config import build_spec
from stored_procs.loading import quarantine, transforms
from stored_procs.spec import Place
from sync_contract import type_overrides
from sync_contract.errors import ContractError
from sync_contract.manifest import Column
from sync_contract.reconcile import ReconcileRequest, parse_request
from sync_contract.types import map_type
from tests import factories
from tests.unit.test_config import BASE

CLIENTS = """
[[tables]]
source = "shop.clients"
primary_key = ["client_id"]
watermark_column = "updated_at"
rename = { email_address = "EMAIL", updated_at = "CHANGED" }
"""


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(text))
    return err.value


@pytest.mark.parametrize(
    ("transform", "key", "says"),
    [
        ('{ CLIENT_ID = "CLIENT_ID + 1" }', "tables[1].transform.CLIENT_ID", "primary key column 'client_id'"),
        ('{ client_id = "CLIENT_ID + 1" }', "tables[1].transform.client_id", "primary key column 'client_id'"),
        ('{ CHANGED = "CHANGED" }', "tables[1].transform.CHANGED", "watermark column 'updated_at'"),
        ('{ EMAIL = "RANDOM()" }', "tables[1].transform.EMAIL", "calls RANDOM"),
        ('{ EMAIL = "EMAIL || UUID_STRING()" }', "tables[1].transform.EMAIL", "calls UUID_STRING"),
        ('{ EMAIL = "EMAIL || CURRENT_DATE" }', "tables[1].transform.EMAIL", "calls CURRENT_DATE"),
        ('{ EMAIL = "TO_VARCHAR(SYSDATE())" }', "tables[1].transform.EMAIL", "calls SYSDATE"),
        ('{ EMAIL = "SEQ8()" }', "tables[1].transform.EMAIL", "calls SEQ8"),
        ('{ EMAIL = "(SELECT MAX(x) FROM t)" }', "tables[1].transform.EMAIL", "holds a subquery"),
        ('{ EMAIL = "LOWER(EMAIL); DROP TABLE x" }', "tables[1].transform.EMAIL", "holds ';'"),
        ('{ EMAIL = "LOWER(EMAIL) -- note" }', "tables[1].transform.EMAIL", "holds a comment"),
        ('{ EMAIL = "LOWER(/* x */ EMAIL)" }', "tables[1].transform.EMAIL", "holds a comment"),
        ('{ EMAIL = "LOWER(\'x)" }', "tables[1].transform.EMAIL", "unterminated string"),
        ('{ EMAIL = "  " }', "tables[1].transform.EMAIL", "must be a non-empty string"),
        ('"LOWER(EMAIL)"', "tables[1].transform", "must be a table mapping target column names"),
    ],
)
def test_a_transform_that_cannot_be_applied_is_refused_naming_the_key(transform, key, says):
    err = _error(BASE + CLIENTS + f"transform = {transform}\n")
    assert err.key == key and says in str(err), str(err)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ('"RANDOM"()', "calls RANDOM"),
        ("random ()", "calls RANDOM"),
        ("AI_COMPLETE('model', EMAIL)", "calls AI_COMPLETE"),
        ("SNOWFLAKE.CORTEX.COMPLETE('model', EMAIL)", "calls COMPLETE through a schema"),
        ("MY_DB.UTIL.CLEAN(EMAIL)", "calls CLEAN through a schema"),
        ("x || localtimestamp", "calls LOCALTIMESTAMP"),
    ],
)
def test_non_deterministic_calls_are_found_however_written(expression, says):
    found = transforms.problem(expression)
    assert found is not None and says in found, found


def test_columns_named_like_functions_are_columns():
    assert transforms.problem("CURRENT_BALANCE * 2") is None
    assert transforms.problem("NORMAL || RANDOM || SEQ4") is None  # not called: columns
    assert transforms.problem('"random"()') is None  # another (lower-case) name: Snowflake resolves it or refuses it


def test_text_inside_strings_and_quoted_names_is_data():
    assert transforms.problem("EMAIL || '--; /* SELECT RANDOM() */'") is None
    assert transforms.problem('"RANDOM" || "x--y"') is None
    assert transforms.problem("x - -1") is None
    config = parse_config(tomllib.loads(BASE + CLIENTS + 'transform = { EMAIL = "LOWER(TRIM(EMAIL))" }\n'))
    assert config.tables[1].transform == {"EMAIL": "LOWER(TRIM(EMAIL))"}


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ('"NUMBER(39,2)"', "precision 1..38"),
        ('"VARCHAR(0)"', "holds 1..16777216 characters"),
        ('"GEOGRAPHY"', "is not a type an override accepts"),
    ],
)
def test_an_override_that_is_no_type_is_refused_naming_the_key(override, says):
    err = _error(BASE + CLIENTS + f"type_overrides = {{ amount = {override} }}\n")
    assert err.key == "tables[1].type_overrides.amount" and says in str(err), str(err)


def test_the_app_options_name_the_same_keys():
    options = {"source": "shop.clients", "primary_key": ["client_id"], "watermark_column": "updated_at"}
    with pytest.raises(InvalidSetting, match=r"^table\.transform\.CLIENT_ID: CLIENT_ID is the primary key column"):
        build_spec({**options, "transform": {"CLIENT_ID": "CLIENT_ID * 2"}})
    with pytest.raises(InvalidSetting, match=r"^table\.type_overrides\.amount: 'BLOB' is not a type"):
        build_spec({**options, "type_overrides": {"amount": "BLOB"}})


@pytest.mark.parametrize(
    ("pg_type", "override", "canonical", "lossy"),
    [
        ("numeric(12,2)", "NUMBER(20,2)", "NUMBER(20,2)", False),
        ("numeric(12,2)", "decimal(20, 4)", "NUMBER(20,4)", False),
        ("numeric(38,10)", "NUMBER(20,4)", "NUMBER(20,4)", True),
        ("numeric(12,2)", "NUMBER(12,1)", "NUMBER(12,1)", True),
        ("numeric", "NUMBER(38,18)", "NUMBER(38,18)", False),  # the unbounded mapping's own type
        ("numeric", "NUMBER(30,4)", "NUMBER(30,4)", True),
        ("integer", "NUMBER(10,0)", "NUMBER(10,0)", False),
        ("integer", "NUMBER(9,0)", "NUMBER(9,0)", True),
        ("smallint", "NUMBER(5,0)", "NUMBER(5,0)", False),
        ("bigint", "NUMBER(19,0)", "NUMBER(19,0)", False),
        ("bigint", "NUMBER(18,0)", "NUMBER(18,0)", True),
        ("integer", "FLOAT", "FLOAT", False),
        ("bigint", "DOUBLE", "FLOAT", True),
        ("numeric(10,2)", "FLOAT", "FLOAT", True),
        ("double precision", "NUMBER(38,10)", "NUMBER(38,10)", True),
        ("text", "VARCHAR(10)", "VARCHAR(10)", True),
        ("text", "VARCHAR(16777216)", "VARCHAR(16777216)", False),
        ("text", "STRING", "VARCHAR(16777216)", False),
        ("character varying(20)", "VARCHAR(20)", "VARCHAR(20)", False),
        ("character varying(20)", "VARCHAR(19)", "VARCHAR(19)", True),
        ("uuid", "VARCHAR(36)", "VARCHAR(36)", False),
        ("timestamp with time zone", "TIMESTAMP_NTZ", "TIMESTAMP_NTZ(9)", True),
        ("timestamp with time zone", "TIMESTAMP_LTZ(6)", "TIMESTAMP_LTZ(6)", False),
        ("timestamp with time zone", "TIMESTAMP_TZ(3)", "TIMESTAMP_TZ(3)", True),
        ("timestamp(3) without time zone", "TIMESTAMP_NTZ(3)", "TIMESTAMP_NTZ(3)", False),
        ("timestamp without time zone", "DATETIME", "TIMESTAMP_NTZ(9)", False),
        ("time without time zone", "TIME(6)", "TIME(6)", False),
    ],
)
def test_an_override_is_lossless_only_when_every_source_value_fits(pg_type, override, canonical, lossy):
    found = type_overrides.resolve(pg_type, map_type(pg_type), override, "c")
    assert found.mapping.snowflake_type == canonical
    assert found.mapping.override_of == map_type(pg_type).snowflake_type
    assert bool(found.lossy) is lossy, found.lossy


@pytest.mark.parametrize(("pg_type", "override"), [("text", "NUMBER(10,0)"), ("date", "VARCHAR"), ("boolean", "FLOAT")])
def test_an_override_to_another_kind_of_type_is_refused(pg_type, override):
    with pytest.raises(type_overrides.OverrideRefused, match="within a type family"):
        type_overrides.resolve(pg_type, map_type(pg_type), override, "c")


COLUMNS = (
    Column("id", "integer", "integer", False, 1, 1),
    Column("amount", "numeric(38,10)", "numeric(38,10)", True, 2),
    Column("email", "text", "text", True, 3),
    Column("updated_at", "timestamp with time zone", "timestamp with time zone", False, 4),
)


def _spec(**options):
    return build_spec({"source": "shop.clients", "primary_key": ["id"], "mode": "full", **options})


def test_at_load_a_lossy_override_fails_naming_the_entry_unless_allow_lossy():
    manifest = factories.manifest(columns=COLUMNS)
    with pytest.raises(ValueError, match=r"^type_overrides\.amount: NUMBER\(20,4\) cannot hold every numeric\(38,10\)"):
        sql.target_columns(_spec(type_overrides={"amount": "NUMBER(20,4)"}), manifest)
    spec = _spec(type_overrides={"amount": "NUMBER(20,4)"}, allow_lossy=True)
    assert dict(sql.target_columns(spec, manifest))["AMOUNT"].snowflake_type == "NUMBER(20,4)"
    reasons = [c.reason for c in quarantine.checks(spec, manifest, "r") if c.column == "AMOUNT"]
    assert any("does not fit NUMBER(20,4) (its type_overrides entry)" in r for r in reasons), reasons
    with pytest.raises(ValueError, match=r"^type_overrides\.amout: the export of shop\.clients has no column"):
        sql.target_columns(_spec(type_overrides={"amout": "NUMBER(20,4)"}), manifest)
    with pytest.raises(ValueError, match=r"a key or watermark column is never loaded lossily"):
        sql.target_columns(_spec(type_overrides={"id": "NUMBER(5,0)"}, allow_lossy=True), manifest)


def test_the_merge_source_applies_each_transform_over_the_untransformed_row():
    manifest = factories.manifest(columns=COLUMNS)
    spec = _spec(transform={"email": "LOWER(EMAIL)", "AMOUNT": "AMOUNT * 2"})
    text = sql.typed_source(Place.create("DB", "CTL"), spec, manifest)
    assert text.startswith(
        'SELECT "ID", "_AURORA_SYNC_T1" AS "AMOUNT", "_AURORA_SYNC_T0" AS "EMAIL", "UPDATED_AT" FROM (SELECT'
    )
    assert '(LOWER(EMAIL)) AS "_AURORA_SYNC_T0", (AMOUNT * 2) AS "_AURORA_SYNC_T1" FROM (SELECT' in text
    assert "LOWER(EMAIL)" in sql.deduplicated_source(Place.create("DB", "CTL"), spec, manifest)
    with pytest.raises(ValueError, match=r"^transform\.EMIAL: the row has no column 'EMIAL'"):
        sql.typed_source(Place.create("DB", "CTL"), _spec(transform={"EMIAL": "1"}), manifest)
    assert transforms.transformed_sources(spec, ["id", "amount", "email"]) == ("amount", "email")


def test_the_reconcile_event_carries_the_columns_compared_by_presence():
    request = ReconcileRequest("shop", "clients", ("id",), 2, None, ("id", "email"), ("email",))
    assert request.to_event()["presence"] == ["email"]
    assert parse_request(request.to_event()) == request
    assert "presence" not in ReconcileRequest("shop", "clients", ("id",), 2).to_event()  # as before
    with pytest.raises(ContractError, match="'presence' must be a list of column names"):
        parse_request({**request.to_event(), "presence": "email"})
    column = Column("email", "text", "text", True, 2)
    _, _, row, _ = lambda_reconcile._keyed("shop", "clients", [column], ("email",), ("email",))
    assert "IS NULL" in row and "format(" not in row  # the source side hashes only whether it is NULL


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        # Snowflake reads \' inside '…' as a quote: the string goes on, the subquery/call/comment is code
        (r"'a\' ' || (SELECT MAX(VALUE) FROM STATE.SETTINGS) || '\' '", "holds a subquery"),
        (r"'x\' ' || RANDOM() || '\' '", "calls RANDOM"),
        (r"'x\' ' || 1 -- '", "holds a comment"),
        ("$$a$$ || (SELECT 1)", "holds a subquery"),
        ("SEQ_ORDERS.NEXTVAL", "a sequence (NEXTVAL)"),
        ("SYSTEM$WAIT(10)", "calls SYSTEM$WAIT"),
        ('"SYSTEM$WAIT"(10)', "calls SYSTEM$WAIT"),
        ("LAG(EMAIL) OVER (ORDER BY CLIENT_ID)", "a window (OVER)"),
        ("IDENTIFIER('STATE.SETTINGS')", "calls IDENTIFIER"),
        ("TO_VARCHAR(TABLE(X))", "calls TABLE"),
        ("TO_VARCHAR(COUNT(EMAIL))", "calls COUNT, an aggregate or window function"),
        ("TO_VARCHAR(SUM(AMOUNT))", "calls SUM, an aggregate"),
        ("EMAIL) AS X, (EMAIL", "')' or ']' without its opening one"),
        ("(EMAIL", "'(' or '[' that is never closed"),
        ("EMAIL, EMAIL", "holds ',' outside any call"),
        ("EMAIL AS X", "holds 'AS' outside any call"),
        ("EMAIL || $SECRET", "holds $ outside a string"),
        ("EMAIL || ?", "holds ? outside a string"),
        (r"'abc\'", "unterminated string"),
        ("$$abc", "unterminated string"),
    ],
)
def test_escapes_dollar_strings_windows_sequences_and_unbalanced_text_are_refused(expression, says):
    found = transforms.problem(expression)
    assert found is not None and says in found, (expression, found)


def test_strings_with_escapes_and_dollar_quotes_are_data():
    for expression in (
        r"'it\'s ' || EMAIL",
        r"'C:\\' || EMAIL",
        "$$it's (SELECT$$ || EMAIL",
        "CASE WHEN X IN (1, 2) THEN 'a' ELSE 'b' END",
        "CAST(AMOUNT AS NUMBER(10,2))",
        "EXTRACT(YEAR FROM CHANGED)",
        "V:a.b::VARCHAR || ARR[0]",
        "NULLIF(EMAIL, '')",
    ):
        assert transforms.problem(expression) is None, expression


def test_transform_keys_resolve_by_one_rule():
    assert transforms.target_of("email", ["EMAIL"]) == "EMAIL"
    assert transforms.target_of("Email", ["Email", "EMAIL"]) == "Email"  # as written first
    assert transforms.resolve({"email": "1"}, ["ID", "EMAIL"]) == {"EMAIL": "1"}
    spec = _spec(rename={"email": "Mail"}, transform={"Mail": "1"})
    assert transforms.transformed_sources(spec, ["id", "email"]) == ("email",)
    with pytest.raises(InvalidSetting, match=r"^table\.transform\.id: id is the primary key column 'id'"):
        _spec(transform={"id": "1"})


def test_a_number_loaded_as_float_with_allow_lossy_is_checked_to_read_back_exactly():
    columns = (
        Column("id", "integer", "integer", False, 1, 1),
        Column("big", "bigint", "bigint", True, 2),
        Column("amount", "numeric(38,10)", "numeric(38,10)", True, 3),
    )
    manifest = factories.manifest(columns=columns)
    spec = _spec(type_overrides={"big": "FLOAT", "amount": "FLOAT"}, allow_lossy=True)
    found = {c.column: c.condition for c in quarantine.checks(spec, manifest, "r") if "type_overrides" in c.reason}
    assert 'TRY_CAST(TRY_CAST(r."C2" AS FLOAT) AS NUMBER(38,0))' in found["BIG"], found
    assert 'TRY_CAST(TRY_CAST(r."C3" AS FLOAT) AS NUMBER(38,10))' in found["AMOUNT"], found


def test_sync_toml_schema_map_values_resolve_as_the_app_resolves_them():
    mapped = BASE.replace("[[tables]]", '[target]\nschema_map = { public = "raw", shop = \'"Raw"\' }\n[[tables]]', 1)
    config = parse_config(tomllib.loads(mapped + CLIENTS))
    assert [t.target_schema for t in config.tables] == ["RAW", "Raw"]
    assert config.schema_map == {"public": "RAW", "shop": "Raw"}
    err = _error(BASE.replace("[[tables]]", '[target]\nschema_map = { public = "raw crm" }\n[[tables]]', 1))
    assert err.key == "target.schema_map.public" and "is not a name" in str(err), str(err)


def test_the_suggested_move_call_quotes_names_as_string_literals():
    from stored_procs.configuration.schema_map import move_call

    assert (
        move_call("shop.clients", "RAW.CLIENTS")
        == "CALL CORE.CONFIGURE_TABLE('shop.clients', {'target': 'RAW.CLIENTS'})"
    )
    assert move_call("shop.o'brien", 'RAW."O\'B\\"') == (
        "CALL CORE.CONFIGURE_TABLE('shop.o''brien', {'target': 'RAW.\"O''B\\\\\"'})"
    )
