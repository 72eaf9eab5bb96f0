"""sync.toml refuses a [target] schema_map key that is no configured table's source schema (aurora_sync.config):
keys match PostgreSQL's names exactly, and an unmatched key was silently ignored."""

from __future__ import annotations

import tomllib

import pytest

from aurora_sync.config import ConfigError, parse_config
from tests.unit.test_config import BASE


def _map(entries: str) -> str:
    return BASE.replace("[[tables]]", f"[target]\nschema_map = {{ {entries} }}\n[[tables]]", 1)


@pytest.mark.parametrize(
    ("entries", "key", "says"),
    [
        ('PUBLIC = "RAW"', "target.schema_map.PUBLIC", "source schema 'PUBLIC'; did you mean public?"),
        ('pubic = "RAW"', "target.schema_map.pubic", "did you mean public?"),
        ('public = "RAW", crm = "RAW_CRM"', "target.schema_map.crm", "'crm'; the tables' source schemas are public"),
    ],
)
def test_an_unused_schema_map_key_is_refused_naming_it(entries, key, says):
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(_map(entries)))
    assert err.value.key == key and says in str(err.value), str(err.value)


def test_a_used_key_maps_its_tables():
    assert [t.target_schema for t in parse_config(tomllib.loads(_map('public = "RAW"'))).tables] == ["RAW"]
