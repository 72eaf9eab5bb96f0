"""What `aurora-sync run` says about how an export went (aurora_sync.report.export_note)."""

import pytest

from aurora_sync.report import export_note

pytestmark = pytest.mark.unit


def test_a_fan_out_names_its_invocations_and_parts() -> None:
    note = export_note({"status": "exported", "invocations": 5, "chunks": 4})
    assert note == "exported through 5 exporter invocations (4 parts: fan-out)"


def test_a_full_table_unchanged_says_how_it_was_found() -> None:
    assert export_note({"status": "no_change", "checked_by": "change token"}) == (
        "full mode: no change by the source's change counters; no row read"
    )
    assert "fingerprinting every row" in str(export_note({"status": "no_change", "checked_by": "fingerprint"}))


def test_an_ordinary_export_gets_no_line() -> None:
    assert export_note({"status": "exported", "invocations": 1, "chunks": 1}) is None
    assert export_note({"status": "exported", "checked_by": "fingerprint"}) is None
    assert export_note(None) is None
