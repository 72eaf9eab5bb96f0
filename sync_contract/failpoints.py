"""Failpoints: named places in a cycle where a test stops the process as a crash would.

With AURORA_SYNC_FAILPOINT=<name> the process exits at once (`os._exit`: no cleanup, no `finally`, no
lease released) when it reaches <name>. Unset, which it always is in production and inside Snowflake,
`reached` does nothing. docs/CORRECTNESS.md lists the points and the tests that kill at each.

With AURORA_SYNC_FAILPOINT_PAUSE=<file> as well, the process instead writes <name> to <file> and waits
there, for a test to interrupt it as a person would (Ctrl-C: SIGINT), between two statements.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "AURORA_SYNC_FAILPOINT"
PAUSE_ENV = "AURORA_SYNC_FAILPOINT_PAUSE"
PAUSE_S = 300  # then exit as a crash would: a test that never interrupts still ends
EXIT_CODE = 77
POINTS = (
    "export:after_data_files",  # data files written, manifest not yet
    "export:after_manifest",  # manifest written, not taken in yet
    "intake:after_copy",  # manifests copied into the inbox, not yet in the ledger
    "load:after_copy",  # batch staged and counted, not merged
    "load:after_shadow",  # a replacing batch checked in the shadow table (or its difference counted), not applied
    "load:after_merge",  # merged (or swapped), the ledger not updated
    "load:after_ledger",  # ledger says LOADED, the watermark not advanced
)


def reached(name: str) -> None:
    if os.environ.get(ENV) == name:
        if pause := os.environ.get(PAUSE_ENV):
            Path(pause).write_text(name)
            time.sleep(PAUSE_S)
        os._exit(EXIT_CODE)
