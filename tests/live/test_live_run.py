"""Against real endpoints: set AURORA_SYNC_LIVE_CONFIG to a sync.toml naming a real PostgreSQL, S3 bucket
and Snowflake account (with a stage on a storage integration). Skipped when it is not set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = os.environ.get("AURORA_SYNC_LIVE_CONFIG")
pytestmark = pytest.mark.skipif(not CONFIG, reason="AURORA_SYNC_LIVE_CONFIG is not set: no real accounts")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", *args], capture_output=True, text=True, timeout=3600, check=False
    )


def test_a_real_cycle_then_a_clean_reconciliation() -> None:
    assert CONFIG is not None
    assert Path(CONFIG).exists(), f"{CONFIG} does not exist"
    run = _cli("run", "--config", CONFIG)
    assert run.returncode == 0, run.stdout + run.stderr
    again = _cli("run", "--config", CONFIG)
    assert again.returncode == 0, again.stdout + again.stderr
    reconciled = _cli("reconcile", "--config", CONFIG)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
