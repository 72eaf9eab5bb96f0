"""Changes a history table cannot take in place (configuration.history_changes) and the load's own check
of its key and watermark columns (loading.history.refusal), without an engine; the names a history
MERGE gives its own columns (a key column named F or T)."""

from __future__ import annotations

import dataclasses
import re

from stored_procs.configuration import history_changes
from stored_procs.configuration.renames import HISTORY_COLUMNS
from stored_procs.loading import history
from stored_procs.spec import Place, TableSpec
from sync_contract.manifest import Column
from tests.factories import manifest

SPEC = TableSpec("public", "orders", ("order_id",), watermark_column="updated_at", history=True)
LOADED = {"ORDER_ID", "AMOUNT", "UPDATED_AT", *HISTORY_COLUMNS}


def test_the_history_columns_have_one_spelling():
    assert history.NAMES is HISTORY_COLUMNS
    assert (history.VALID_FROM, history.VALID_TO, history.IS_CURRENT) == HISTORY_COLUMNS
    assert tuple(n for n, _ in history.COLUMNS) == HISTORY_COLUMNS


def test_a_rename_of_a_loaded_column_is_refused_and_of_an_unloaded_one_is_not():
    for source in ("amount", "order_id", "updated_at"):
        after = dataclasses.replace(SPEC, rename={source: "RENAMED"})
        option, why = history_changes.changed(SPEC, after, LOADED) or ("", "")
        assert option == "rename" and f"{source}: {source.upper()} -> RENAMED" in why
        assert "give the table a new target" in why and "set rename back" in why
    assert history_changes.changed(SPEC, dataclasses.replace(SPEC, rename={"region": "AREA"}), LOADED) is None
    # a rename to the default name changes nothing
    assert history_changes.changed(SPEC, dataclasses.replace(SPEC, rename={"amount": "AMOUNT"}), LOADED) is None
    # the rename taken back
    renamed = dataclasses.replace(SPEC, rename={"amount": "TOTAL"})
    assert history_changes.changed(renamed, SPEC, LOADED - {"AMOUNT"} | {"TOTAL"})[0] == "rename"  # type: ignore[index]


def test_another_key_or_a_watermark_the_table_lacks_is_refused_and_a_mode_change_is_not():
    other_key = dataclasses.replace(SPEC, primary_key=("order_id", "amount"))
    assert history_changes.changed(SPEC, other_key, LOADED)[0] == "primary_key"  # type: ignore[index]
    reordered = dataclasses.replace(SPEC, primary_key=("order_id",))
    assert history_changes.changed(SPEC, reordered, LOADED) is None
    missing = dataclasses.replace(SPEC, watermark_column="changed_at")
    assert history_changes.changed(SPEC, missing, LOADED)[0] == "watermark_column"  # type: ignore[index]
    assert history_changes.changed(SPEC, dataclasses.replace(SPEC, watermark_column="amount"), LOADED) is None
    full = dataclasses.replace(SPEC, mode="full", watermark_column=None)
    assert history_changes.changed(SPEC, full, LOADED) is None
    assert history_changes.changed(full, SPEC, LOADED) is None


def test_the_load_refuses_a_history_table_without_its_key_or_watermark_column():
    assert history.refusal(SPEC, LOADED) is None
    why = history.refusal(dataclasses.replace(SPEC, rename={"order_id": "ORDER_KEY"}), LOADED) or ""
    assert "has no column ORDER_KEY" in why and "Nothing was merged" in why
    why = history.refusal(dataclasses.replace(SPEC, rename={"updated_at": "CHANGED"}), LOADED) or ""
    assert "has no column CHANGED" in why


def test_the_merge_names_its_own_columns_apart_from_key_columns_named_f_or_t():
    spec = TableSpec("public", "ft", ("f", "t"), watermark_column="updated_at", history=True)
    columns = (
        Column("f", "bigint", "bigint", False, 1, 1),
        Column("t", "bigint", "bigint", False, 2, 2),
        Column("updated_at", "timestamp with time zone", "timestamp with time zone", False, 3),
    )
    batch = manifest(columns=columns)
    text = history.merge(Place.create("ANALYTICS", "AURORA_SYNC"), spec, batch, "A", "x", True).text
    aggregate = 'SELECT "F", "T", MAX("_VALID_TO") AS "_AURORA_SYNC_LAST_TO"'
    assert aggregate in text and 'h."_AURORA_SYNC_LAST_TO"' in text
    # the aggregate's key columns F and T are read only where it is joined by key
    uses = re.findall(r'(?<![A-Za-z_])h\."[FT]"( = s\.)?', text)
    assert uses and all(uses)
    assert 'AS "AT"' not in text and 'n."_AURORA_SYNC_AT"' in text
