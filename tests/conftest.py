"""Markers follow the folder a test lives in: unit/, integration/, contract/, live/."""

from __future__ import annotations

import pytest

TIERS = ("unit", "integration", "contract", "live")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in TIERS:
            if f"/tests/{tier}/" in str(item.fspath):
                item.add_marker(getattr(pytest.mark, tier))
