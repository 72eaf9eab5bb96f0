import pytest

from stored_procs.configuration import app_config, table_config
from stored_procs.configuration.app_config import AppSettings, InvalidSetting, NotConfigured
from stored_procs.spec import TableSpec


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (app_config.stage_url, "s3://bucket/prefix/"),
        (app_config.stage_url, "s3://my.bucket-1/a/b/"),
        (lambda v: app_config.region(v, "region"), "eu-west-1"),
        (lambda v: app_config.region(v, "region"), "us-gov-west-1"),
        (app_config.function_name, "aurora-sync-exporter"),
        (app_config.function_name, "arn:aws:lambda:eu-west-1:123456789012:function:exporter:live"),
        (app_config.schedule, "60 MINUTES"),
        (app_config.schedule, "USING CRON 0 */2 * * * UTC"),
        (app_config.endpoint_url, "http://127.0.0.1:4566"),
    ],
)
def test_valid_settings_pass_unchanged(check, value):
    assert check(value) == value


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (app_config.stage_url, "s3://bucket/prefix", "ending with '/'"),
        (app_config.stage_url, "https://bucket/prefix/", "s3://<bucket>/<prefix>/"),
        (app_config.stage_url, "s3://b/x'; DROP TABLE t; --/", "must look like"),
        (app_config.stage_url, "s3://bucket/exports/../other/", "no '..'"),
        (lambda v: app_config.region(v, "AWS region"), "EU", "AWS region 'EU' is not an AWS region name"),
        (app_config.function_name, "my function", "Lambda function name, or its ARN"),
        (app_config.schedule, "60 MINUTES'; --", "must look like '60 MINUTES'"),
        (app_config.endpoint_url, "http://user:pw@host:1", "for host 'host' must not carry credentials$"),
    ],
)
def test_invalid_settings_name_the_value_and_what_is_accepted(check, value, message):
    with pytest.raises(InvalidSetting, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(value)


def test_a_missing_setting_says_which_call_sets_it():
    settings = AppSettings({"stage_url": "s3://b/p/"})
    assert settings.s3_location() == ("b", "p/")
    with pytest.raises(NotConfigured, match=r"CALL CORE\.SET_TARGET_DATABASE\('<DATABASE>'\) after GRANT CREATE"):
        settings.require(app_config.TARGET_DATABASE)
    assert settings.schedule == "60 MINUTES"


def test_table_options_build_the_same_spec_as_sync_toml_would():
    spec = table_config.build_spec(
        {"source": 'Sales."Customer.Events"', "primary_key": ["Event Id"], "watermark_column": "At"}
    )
    assert spec == TableSpec("Sales", "Customer.Events", ("Event Id",), watermark_column="At")
    options = table_config.spec_options(spec)
    assert options["source"] == 'Sales."Customer.Events"'
    assert options["target"] == 'SALES."CUSTOMER.EVENTS"'
    assert table_config.build_spec(options) == spec  # what SHOW_CONFIG prints can be fed back


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"source": "public.t", "primary_key": []}, "table.primary_key: must be a non-empty list"),
        ({"source": "public.t", "primary_key": ["id"], "mode": "full", "watermark_column": "v"}, "must be empty"),
        ({"source": "public.t", "primary_key": ["id"], "colour": "red"}, "table.colour: unknown option"),
        ({"source": "public.t", "primary_key": ["id"], "mode": "full", "numeric_scale": {"x": 40}}, "scales 0..38"),
    ],
)
def test_bad_table_options_name_the_option(options, message):
    with pytest.raises(InvalidSetting, match=message):
        table_config.build_spec(options)


@pytest.mark.parametrize(
    ("given", "name"), [("raw", "RAW"), ("Raw_DB$1", "RAW_DB$1"), ('"Raw"', "Raw"), ('"a ""b"""', 'a "b"')]
)
def test_object_names_resolve_as_snowflake_resolves_them(given, name):
    assert app_config.object_name(given, "database") == name


def test_an_object_name_that_is_not_one_says_how_to_quote_it():
    with pytest.raises(InvalidSetting, match=r"database 'my db' is not a name: .*double-quote it"):
        app_config.object_name("my db", "database")
