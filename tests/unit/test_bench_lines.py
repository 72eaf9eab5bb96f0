"""`make bench`'s six stdout lines (benchmarks.lines) and the connector-level statement counter
(benchmarks.statements), without the embedded stack."""

import pytest
from snowflake.connector.cursor import SnowflakeCursor

from benchmarks import lines
from benchmarks.statements import counted_statements


def six() -> list[str]:
    return [
        lines.no_change_statements(6),
        lines.change_statements(20),
        lines.full_mode_rows(0),
        lines.fan_out(3, 812345.4),
        lines.copy_ratio(psql_s=9.5, export_s=10.0),
        lines.end_to_end(1.234, 0.5, 10.0),
    ]


def test_the_six_lines_in_their_exact_shape() -> None:
    assert lines.check(six()) == [
        "no-change cycle: 6 statements",
        "1% change cycle: 20 statements",
        "full-mode no-change cycle: 0 source rows read",
        "fan-out export: 3 invocations, 812345 rows/s",
        "copy export vs psql \\copy: 0.95x",
        "end-to-end vs dlt: initial 1.23x, 1% change 0.50x, no change 10.00x",
    ]


def test_check_refuses_a_missing_extra_or_misplaced_line() -> None:
    with pytest.raises(ValueError, match="expected 6 benchmark lines, got 7"):
        lines.check([*six(), "rows: 1000"])
    with pytest.raises(ValueError, match="expected 6 benchmark lines, got 5"):
        lines.check(six()[:5])
    swapped = six()
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(ValueError, match="benchmark line 1 does not match"):
        lines.check(swapped)
    with pytest.raises(ValueError, match="benchmark line 5 does not match"):
        lines.check([*six()[:4], "copy export vs psql \\copy: 0.9x", six()[5]])


def test_statements_are_counted_once_each_at_the_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []

    def execute(self: object, command: str, *args: object, **kwargs: object) -> None:
        sent.append(command)  # the driver boundary: what would go to Snowflake

    def executemany(self: object, command: str, seqparams: list[object], **kwargs: object) -> None:
        for _ in seqparams:  # as the connector does for a statement it cannot bind in bulk
            SnowflakeCursor.execute(self, command)  # type: ignore[arg-type]

    monkeypatch.setattr(SnowflakeCursor, "execute", execute)
    monkeypatch.setattr(SnowflakeCursor, "executemany", executemany)
    cursor = object.__new__(SnowflakeCursor)
    timings: list[float] = []
    with counted_statements(timings) as statements:
        cursor.execute("SELECT\n  1")
        cursor.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])
        with pytest.raises(RuntimeError, match="already active"), counted_statements():
            pass
    cursor.execute("SELECT 2")  # after the block: not counted
    assert statements == ["SELECT 1", "INSERT INTO t VALUES (?)"]
    assert len(timings) == 2 and all(t >= 0 for t in timings)
    assert len(sent) == 5
    assert SnowflakeCursor.execute is execute  # the connector is restored
