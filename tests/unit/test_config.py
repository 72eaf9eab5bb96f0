import tomllib

import pytest

from aurora_sync.config import ConfigError, parse_config

BASE = """
[source]
dsn = "postgresql://u@127.0.0.1:5432/app"
[s3]
bucket = "exports"
prefix = "aurora-sync/"
region = "eu-west-1"
[snowflake]
connection_name = "dev"
database = "ANALYTICS"
[[tables]]
source = "public.orders"
primary_key = ["order_id"]
watermark_column = "updated_at"
"""


def test_design_example_parses_with_defaults():
    config = parse_config(tomllib.loads(BASE))
    assert config.control_schema == "AURORA_SYNC"
    assert config.snowflake_connect == {"connection_name": "dev"}
    assert config.s3.url == "s3://exports/aurora-sync/"
    assert config.exporter.lambda_function is None and config.exporter.max_file_bytes == 128 * 1024 * 1024
    (table,) = config.tables
    assert (table.target_schema, table.target_table, table.mode) == ("PUBLIC", "ORDERS", "incremental")


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[[tables]]\nsource = "orders"\nprimary_key = ["id"]\nmode = "full"\n', "tables[1].source"),
        ('[[tables]]\nsource = "public.t"\nprimary_key = []\nmode = "full"\n', "tables[1].primary_key"),
        ('[[tables]]\nsource = "public.t"\nprimary_key = ["id"]\n', "tables[1].watermark_column"),
        ('[[tables]]\nsource = "public.t"\nprimary_key = ["id"]\nmode = "cdc"\n', "tables[1].mode"),
        (
            '[[tables]]\nsource = "public.t"\nprimary_key = ["id"]\nmode = "full"\nwatermak = "x"\n',
            "tables[1].watermak",
        ),
        ('[[tables]]\nsource = "public.orders"\nprimary_key = ["id"]\nmode = "full"\n', "tables"),
        ('[exporter]\nstrategy = "dump"\n', "exporter.strategy"),
        ("[extra]\nx = 1\n", "extra"),
    ],
)
def test_errors_name_the_key(extra, key):
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(BASE + extra))
    assert info.value.key == key


def test_prefix_must_end_with_a_slash():
    with pytest.raises(ConfigError, match="s3.prefix"):
        parse_config(tomllib.loads(BASE.replace('prefix = "aurora-sync/"', 'prefix = "aurora-sync"')))


def test_a_prefix_climbing_out_of_its_folder_is_refused():
    with pytest.raises(ConfigError, match=r"s3.prefix.*no '\.\.'"):
        parse_config(tomllib.loads(BASE.replace('prefix = "aurora-sync/"', 'prefix = "aurora-sync/../other/"')))
