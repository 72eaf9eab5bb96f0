"""Bucketed reconciliation (RECONCILE_TABLE's code, the exporter's reconcile action in-process): the two
engines compute equal fingerprints for equal data of every hashed type, and a difference is found and
named key by key."""

from __future__ import annotations

import json

import pytest

from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id

pytestmark = pytest.mark.integration


def _reconcile(h, source: str) -> dict:
    config = h.config
    (spec,) = [t for t in config.tables if t.source == source]
    exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    return reconcile_table(h.snow, config.place, config.database, spec, exporter.reconcile, new_run_id())


@pytest.fixture(params=["rec_typed"])
def typed(request, pg, harness):
    name = f"{request.param}_{request.function.__name__[2:12]}"  # a table of its own per test
    cur = pg.cursor()
    cur.execute(
        f"""CREATE TABLE public.{name} (id bigint PRIMARY KEY, amount numeric(12,2), big numeric, n int,
            label text, code char(5), flag boolean, day date, at timestamp, seen timestamptz, raw bytea,
            uid uuid, span interval, doc jsonb, ratio double precision, price money, tm time, v int NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    cur.execute(
        f"""INSERT INTO public.{name} SELECT g, (g * 1.25)::numeric(12,2), CASE WHEN g % 3 = 0 THEN g / 8.0 END,
             g % 100, CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN '' ELSE 'ü €' || g || E'\\n,"' END,
             'c' || (g % 10), g % 2 = 0, DATE '2000-01-01' + g,
             TIMESTAMP '2020-02-29 23:59:59' + g * interval '0.5 s',
             (TIMESTAMP '2026-03-01 12:34:56.789012' + g * interval '1 min') AT TIME ZONE
               (CASE g % 3 WHEN 0 THEN 'Asia/Kathmandu' WHEN 1 THEN 'America/St_Johns' ELSE 'UTC' END),
             CASE WHEN g % 5 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 8, '0'), 'hex') END,
             md5(g::text)::uuid, g * interval '1 hour 2 minutes', jsonb_build_object('g', g, 'tags', ARRAY['a', NULL]),
             g / 3.0, (g / 4.0)::numeric::money,
             CASE WHEN g % 7 = 0 THEN NULL ELSE TIME '23:59:59.999999' - g * interval '17.000013 s' END, 1
           FROM generate_series(1, 3000) g"""
    )
    h = harness.add(f"public.{name}", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    return h, name


def test_equal_data_gives_equal_fingerprints_for_every_type(typed):
    typed, name = typed
    report = _reconcile(typed, f"public.{name}")
    assert report["status"] == "CLEAN", report
    assert (report["source_rows"], report["target_rows"]) == (3000, 3000)
    assert report["buckets"] == 16 and report["differing_buckets"] == 0  # 3000 rows: one hex digit
    details = report["details"]
    assert details["columns_compared_by_presence"] == ["ratio"]
    assert {"seen", "price", "doc", "tm"} <= set(details["columns_hashed"])
    recorded = typed.query(
        f"SELECT STATUS, SOURCE_ROWS, DIFFERING_BUCKETS FROM {typed.control('RECONCILIATIONS')} WHERE SOURCE_TABLE = ?",
        name,
    )
    assert [tuple(r) for r in recorded] == [("CLEAN", 3000, 0)]


def test_a_changed_a_lost_and_an_extra_row_are_found_key_by_key(typed):
    typed, name = typed
    target = f'"ANALYTICS"."PUBLIC"."{name.upper()}"'
    typed.query(f'UPDATE {target} SET "LABEL" = \'tampered\' WHERE "ID" = 1234')
    typed.query(f'UPDATE {target} SET "AT" = DATEADD(\'microsecond\', 1, "AT") WHERE "ID" = 77')
    typed.query(f"UPDATE {target} SET \"TM\" = TO_TIME('01:02:03.000004', 'HH24:MI:SS.FF9') WHERE \"ID\" = 501")
    typed.query(f'DELETE FROM {target} WHERE "ID" = 2500')
    typed.query(f'INSERT INTO {target} ("ID", "V") SELECT 9999 AS "ID", 1 AS "V"')
    report = _reconcile(typed, f"public.{name}")
    assert report["status"] == "DIFFERENT"
    assert (report["missing"], report["extra"], report["different"]) == (1, 1, 3)
    assert 1 <= report["differing_buckets"] <= 5
    details = report["details"]
    assert details["missing_keys"] == [["2500"]] and details["extra_keys"] == [["9999"]]
    assert sorted(details["different_keys"]) == [["1234"], ["501"], ["77"]]
    (stored,) = typed.query(
        f"SELECT REPORT FROM {typed.control('RECONCILIATIONS')} WHERE STATUS = 'DIFFERENT' AND SOURCE_TABLE = ?", name
    )
    assert json.loads(stored[0])["extra_keys"] == [["9999"]]


def test_composite_text_keys_and_a_soft_deleted_row(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.rec_pairs (region text, code text, qty int, doc jsonb, updated_at timestamptz NOT NULL, "
        "PRIMARY KEY (region, code))"
    )
    cur.execute(  # a document per row: its hash is joined to the row by the composite key's text
        "INSERT INTO public.rec_pairs SELECT 'région-' || (g % 7), 'Code ' || g, g, "
        "jsonb_build_object('g', g, 'in', jsonb_build_array(g % 3, 'x')), now() FROM generate_series(1, 500) g"
    )
    h = harness.add(
        "public.rec_pairs", ["region", "code"], "updated_at", delete_detection='"soft_delete"', keys_interval_hours="0"
    )
    h.cycle()
    assert _reconcile(h, "public.rec_pairs")["status"] == "CLEAN"
    cur.execute("DELETE FROM public.rec_pairs WHERE code = 'Code 42'")
    h.cycle()  # the key set flags the row _DELETED: reconciliation reads live rows only
    report = _reconcile(h, "public.rec_pairs")
    assert report["status"] == "CLEAN" and report["target_rows"] == 499, report
    h.query(
        """UPDATE "ANALYTICS"."PUBLIC"."REC_PAIRS" SET "DOC" = PARSE_JSON('{"in": ["x", 1], "g": 43}')"""
        """ WHERE "CODE" = 'Code 43'"""
    )
    report = _reconcile(h, "public.rec_pairs")  # the source has [1, "x"]: only the array's order changed
    assert (report["status"], report["different"], report["missing"], report["extra"]) == ("DIFFERENT", 1, 0, 0)
    assert report["details"]["different_keys"] == [["région-1", "Code 43"]], report


def test_only_the_replicated_columns_are_compared(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.rec_some (id int PRIMARY KEY, a text, secret text, updated_at timestamptz NOT NULL)"
    )
    cur.execute("INSERT INTO public.rec_some SELECT g, 'a' || g, 'not replicated', now() FROM generate_series(1, 50) g")
    h = harness.add("public.rec_some", ["id"], "updated_at", columns='["id", "a", "updated_at"]')
    h.cycle()
    report = _reconcile(h, "public.rec_some")
    assert report["status"] == "CLEAN", report
    assert "secret" not in report["details"]["columns_hashed"]


DOCUMENTS = [  # (jsonb, json, numeric[], text[]): shapes that load exactly, compared by content
    (
        '{"b": {"y": [1, {"z": "deep"}], "x": {}}, "a": [], "longer key": null}',
        '{"b": 1, "a": 2, "c": {"d": [true]}}',
        "{1.50,-0,100}",
        '{a,"b c",NULL}',
    ),
    ('[{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": []}, [], {}]', "[1, [2, [3, [4]]]]", "{{1,2},{3,4}}", "{}"),
    ('{"ü €": "日本語 ✓", "esc": "quote \\" backslash \\\\ slash / tab \\t nl \\n ctl \\u0001"}', '"x"', None, None),
    ('{"n": [1.50, 1e2, -0, 0.000001, -12.340, 123456789012.5], "t": true, "f": false}', '{"y": -0.0}', "{0.1}", None),
    ("null", "null", None, "{NULL}"),
    ('{"null": null, "empty": "", "zero": 0, "false": false}', "{}", None, None),
    ("7", "[]", None, None),
    ('"text"', '"a\\u00e9 \\/"', None, None),
    # keys that look like paths, an empty key, 40 levels deep, 300 elements
    (
        '{"a.b": 1, "a": {"b": 1}, "[0": [0], "": ""}',
        "[" * 40 + "1" + "]" * 40,
        "{" + ",".join(["2.5"] * 300) + "}",
        None,
    ),
]


@pytest.fixture
def documents(request, pg, harness):
    name = f"rec_docs_{request.function.__name__[7:16]}"  # a table of its own per test
    cur = pg.cursor()
    cur.execute(
        f"CREATE TABLE public.{name} (id int PRIMARY KEY, doc jsonb, raw json, nums numeric[], words text[], "
        "ratios double precision[], updated_at timestamptz NOT NULL DEFAULT now())"
    )
    for i, (doc, raw, nums, words) in enumerate(DOCUMENTS * 50):  # 450 rows: every shape, in every bucket
        ratios = "{0.5,1e-05}" if i % 2 else None
        cur.execute(f"INSERT INTO public.{name} VALUES (%s, %s, %s, %s, %s, %s)", (i, doc, raw, nums, words, ratios))
    cur.execute(f"INSERT INTO public.{name} (id) VALUES (1000)")  # SQL NULL in every column
    h = harness.add(f"public.{name}", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    assert t.load["rows_quarantined"] == 0, t.load
    return h, name, f'"ANALYTICS"."PUBLIC"."{name.upper()}"'


def test_json_jsonb_and_arrays_that_load_exactly_agree_by_content(documents):
    h, name, target = documents
    (loaded,) = h.query(f'SELECT COUNT(*), COUNT("DOC"), COUNT("NUMS") FROM {target}')
    assert tuple(loaded) == (451, 450, 200)
    report = _reconcile(h, f"public.{name}")
    assert report["status"] == "CLEAN", report
    assert report["differing_buckets"] == 0 and report["source_rows"] == 451
    details = report["details"]
    assert {"doc", "raw", "nums", "words"} <= set(details["columns_hashed"])
    assert details["columns_compared_by_presence"] == ["ratios"]  # float arrays: PostgreSQL writes 1e-05


CHANGES = [  # (DOCUMENTS shape the source row has, column, new target value)
    (0, "DOC", """PARSE_JSON('{"amount": 1.2345678901234568E+29}')"""),  # what a rounded load looks like
    (
        3,
        "DOC",
        """PARSE_JSON('{"n": [1.50, 1e2, -0, 0.000001, -12.340, 1.234567890125E+29], "t": true, "f": false}')""",
    ),
    (3, "DOC", """PARSE_JSON('{"n": [1.50, 1e2, -0, 0.000001, -12.340001, 123456789012.5], "t": true, "f": false}')"""),
    (3, "DOC", """PARSE_JSON('{"n": [1.50, 1e2, -0, 0.000001, -12.340, 123456789012.5], "t": "true", "f": false}')"""),
    (0, "DOC", """PARSE_JSON('{"b": {"y": [1, {"Z": "deep"}], "x": {}}, "a": [], "longer key": null}')"""),
    (0, "DOC", """PARSE_JSON('{"b": {"y": [{"z": "deep"}, 1], "x": {}}, "a": [], "longer key": null}')"""),
    (0, "DOC", """PARSE_JSON('{"b": {"y": [1, {"z": "deep"}], "x": []}, "a": [], "longer key": null}')"""),
    (0, "DOC", """PARSE_JSON('{"b": {"y": [1, {"z": "deep"}], "x": {}}, "a": [], "longer key": "null"}')"""),
    (0, "DOC", "PARSE_JSON('null')"),  # JSON null, not SQL NULL
    (0, "DOC", "NULL"),
    (4, "DOC", "NULL"),  # the source holds JSON null: SQL NULL is another value
    (8, "DOC", """PARSE_JSON('{"a.b": 1, "a": {"b": 1}, "[0": [0], "": "", "x": 1}')"""),
    (0, "RAW", """PARSE_JSON('{"b": 1, "a": 2.000001, "c": {"d": [true]}}')"""),
    (0, "RAW", """PARSE_JSON('{"b": 1, "a": 2, "c": {"d": ["true"]}}')"""),
    (8, "RAW", "PARSE_JSON('" + "[" * 39 + "1" + "]" * 39 + "')"),  # one level less
    (0, "NUMS", "ARRAY_CONSTRUCT(1.5, 0, 100.5)"),
    (0, "NUMS", "ARRAY_CONSTRUCT(0, 1.5, 100)"),  # the same numbers in another order
    (0, "WORDS", "ARRAY_CONSTRUCT('a', 'b c')"),
]
CHANGED = {len(DOCUMENTS) * (i + 1) + shape: (column, value) for i, (shape, column, value) in enumerate(CHANGES)}


def test_a_changed_document_is_a_different_key(documents):
    h, name, target = documents
    for key, (column, value) in CHANGED.items():
        h.query(f'UPDATE {target} SET "{column}" = {value} WHERE "ID" = {key}')
    report = _reconcile(h, f"public.{name}")
    assert report["status"] == "DIFFERENT", report
    assert (report["missing"], report["extra"], report["different"]) == (0, 0, len(CHANGED)), report
    assert sorted(report["details"]["different_keys"]) == sorted([str(k)] for k in CHANGED)
    # the exact row-by-row comparison (aurora-sync reconcile --rows) names the same rows and columns
    (spec,) = [t for t in h.config.tables if t.source == f"public.{name}"]
    (exact,) = reconcile(h.snow, h.config.source_dsn, h.config.database, [spec])
    assert exact.error is None and not exact.missing and not exact.extra, exact
    found = {int(key[0]): columns for key, columns in exact.different}
    assert found == {k: [column.lower()] for k, (column, _) in CHANGED.items()}


def test_a_float_key_is_refused_with_the_exact_comparison_named(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.rec_float_key (ratio double precision PRIMARY KEY, updated_at timestamptz NOT NULL)"
    )
    cur.execute("INSERT INTO public.rec_float_key SELECT g / 3.0, now() FROM generate_series(1, 20) g")
    h = harness.add("public.rec_float_key", ["ratio"], "updated_at")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    report = _reconcile(h, "public.rec_float_key")
    assert report["status"] == "FAILED"
    assert "['ratio']" in report["error"] and "aurora-sync reconcile --rows" in report["error"]
    (recorded,) = h.query(
        f"SELECT STATUS, ERROR FROM {h.control('RECONCILIATIONS')} WHERE SOURCE_TABLE = ?", "rec_float_key"
    )
    assert recorded[0] == "FAILED" and "float, json or array" in recorded[1]


def test_the_issue_values_rounded_in_the_target_are_different_keys(pg, harness):
    """Issue 11 item 3: values Snowflake would round. The load sets them aside (QUARANTINE), so the target
    lacks those rows; a target holding them rounded, as an earlier loader left it, differs by content."""
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.rec_rounded (id int PRIMARY KEY, doc jsonb, nums numeric[], "
        "updated_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00')"  # one value: row 3's is copied
    )
    big = "123456789012345678901234567890.123456789"
    cur.execute(
        "INSERT INTO public.rec_rounded (id, doc, nums) VALUES "
        f"""(1, '{{"amount": {big}}}', NULL), (2, NULL, '{{{big}}}'), (3, '{{"amount": 1.25}}', '{{1.25}}')"""
    )
    h = harness.add("public.rec_rounded", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_quarantined"]) == ("SUCCEEDED", 2), t.load
    report = _reconcile(h, "public.rec_rounded")
    assert (report["status"], report["details"]["missing_keys"]) == ("DIFFERENT", [["1"], ["2"]]), report
    target = '"ANALYTICS"."PUBLIC"."REC_ROUNDED"'
    h.query(
        f"""INSERT INTO {target} ("ID", "DOC", "NUMS", "UPDATED_AT") """
        f"""SELECT 1, PARSE_JSON('{{"amount": 1.2345678901234568E+29}}'), NULL, "UPDATED_AT" FROM {target} """
        f"""WHERE "ID" = 3 UNION ALL SELECT 2, NULL, ARRAY_CONSTRUCT(PARSE_JSON('1.2345678901234568E+29')), """
        f""""UPDATED_AT" FROM {target} WHERE "ID" = 3"""
    )
    (loaded,) = h.query(f'SELECT COUNT(*) FROM {target} WHERE "ID" IN (1, 2)')
    assert loaded[0] == 2
    report = _reconcile(h, "public.rec_rounded")
    assert (report["missing"], report["extra"], report["different"]) == (0, 0, 2), report
    assert report["details"]["different_keys"] == [["1"], ["2"]]
    (spec,) = [t for t in h.config.tables if t.source == "public.rec_rounded"]
    (exact,) = reconcile(h.snow, h.config.source_dsn, h.config.database, [spec])  # --rows: the columns
    assert [(key[0], columns) for key, columns in exact.different] == [(1, ["doc"]), (2, ["nums"])]


def test_money_arrays_agree_as_numbers_and_a_changed_element_is_found(pg, harness):
    """money[] travels as numeric[] (numbers, as a money column's values): the source side hashes the same."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.rec_cash (id int PRIMARY KEY, cash money[], updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.rec_cash SELECT g, ARRAY[g * 1.5, 2]::money[], now() FROM generate_series(1, 30) g")
    h = harness.add("public.rec_cash", ["id"], "updated_at")
    assert not h.cycle().failed
    assert _reconcile(h, "public.rec_cash")["status"] == "CLEAN"
    h.query('UPDATE "ANALYTICS"."PUBLIC"."REC_CASH" SET "CASH" = ARRAY_CONSTRUCT(99, 2) WHERE "ID" = 4')
    report = _reconcile(h, "public.rec_cash")
    assert report["status"] == "DIFFERENT" and report["details"]["different_keys"] == [["4"]]
