"""[snowflake] keys: a typo is refused naming the key and the closest accepted one; every parameter the
installed connector accepts (read from the connector) passes, and so do the project's own keys."""

import tomllib
from pathlib import Path

import pytest
from snowflake.connector.connection import DEFAULT_CONFIGURATION

from aurora_sync.config import ConfigError, load_config, parse_config
from aurora_sync.snowflake_keys import connector_parameters

BASE = """
[source]
dsn = "postgresql://u@127.0.0.1:5432/app"
[s3]
bucket = "exports"
region = "eu-west-1"
[snowflake]
account = "xy12345"
user = "sync"
database = "ANALYTICS"
{extra}
[[tables]]
source = "public.orders"
primary_key = ["order_id"]
watermark_column = "updated_at"
"""


@pytest.mark.parametrize(
    ("typo", "meant"), [("controlschema", "control_schema"), ("warehous", "warehouse"), ("rol", "role")]
)
def test_a_typo_is_refused_with_the_key_and_a_suggestion(typo, meant):
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(BASE.format(extra=f'{typo} = "X"')))
    assert err.value.key == f"snowflake.{typo}"
    assert f"did you mean {meant}?" in str(err.value)


def test_a_key_like_nothing_lists_the_projects_keys():
    with pytest.raises(ConfigError, match=r"snowflake.zzzz: unknown key .*control_schema, database, stage"):
        parse_config(tomllib.loads(BASE.format(extra='zzzz = "X"')))


@pytest.mark.parametrize(
    "extra",
    [
        'warehouse = "WH"\nrole = "SYNC"\nschema = "PUBLIC"',
        'control_schema = "CTL"\nstage = "ANALYTICS.CTL.S"\nstorage_integration = "I"',
        "login_timeout = 15\nnetwork_timeout = 300",
        'authenticator = "SNOWFLAKE_JWT"\nprivate_key_file = "/keys/rsa.p8"',
        'session_parameters = { QUERY_TAG = "sync" }',
        'connections_file_path = "/etc/sf/connections.toml"',
    ],
)
def test_connector_parameters_and_the_projects_keys_pass(extra):
    config = parse_config(tomllib.loads(BASE.format(extra=extra)))
    assert "database" not in config.snowflake_connect and "control_schema" not in config.snowflake_connect


def test_the_accepted_parameters_come_from_the_connector():
    accepted = connector_parameters()
    assert set(DEFAULT_CONFIGURATION) <= accepted  # what connect() checks its arguments against
    assert {"connection_name", "connections_file_path"} <= accepted  # SnowflakeConnection.__init__'s own
    assert "warehous" not in accepted


def test_a_config_error_names_the_file(tmp_path: Path):
    path = tmp_path / "sync.toml"
    path.write_text(BASE.format(extra='rol = "SYNC"'))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).endswith(f"did you mean role? (in {path})")
