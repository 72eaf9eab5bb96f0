"""A signed manifest against the table's configuration (manifest_checks.misfit) and the staged-window
check's rule for a `window.high` the target type cannot hold (staged_window._unholdable_top)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stored_procs.loading import manifest_checks, staged_window
from stored_procs.spec import TableSpec
from sync_contract.manifest import Window
from sync_contract.types import Kind
from tests.factories import manifest

SPEC = TableSpec("public", "orders", ("order_id",), watermark_column="updated_at")


def _keyed(*names: str) -> Any:
    """The factory's manifest keyed by `names` (its columns' primary_key_position)."""
    m = manifest()
    position = {n: i for i, n in enumerate(names, 1)}
    return dataclasses.replace(
        m, columns=tuple(dataclasses.replace(c, primary_key_position=position.get(c.name)) for c in m.columns)
    )


def test_the_tables_own_export_fits():
    m = manifest()
    assert m.primary_key == ["order_id"] and m.window.column == "updated_at"
    assert manifest_checks.misfit(m, SPEC) is None
    keys = dataclasses.replace(m, mode="keys")
    assert manifest_checks.misfit(keys, dataclasses.replace(SPEC, delete_detection="delete")) is None
    full_spec = dataclasses.replace(SPEC, mode="full", watermark_column=None)
    snapshot = dataclasses.replace(m, mode="full", window=Window(None, None, "3:ab", "snapshot_fingerprint"))
    assert manifest_checks.misfit(snapshot, full_spec) is None


def test_a_composite_key_in_another_order_fits():
    m = _keyed("updated_at", "order_id")
    assert manifest_checks.misfit(m, dataclasses.replace(SPEC, primary_key=("order_id", "updated_at"))) is None


@pytest.mark.parametrize(
    ("change", "spec_change", "says"),
    [
        (
            {},
            {"primary_key": ("order_id", "amount")},
            "is keyed by (order_id), but the table's configured primary_key is (order_id, amount)",
        ),
        (None, {}, "is keyed by (order_id, updated_at), but the table's configured primary_key is (order_id)"),
        ({"mode": "full"}, {}, "is a 'full' export, but the table is configured as 'incremental'"),
        ({"mode": "keys"}, {}, "delete detection is off for the table"),
        ({"mode": "incremental"}, {"mode": "full", "watermark_column": None}, "configured as 'full'"),
        ({"window": Window("order_id", None, "5", "max_watermark")}, {}, "is windowed on 'order_id'"),
    ],
)
def test_another_key_mode_or_window_column_is_refused_naming_both(change, spec_change, says):
    m = _keyed("order_id", "updated_at") if change is None else dataclasses.replace(manifest(), **change)
    why = manifest_checks.misfit(m, dataclasses.replace(SPEC, **spec_change))
    assert why is not None and says in why and "DISCARD_MANIFEST" in why


BIG = "123456789012345678901234567890.5"


@pytest.mark.parametrize(
    ("kind", "staged", "held", "exact", "accepted"),
    [
        (Kind.NUMBER, "1.000000000000000000", False, 1, True),  # the top row cannot be held: set aside later
        (Kind.NUMBER, None, False, 1, True),  # no row converts at all
        (Kind.NUMBER, "1.0", True, 1, False),  # a high the type holds: only MAX(v) = high counts
        (Kind.NUMBER, "1.0", False, 0, False),  # no staged row carries the high
        (Kind.NUMBER, "1" + "0" * 40, False, 1, False),  # a holdable value above it (cannot happen: compared anyway)
        (Kind.TIMESTAMP_TZ, "2026-01-01 00:00:00+00", False, 1, False),  # only numbers are compared here
    ],
)
def test_an_unholdable_high_needs_a_staged_row_carrying_it_and_nothing_above(kind, staged, held, exact, accepted):
    assert staged_window._unholdable_top(kind, staged, BIG, held, exact) is accepted
