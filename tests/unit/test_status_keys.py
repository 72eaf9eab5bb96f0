"""`status --history` at 80 columns never cuts an S3 key mid-word (aurora_sync.status_report.fit_words):
a key longer than a line is shortened in its middle, "…" marking the cut, its head and tail whole."""

from __future__ import annotations

import pytest

from aurora_sync.status import TableStatus
from aurora_sync.status_report import fit_words, render

pytestmark = pytest.mark.unit

KEY = (
    "s3://exports/aurora-sync/manifests/public/order_items_archive_2026/"
    "exp-20261130T001844-17d3f527-0123456789abcdef0123456789abcdef.manifest.json"
)
ERROR = f"exported manifests not found: {KEY} is not in the stage; check the stage's URL"


@pytest.mark.parametrize("width", [60, 80, 100])
def test_history_wraps_between_words_and_shortens_a_key_in_its_middle(width: int) -> None:
    run = {"run_id": "r1", "started_at": "2026-11-29T23:00:00Z", "finished_at": "2026-11-29T23:01:00Z"}
    row = {**run, "status": "FAILED", "rows_loaded": 0, "rows_quarantined": 0, "duration_s": 0.2}
    table = TableStatus(
        "public.order_items_archive_2026",
        "FAILED",
        last_run_status="FAILED",
        last_run_error=ERROR,
        history=[row | {"watermark": None, "lag_minutes": None, "error": ERROR}],
    )
    text = render([table], width, history=True)
    assert max(len(line) for line in text.splitlines()) <= width, text
    words = set(ERROR.split())
    printed = [w for line in text.splitlines() for w in line.split()]
    cut = [w for w in printed if "…" in w and w.startswith("s3://exports/")]
    assert cut, text  # the key, shortened in its middle (the reason lines are under the table at these widths)
    for word in cut:
        head, tail = word.split("…")
        assert KEY.startswith(head) and KEY.endswith(tail) and len(word) <= width
    # every other word of the error is printed whole: no line breaks inside a word
    in_error = [w for w in printed if "…" not in w and any(w in e for e in words)]
    assert "not" in in_error and "stage's" in in_error and "URL" in in_error
    assert not [w for w in printed if w not in words and "…" not in w and w.startswith(("s3:", "exp-"))]


def test_fit_words_keeps_short_words_and_text() -> None:
    assert fit_words("a b  c", 80) == "a b  c"
    assert fit_words("x" * 100, 10) == "xxxx…xxxxx"
    assert fit_words("x" * 100, 5) == "x" * 100  # too narrow to say anything useful: unchanged
