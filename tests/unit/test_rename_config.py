"""`rename` and `[target] schema_map` refused at configuration, the message naming the key and the fix
(stored_procs.configuration.renames, customization, aurora_sync.config), and the same rules at load
(stored_procs.sql.target_columns)."""

import tomllib

import pytest

from aurora_sync.config import ConfigError, parse_config
from stored_procs import sql
from stored_procs.configuration import renames
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.table_config import build_spec
from stored_procs.loading import history
from sync_contract.identifiers import RESERVED_COLUMN_NAMES
from sync_contract.manifest import Column
from tests import factories
from tests.unit.test_config import BASE

CLIENTS = """
[[tables]]
source = "shop.clients"
primary_key = ["client_id"]
watermark_column = "updated_at"
"""


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(text))
    return err.value


@pytest.mark.parametrize(
    ("rename", "key", "says"),
    [
        ('{ email_address = "EMAIL", email = "EMAIL" }', "tables[1].rename.email", "both renamed to 'EMAIL'"),
        ('{ email_address = "Email", email = "EMAIL" }', "tables[1].rename.email", "both renamed to 'EMAIL'"),
        ('{ email_address = "_DELETED" }', "tables[1].rename.email_address", "a column the sync adds itself"),
        ('{ email_address = "_is_current" }', "tables[1].rename.email_address", "history table's validity column"),
        ('{ email_address = "_AURORA_SYNC_RN" }', "tables[1].rename.email_address", "row number of a batch"),
        ('{ email_address = "LOCALTIME" }', "tables[1].rename.email_address", "Reserved & limited keywords"),
        ('{ email_address = "CLIENT_ID" }', "tables[1].rename.email_address", "'client_id' is 'CLIENT_ID'"),
        ('{ email_address = "updated_at" }', "tables[1].rename.email_address", "'updated_at' is 'UPDATED_AT'"),
        ('{ email_address = "" }', "tables[1].rename.email_address", "visible character"),
        ('"EMAIL"', "tables[1].rename", "must be a table mapping source column names"),
    ],
)
def test_a_rename_that_would_lose_values_is_refused_naming_the_key(rename, key, says):
    err = _error(BASE + CLIENTS + f"rename = {rename}\n")
    assert err.key == key and says in str(err), str(err)
    assert str(err).startswith(f"sync config {key}: ")


def test_renaming_the_primary_key_and_the_watermark_column_is_accepted():
    config = parse_config(tomllib.loads(BASE + CLIENTS + 'rename = { client_id = "ID", updated_at = "CHANGED" }\n'))
    spec = config.tables[1]
    assert (spec.column("client_id"), spec.column("updated_at"), spec.column("note")) == ("ID", "CHANGED", "NOTE")
    # two columns swapping their names: each renamed, so neither keeps its default
    swapped = build_spec(
        {
            "source": "s.t",
            "primary_key": ["a"],
            "mode": "full",
            "rename": {"a": "B", "b": "A"},
        }
    )
    assert (swapped.column("a"), swapped.column("b")) == ("B", "A")


def test_with_columns_listed_a_rename_of_an_unlisted_column_or_onto_a_listed_one_is_refused():
    listed = BASE + CLIENTS + 'columns = ["client_id", "email_address", "note", "updated_at"]\n'
    err = _error(listed + 'rename = { emial_address = "EMAIL" }\n')
    assert err.key == "tables[1].rename.emial_address" and "which the table does not have" in str(err)
    err = _error(listed + 'rename = { email_address = "NOTE" }\n')
    assert err.key == "tables[1].rename.email_address" and "column 'note' is 'NOTE'" in str(err), str(err)
    err = _error(listed + 'rename = { Email_Address = "EMAIL" }\n')
    assert "did you mean 'email_address'? names are case-sensitive" in str(err)
    assert parse_config(tomllib.loads(listed + 'rename = { email_address = "EMAIL" }\n'))


