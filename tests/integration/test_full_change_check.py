"""Full mode's change check at the source: a table whose counters did not move is not read at all; every
way a table changes without moving them (TRUNCATE, a reset of the counters, track_counts off) still
brings the fingerprint, and the change."""

from __future__ import annotations

import pytest

from benchmarks.full_mode import flush_counts, no_change_rows_read, rows_read

pytestmark = pytest.mark.integration


def _values(h, table: str) -> list[tuple]:
    return sorted(tuple(r) for r in h.query(f'SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'))


def _manifests(h, table: str) -> int:
    return int(h.query(f"SELECT COUNT(*) AS N FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table)[0][0])


def _fingerprint(cur, table: str) -> str:
    from lambda_exporter.query import snapshot_fingerprint

    stmt = snapshot_fingerprint("public", table)
    cur.execute(stmt.text, stmt.params)
    return cur.fetchone()[0]


def _table(pg, harness, name: str, rows: int):
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v text)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, 'v' || g FROM generate_series(1, {rows}) g")
    flush_counts(cur)
    h = harness.add(f"public.{name}", ["id"])
    return cur, h


def _cycle_reads(h, pg_dsn: str, table: str) -> int:
    """Source rows of `table` read by one cycle; the cycle's report in h.last_report."""

    def cycle() -> None:
        h.last_report = h.cycle()

    return no_change_rows_read(pg_dsn, "public", table, cycle)


def test_a_full_table_with_no_change_reads_no_source_row_and_loads_nothing(pg, harness, endpoints):
    cur, h = _table(pg, harness, "fc_idle", 500)
    first = _cycle_reads(h, endpoints.pg_dsn, "fc_idle")
    assert first >= 500, "the first cycle fingerprints and exports every row: the measurement must see them"
    assert len(_values(h, "fc_idle")) == 500 and _manifests(h, "fc_idle") == 1
    fingerprint = h.watermark("fc_idle")
    assert fingerprint == _fingerprint(cur, "fc_idle")

    assert _cycle_reads(h, endpoints.pg_dsn, "fc_idle") == 0
    assert _manifests(h, "fc_idle") == 1 and h.watermark("fc_idle") == fingerprint
    (t,) = h.last_report.tables
    assert t.export is not None and t.export["status"] == "no_change" and not t.failed
    assert len(_values(h, "fc_idle")) == 500

    cur.execute("UPDATE public.fc_idle SET v = 'changed' WHERE id = 7")
    flush_counts(cur)
    assert _cycle_reads(h, endpoints.pg_dsn, "fc_idle") >= 500
    assert (7, "changed") in _values(h, "fc_idle")
    assert h.watermark("fc_idle") == _fingerprint(cur, "fc_idle") != fingerprint

    # an UPDATE that writes the same values moves the counters but not the fingerprint: one fingerprint,
    # no export, and the cycle after it reads nothing again
    cur.execute("UPDATE public.fc_idle SET v = v WHERE id = 8")
    flush_counts(cur)
    manifests = _manifests(h, "fc_idle")
    assert _cycle_reads(h, endpoints.pg_dsn, "fc_idle") >= 500
    assert _manifests(h, "fc_idle") == manifests
    assert _cycle_reads(h, endpoints.pg_dsn, "fc_idle") == 0


def test_truncate_counts_no_delete_but_is_seen_and_so_is_the_reinsert(pg, harness, endpoints):
    cur, h = _table(pg, harness, "fc_trunc", 30)
    h.cycle()
    cur.execute("TRUNCATE public.fc_trunc")  # no n_tup_del: its new relfilenode tells
    flush_counts(cur)
    h.cycle()
    assert _values(h, "fc_trunc") == []
    assert h.watermark("fc_trunc") == _fingerprint(cur, "fc_trunc")

    cur.execute("INSERT INTO public.fc_trunc SELECT g, 'w' || g FROM generate_series(1, 30) g")
    flush_counts(cur)
    h.cycle()
    assert _values(h, "fc_trunc") == sorted((g, f"w{g}") for g in range(1, 31))
    assert _cycle_reads(h, endpoints.pg_dsn, "fc_trunc") == 0


def test_a_reset_of_the_table_counters_falls_back_to_the_fingerprint(pg, harness, endpoints):
    cur, h = _table(pg, harness, "fc_reset", 40)
    h.cycle()
    cur.execute("DELETE FROM public.fc_reset")
    flush_counts(cur)
    cur.execute("SELECT pg_stat_reset_single_table_counters('public.fc_reset'::regclass)")
    cur.execute("INSERT INTO public.fc_reset SELECT g, 'new' || g FROM generate_series(1, 40) g")
    flush_counts(cur)
    cur.execute(
        "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_all_tables WHERE relid = 'public.fc_reset'::regclass"
    )
    assert cur.fetchone() == (40, 0, 0), "the counters alone read as they did at the last fingerprint"

    before = rows_read(endpoints.pg_dsn, "public", "fc_reset")
    h.cycle()
    assert rows_read(endpoints.pg_dsn, "public", "fc_reset") - before >= 40
    assert _values(h, "fc_reset") == sorted((g, f"new{g}") for g in range(1, 41))
    assert h.watermark("fc_reset") == _fingerprint(cur, "fc_reset")


def test_with_track_counts_off_every_cycle_fingerprints(pg, harness):
    cur, h = _table(pg, harness, "fc_untracked", 20)
    h.cycle()
    cur.execute("ALTER SYSTEM SET track_counts = off")
    cur.execute("SELECT pg_reload_conf()")
    try:
        cur.execute("SET track_counts = off")  # this session too, at once: its UPDATE is counted nowhere
        cur.execute("UPDATE public.fc_untracked SET v = 'unseen by the counters' WHERE id = 3")
        h.cycle()
        assert (3, "unseen by the counters") in _values(h, "fc_untracked")
        assert h.watermark("fc_untracked") == _fingerprint(cur, "fc_untracked")
    finally:
        cur.execute("ALTER SYSTEM RESET track_counts")
        cur.execute("SELECT pg_reload_conf()")
        cur.execute("RESET track_counts")
