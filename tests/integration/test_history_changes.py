"""Changing a loaded history table from sync.toml (docs/CUSTOMIZATION.md "History", "Changing a history
table"): a rename of a loaded column, another primary key, or a watermark column the table lacks is
refused as the cycle applies sync.toml, before anything is saved (ConfigError tables[i].<option>, the
versions, watermark and manifests as they were); with a new target the table restarts into a new history
table; a watermark column the table has restarts it without a duplicate version. A history table keyed
by columns named F and T keeps its versions (the MERGE's own columns have reserved names)."""

from __future__ import annotations

import pytest

from aurora_sync.config import ConfigError
from tests.integration.test_history import _last_run, _ok, at, versions

pytestmark = pytest.mark.integration


def _refused(h, option: str) -> str:
    with pytest.raises(ConfigError) as refused:
        h.cycle()
    assert refused.value.key == f"tables[0].{option}", refused.value
    assert "Nothing was saved: give the table a new target at the same time" in refused.value.reason
    return refused.value.reason


def _statuses(h, table: str) -> list[str]:
    rows = h.query(f"SELECT DISTINCT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table)
    return sorted(r[0] for r in rows)


def test_a_rename_or_another_key_of_a_loaded_history_table_is_refused_until_it_gets_a_new_target(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.hist_rn (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.executemany("INSERT INTO public.hist_rn VALUES (%s, %s, %s)", [(1, "a", at(1)), (2, "b", at(1))])
    h = harness.add("public.hist_rn", ["id"], "updated_at", history="true")
    _ok(h.cycle())
    cur.execute("UPDATE public.hist_rn SET v = 'b2', updated_at = %s WHERE id = 2", (at(2),))
    _ok(h.cycle())
    loaded = versions(h, "HIST_RN")
    watermark = h.watermark("hist_rn")
    cur.execute("UPDATE public.hist_rn SET v = 'a3', updated_at = %s WHERE id = 1", (at(3),))

    for option, extra in (
        ("rename", {"rename": '{ v = "VALUE" }'}),  # a loaded column
        ("rename", {"rename": '{ id = "CLIENT_ID" }'}),  # the key
        ("rename", {"rename": '{ updated_at = "CHANGED_AT" }'}),  # the watermark
        ("primary_key", {}),
    ):
        h.tables = []
        h.add(
            "public.hist_rn", ["id", "v"] if option == "primary_key" else ["id"], "updated_at", history="true", **extra
        )
        why = _refused(h, option)
        assert "public.hist_rn" in why and "PUBLIC.HIST_RN" in why
        # nothing saved: not restarted, nothing merged, every version as it was
        assert versions(h, "HIST_RN") == loaded
        assert h.watermark("hist_rn") == watermark
        assert _statuses(h, "hist_rn") == ["LOADED"]
    assert "(v: V -> VALUE)" in _refused_with(h, '{ v = "VALUE" }')

    # the same rename with a new target: the table restarts into a new history table; the old one stays
    h.tables = []
    h.add(
        "public.hist_rn", ["id"], "updated_at", history="true", rename='{ v = "VALUE" }', target='"PUBLIC.HIST_RN_V2"'
    )
    _ok(h.cycle())
    assert versions(h, "HIST_RN") == loaded
    rows = h.query(
        'SELECT "ID", "VALUE", "_VALID_FROM", "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."HIST_RN_V2" ORDER BY "ID"'
    )
    assert [(r[0], r[1], r[3]) for r in rows] == [(1, "a3", True), (2, "b2", True)]
    assert h.watermark("hist_rn") is not None and h.watermark("hist_rn") > watermark
    view = h.query('SELECT "ID", "VALUE" FROM "ANALYTICS"."PUBLIC"."HIST_RN_V2_CURRENT" ORDER BY "ID"')
    assert [tuple(r) for r in view] == [(1, "a3"), (2, "b2")]


def _refused_with(h, rename: str) -> str:
    h.tables = []
    h.add("public.hist_rn", ["id"], "updated_at", history="true", rename=rename)
    return _refused(h, "rename")


def test_a_watermark_the_history_table_has_restarts_it_and_one_it_lacks_is_refused(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.hist_wm (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL, "
        "changed_at timestamptz NOT NULL)"
    )
    cur.executemany(
        "INSERT INTO public.hist_wm VALUES (%s, %s, %s, %s)", [(1, "a", at(1), at(1)), (2, "b", at(1), at(1))]
    )
    h = harness.add("public.hist_wm", ["id"], "updated_at", history="true")
    _ok(h.cycle())
    loaded = versions(h, "HIST_WM")

    # a column added in the source and made the watermark at once: the history table lacks it
    cur.execute("ALTER TABLE public.hist_wm ADD COLUMN touched_at timestamptz NOT NULL DEFAULT '2026-01-01'")
    h.tables = []
    h.add("public.hist_wm", ["id"], "touched_at", history="true")
    why = _refused(h, "watermark_column")
    assert "has no column TOUCHED_AT" in why
    assert versions(h, "HIST_WM") == loaded and _statuses(h, "hist_wm") == ["LOADED"]
    cur.execute("ALTER TABLE public.hist_wm DROP COLUMN touched_at")

    # a watermark column the table has: accepted; the restart's export from the beginning adds no version
    h.tables = []
    h.add("public.hist_wm", ["id"], "changed_at", history="true")
    _ok(h.cycle())
    assert versions(h, "HIST_WM") == loaded
    assert _last_run(h, "hist_wm")[:3] == ("SUCCEEDED", 0, 0)
    # later versions are valid from the new watermark
    cur.execute("UPDATE public.hist_wm SET v = 'b2', changed_at = %s WHERE id = 2", (at(4),))
    _ok(h.cycle())
    assert versions(h, "HIST_WM") == [
        (1, "a", at(1), None, True),
        (2, "b", at(1), at(4), False),
        (2, "b2", at(4), None, True),
    ]


def test_a_history_table_keyed_by_columns_named_f_and_t(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.hist_ft (f int, t int, v text, updated_at timestamptz NOT NULL, PRIMARY KEY (f, t))"
    )
    cur.executemany(
        "INSERT INTO public.hist_ft VALUES (%s, %s, %s, %s)",
        [(1, 1, "a", at(1)), (1, 2, "b", at(1)), (2, 1, "c", at(1))],
    )
    h = harness.add(
        "public.hist_ft",
        ["f", "t"],
        "updated_at",
        history="true",
        delete_detection="'delete'",
        keys_interval_hours="0",
        max_delete_fraction="0.5",
    )
    _ok(h.cycle())
    cur.execute("UPDATE public.hist_ft SET v = 'b2', updated_at = %s WHERE f = 1 AND t = 2", (at(2),))
    _ok(h.cycle())
    cur.execute("UPDATE public.hist_ft SET v = 'b3', updated_at = %s WHERE f = 1 AND t = 2", (at(3),))
    cur.execute("DELETE FROM public.hist_ft WHERE f = 2")
    _ok(h.cycle())
    rows = h.query(
        'SELECT "F", "T", "V", "_VALID_FROM", "_VALID_TO" IS NULL, "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."HIST_FT" '
        'ORDER BY "F", "T", "_VALID_FROM"'
    )
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        (1, 1, "a", True, True),
        (1, 2, "b", False, False),
        (1, 2, "b2", False, False),
        (1, 2, "b3", True, True),
        (2, 1, "c", False, False),
    ]
    # a key comes back: it opens a version after its closed one (the aggregate's newest valid-to)
    cur.execute("INSERT INTO public.hist_ft VALUES (2, 1, 'c2', %s)", (at(4),))
    _ok(h.cycle())
    back = h.query(
        'SELECT "V", "_VALID_FROM", "_VALID_TO", "_IS_CURRENT" FROM "ANALYTICS"."PUBLIC"."HIST_FT" WHERE "F" = 2 '
        'ORDER BY "_VALID_FROM"'
    )
    assert [(r[0], r[3]) for r in back] == [("c", False), ("c2", True)]
    assert back[1][1] == back[0][2]  # from the close, never before it
