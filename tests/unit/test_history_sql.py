"""loading.history's statements and rules (docs/CUSTOMIZATION.md "History"), without an engine."""

from __future__ import annotations

import dataclasses

import pytest

from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.table_config import build_spec
from stored_procs.loading import history, key_sets
from stored_procs.spec import Place, TableSpec
from tests.factories import manifest

PLACE = Place.create("ANALYTICS", "AURORA_SYNC")
SPEC = TableSpec("public", "orders", ("order_id",), watermark_column="updated_at", history=True)
AT = "2026-11-30 01:00:00.000000"


def test_history_with_soft_deletes_is_refused_naming_the_key():
    options = {"source": "public.orders", "primary_key": ["order_id"], "watermark_column": "updated_at"}
    with pytest.raises(InvalidSetting) as refused:
        build_spec({**options, "history": True, "delete_detection": "soft_delete"})
    assert refused.value.key == "table.history" and "closed version" in refused.value.reason
    assert build_spec({**options, "history": True, "delete_detection": "delete"}).history is True
    with pytest.raises(InvalidSetting, match=r"table\.history: must be true or false"):
        build_spec({**options, "history": "yes"})


@pytest.mark.parametrize("replacing", [False, True])
def test_one_merge_whose_binds_match_its_markers_and_that_matches_only_current_versions(replacing):
    stmt = history.merge(PLACE, SPEC, manifest(), "ANALYTICS", AT, replacing, None)
    assert stmt.text.startswith("MERGE INTO") and stmt.text.count("MERGE INTO") == 1
    assert stmt.text.count("?") == len(stmt.params)
    assert 'ON t."ORDER_ID" = s."_AURORA_SYNC_MK0" AND t."_IS_CURRENT"' in stmt.text
    assert "GREATEST(?" not in stmt.text  # the emulator's translation would send such a bind twice
    assert ("'GONE'" in stmt.text) == replacing
    assert stmt.params == ((f"{AT}+00:00", "2026-01-01 00:00:05+00") if replacing else ())


def test_full_mode_takes_the_load_time_and_no_watermark_bound():
    spec = dataclasses.replace(SPEC, mode="full", watermark_column=None)
    full = manifest(mode="full", window=dataclasses.replace(manifest().window, column=None, high=None))
    stmt = history.merge(PLACE, spec, full, "ANALYTICS", AT, True, None)
    # the load time in each copy of the changed rows, then once for the gone keys
    assert stmt.params == (f"{AT}+00:00",) * 3
    assert stmt.text.count("?") == 3


def test_a_key_set_closes_current_versions_and_never_deletes():
    stmt = key_sets.apply_key_set(PLACE, SPEC, manifest(mode="keys"), "ANALYTICS", AT)
    assert stmt.text.startswith('UPDATE "ANALYTICS"."PUBLIC"."ORDERS" AS t SET "_VALID_TO" = GREATEST(')
    assert "DELETE" not in stmt.text and '"_IS_CURRENT" = FALSE' in stmt.text
    assert stmt.params == (f"{AT}+00:00", "2026-01-01 00:00:05+00") and stmt.text.count("?") == 2


def test_history_switched_on_or_off_for_an_existing_target_is_refused():
    plain = {"ORDER_ID", "AMOUNT", "UPDATED_AT"}
    with_history = plain | set(history.NAMES)
    assert history.refusal(SPEC, set()) is None
    assert history.refusal(SPEC, with_history) is None
    assert "loaded without history" in (history.refusal(SPEC, plain) or "")
    off = dataclasses.replace(SPEC, history=False)
    assert "is a history table" in (history.refusal(off, with_history) or "")
    assert history.refusal(off, with_history, with_history) is None  # source columns of those names


def test_the_current_view_leaves_out_valid_to_and_is_current():
    cols = ["ORDER_ID", "AMOUNT", "_VALID_FROM", "_VALID_TO", "_IS_CURRENT"]
    text = history.create_current_view(SPEC, "ANALYTICS", cols).text
    assert text == (
        'CREATE OR REPLACE VIEW "ANALYTICS"."PUBLIC"."ORDERS_CURRENT" COPY GRANTS AS SELECT "ORDER_ID", "AMOUNT", '
        '"_VALID_FROM" '
        'FROM "ANALYTICS"."PUBLIC"."ORDERS" WHERE "_IS_CURRENT"'
    )


def test_the_batch_key_range_bounds_the_target_except_for_a_replacing_batch():
    bounded = history.merge(PLACE, SPEC, manifest(), "ANALYTICS", AT, False, None, (5, 900)).text
    assert 'AND t."_IS_CURRENT" AND t."ORDER_ID" BETWEEN 5 AND 900 WHEN' in bounded
    assert bounded.count('c."ORDER_ID" BETWEEN 5 AND 900') == 2  # each copy of the changed rows
    assert bounded.count('WHERE TRUE AND "ORDER_ID" BETWEEN 5 AND 900 GROUP BY') == 2
    replacing = history.merge(PLACE, SPEC, manifest(), "ANALYTICS", AT, True, None, (5, 900)).text
    assert "BETWEEN 5 AND 900" not in replacing  # a gone key may lie outside the batch's range