def test_schema_map_gives_the_target_schema_and_a_mapped_clash_names_the_map_entry():
    mapped = BASE.replace("[[tables]]", '[target]\nschema_map = { public = "RAW", shop = "RAW" }\n[[tables]]', 1)
    config = parse_config(tomllib.loads(mapped + CLIENTS))
    assert [(t.target_schema, t.target_table) for t in config.tables] == [("RAW", "ORDERS"), ("RAW", "CLIENTS")]
    clash = mapped + '[[tables]]\nsource = "shop.orders"\nprimary_key = ["id"]\nmode = "full"\n'
    err = _error(clash)
    assert err.key == "target.schema_map.shop", str(err)
    assert "would both load into" in str(err) and "tables[1] has no `target`" in str(err)
    err = _error(BASE.replace("[[tables]]", '[target]\nschema_map = { public = "aurora_sync" }\n[[tables]]', 1))
    assert err.key == "target.schema_map.public" and "holds the sync's own tables" in str(err), str(err)
    explicit = clash.replace('mode = "full"', 'mode = "full"\ntarget = "RAW.ORDERS"')
    assert _error(explicit).key == "tables[1].target"
    err = _error(BASE.replace("[[tables]]", '[target]\nschema_map = { public = "" }\n[[tables]]', 1))
    assert err.key == "target.schema_map.public"


def test_the_app_options_name_the_same_keys():
    options = {"source": "shop.clients", "primary_key": ["client_id"], "watermark_column": "updated_at"}
    with pytest.raises(
        InvalidSetting, match=r"^table\.rename\.email_address: .* but column .client_id. is .CLIENT_ID."
    ):
        build_spec({**options, "rename": {"email_address": "client_id"}})
    with pytest.raises(InvalidSetting, match=r"^table\.rename\.x: '_DELETED_AT' is _DELETED_AT"):
        build_spec({**options, "rename": {"x": "_DELETED_AT"}})


def test_at_load_a_rename_onto_another_exported_column_fails_naming_the_entry():
    spec = build_spec({"source": "shop.clients", "primary_key": ["id"], "mode": "full", "rename": {"a": "B"}})
    columns = (Column("id", "integer", "integer", False, 1, 1), Column("a", "text", "text", True, 2))
    manifest = factories.manifest(columns=(*columns, Column("b", "text", "text", True, 3)))
    with pytest.raises(ValueError, match=r"rename\.a of shop\.clients: 'a' is renamed to 'B', but column 'b'"):
        sql.target_columns(spec, manifest)
    found = renames.unmatched({"gone": "G"}, ["id", "a"], existing={"ID", "A"})
    assert found is not None and found[0] == "gone"
    assert renames.unmatched({"gone": "G"}, ["id", "a"], existing={"ID", "A", "G"}) is None  # dropped after loading


def test_the_reserved_names_are_the_ones_the_sync_writes():
    owned = {sql.ROW_NUMBER_COLUMN, *(n for n, _ in sql.SOFT_DELETE_COLUMNS), *(n for n, _ in history.COLUMNS)}
    assert owned == set(renames.SYNC_COLUMNS)
    assert all(renames.refused_target(n) for n in RESERVED_COLUMN_NAMES | owned)
    assert renames.refused_target("EMAIL") is None


def test_a_target_named_like_a_history_tables_current_view_is_refused():
    """A history table's `<TARGET>_CURRENT` view (stored_procs.loading.history) and another table's target
    would share one name."""
    history_on = BASE + CLIENTS + 'target = "RAW.CLIENTS"\nhistory = true\n'
    err = _error(
        history_on
        + '[[tables]]\nsource = "shop.other"\nprimary_key = ["id"]\nmode = "full"\ntarget = "raw.clients_current"\n'
    )
    assert err.key == "tables[2].target" and 'creates the view "RAW"."CLIENTS_CURRENT"' in str(err), str(err)
    first = (
        BASE
        + '[[tables]]\nsource = "shop.other"\nprimary_key = ["id"]\nmode = "full"\ntarget = "RAW.CLIENTS_CURRENT"\n'
    )
    err = _error(first + CLIENTS + 'target = "RAW.CLIENTS"\nhistory = true\n')
    assert err.key == "tables[2].target" and "shop.clients keeps history" in str(err), str(err)
