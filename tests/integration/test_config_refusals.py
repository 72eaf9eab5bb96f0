"""A batch the table's configuration refuses (loading.errors.ConfigRefused) is not the export's fault: it
stays FAILED without using up attempts, fails the table every run naming the key, and the first run after
the fix loads it (never QUARANTINED, never a RETRY_MANIFEST needed). A truly quarantined export names both
ways to retry it, and `aurora-sync retry` is the local one."""

from __future__ import annotations

import pytest

from stored_procs import ledger
from tests.integration.test_app_procedures import app, call  # noqa: F401  (app: a fixture)
from tests.integration.test_cli import _cli  # the CLI as a user runs it

pytestmark = pytest.mark.integration


def _manifests(h, table: str) -> list[tuple]:
    rows = h.query(
        f"SELECT STATUS, ATTEMPTS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? AND MODE <> 'keys'",
        table,
    )
    return [tuple(r) for r in rows]


CASES = {
    "transform": (
        {"transform": '{ NOTE = "LOWER(NOTE_TEXT)" }'},
        {"transform": '{ NOTE = "LOWER(NOTE)" }'},
        "transform.NOTE: does not compile",
    ),
    "lossy_override": (
        {"type_overrides": '{ amount = "NUMBER(5,2)" }'},
        {"type_overrides": '{ amount = "NUMBER(5,2)" }', "allow_lossy": "true"},
        "type_overrides.amount: NUMBER(5,2) cannot hold every numeric(12,2) value",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_batch_refused_by_configuration_fails_every_run_without_using_attempts_and_loads_once_fixed(
    pg, harness, case
):
    broken, fixed, message = CASES[case]
    table = f"cfg_refused_{case}"
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, note text, amount numeric(12,2), v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'Note ' || g, g * 1.25, g FROM generate_series(1, 5) g")
    h = harness.add(f"public.{table}", ["id"], "v", late_row_guard="false", **broken)
    for _ in range(ledger.MAX_ATTEMPTS + 1):  # more runs than an export's attempts
        (t,) = h.cycle().tables
        assert t.load["status"] == "FAILED" and message in t.load["error"], t.load
        assert "QUARANTINED" not in t.load["error"]
        ((status, attempts, error),) = _manifests(h, table)
        assert (status, attempts) == ("FAILED", 0) and message in error
        assert h.watermark(table) is None

    h.tables[0] = h.tables[0].replace("\n".join(f"{k} = {v}" for k, v in broken.items()), "")
    h.tables[0] += "\n".join(f"{k} = {v}" for k, v in fixed.items()) + "\n"
    h._config = None
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"], t.load["error"]) == ("SUCCEEDED", 5, None), t.load
    assert [s for s, _, _ in _manifests(h, table)] == ["LOADED"]
    assert h.watermark(table) == "5"
    rows = h.query(f'SELECT "ID", "NOTE", "AMOUNT" FROM "ANALYTICS"."PUBLIC"."{table.upper()}" ORDER BY 1')
    note = (lambda i: f"note {i}") if case == "transform" else (lambda i: f"Note {i}")
    assert [(r[0], r[1], float(r[2])) for r in rows] == [(i, note(i), i * 1.25) for i in range(1, 6)]


def test_a_quarantined_export_names_both_retries_and_aurora_sync_retry_sets_it_new(pg, harness, tmp_path):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.cfg_dups (k int NOT NULL, line int NOT NULL, updated_at int NOT NULL)")
    cur.execute("INSERT INTO public.cfg_dups SELECT k, l, k FROM generate_series(1, 3) k, generate_series(1, 2) l")
    config = tmp_path / "sync.toml"
    h = harness.add("public.cfg_dups", ["k"], "updated_at", late_row_guard="false")
    config.write_text(h.toml)
    assert _cli("run", "--config", str(config)).returncode == 1  # the key is not unique: QUARANTINED at once
    ((status, _, error),) = _manifests(h, "cfg_dups")
    assert status == "QUARANTINED", error
    (export_id,) = [
        r[0] for r in h.query(f"SELECT EXPORT_ID FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'cfg_dups'")
    ]

    (t,) = h.cycle().tables
    said = t.load["error"]
    assert f"waits on 1 QUARANTINED export(s), the first {export_id}:" in said
    assert "the watermark stays at none: fix the cause, then retry it" in said and "None" not in said
    assert f"CALL CORE.RETRY_MANIFEST('{export_id}')" in said
    assert f"aurora-sync retry {export_id} --config sync.toml" in said
    assert f"aurora-sync discard {export_id} --reason" in said

    unknown = _cli("retry", "nope-123", "--config", str(config))
    assert unknown.returncode == 2 and "no FAILED or QUARANTINED manifest has export id 'nope-123'" in unknown.stdout
    done = _cli("retry", export_id, "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"export {export_id}: NEW again; the next `aurora-sync run` loads it" in " ".join(done.stdout.split())
    assert _manifests(h, "cfg_dups") == [("NEW", 0, None)]
    (t,) = h.cycle(export=False).tables  # tried again: the same rows, the same refusal
    assert "the primary key (k) is not unique in the source" in t.load["error"], t.load
    assert [s for s, _, _ in _manifests(h, "cfg_dups")] == ["QUARANTINED"]


def _table(pg, table: str) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, note text, amount numeric(12,2), v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'Note ' || g, g * 1.25, g FROM generate_series(1, 3) g")


def _fails(h, *expected: str) -> str:
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED", t.load
    for text in expected:
        assert text in t.load["error"], t.load["error"]
    ((status, attempts, error),) = [m for m in _manifests(h, h.config.tables[0].source_table) if m[0] != "SUPERSEDED"]
    assert (status, attempts) == ("FAILED", 0) and expected[0] in error
    return str(t.load["error"])


def test_a_rename_typo_is_named_before_the_transform_over_its_target_and_column_errors_suggest_a_name(pg, harness):
    _table(pg, "cfg_names")
    h = harness.add(
        "public.cfg_names",
        ["id"],
        "v",
        late_row_guard="false",
        rename='{ notee = "NOTE_TEXT" }',
        transform='{ NOTE_TEXT = "LOWER(NOTE_TEXT)" }',
    )
    said = _fails(
        h,
        "rename.notee of public.cfg_names: renames column 'notee', which the table does not have "
        "(did you mean 'note'?)",
    )
    assert "transform." not in said  # the rename is the cause: the transform's target depends on it

    h.tables[0] = (
        h.tables[0].replace('notee = "NOTE_TEXT"', 'note = "NOTE_TEXT"').replace('LOWER(NOTE_TEXT)"', 'LOWER(note)"')
    )
    h._config = None  # the transform names the source column: the hint gives its target name
    _fails(h, "transform.NOTE_TEXT: does not compile:", "; transforms name target columns: note is NOTE_TEXT")

    h.tables[0] = h.tables[0].replace("NOTE_TEXT = ", "NOTE_TXT = ")
    h._config = None
    _fails(h, "transform.NOTE_TXT: the row has no column 'NOTE_TXT' (did you mean 'NOTE_TEXT'?)")

    h.tables[0] = h.tables[0].replace("NOTE_TXT = ", "NOTE_TEXT = ") + 'type_overrides = { amout = "NUMBER(20,2)" }\n'
    h._config = None
    _fails(h, "type_overrides.amout: the export of public.cfg_names has no column 'amout' (did you mean 'amount'?)")

    h.tables[0] = h.tables[0].replace("LOWER(note)", "LOWER(NOTE_TEXT)").replace("amout =", "amount =")
    h._config = None
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"]) == ("SUCCEEDED", 3), t.load
    rows = h.query('SELECT "ID", "NOTE_TEXT", "AMOUNT" FROM "ANALYTICS"."PUBLIC"."CFG_NAMES" ORDER BY 1')
    assert [(r[0], r[1], float(r[2])) for r in rows] == [(i, f"note {i}", i * 1.25) for i in (1, 2, 3)]
    assert h.watermark("cfg_names") == "3"


def test_a_schema_map_key_matching_a_table_only_by_case_is_refused_naming_the_schema(harness, tmp_path):
    config = tmp_path / "sync.toml"
    h = harness.add("public.cfg_map", ["id"], "v")
    h.tables.append('[target]\nschema_map = { PUBLIC = "RAW" }\n')
    config.write_text(h.toml)
    result = _cli("run", "--config", str(config))
    said = " ".join(result.stdout.split())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "target.schema_map.PUBLIC: no configured table is in source schema 'PUBLIC'; did you mean public?" in said
    h.tables[-1] = '[target]\nschema_map = { public = "RAW" }\n'
    h._config = None
    assert [t.target_schema for t in h.config.tables] == ["RAW"]


def test_set_schema_map_warns_of_a_key_matching_a_configured_schema_only_by_case(pg, app, stack):  # noqa: F811
    from tests.integration.test_rename_app import _registered

    pg.cursor().execute("CREATE TABLE public.cfg_map_app (id int PRIMARY KEY, v int NOT NULL)")
    _registered(app, stack)
    call(app, "ADD_TABLE", "public.cfg_map_app", ["id"], "v", "incremental", None, None, None)
    said = call(app, "SET_SCHEMA_MAP", {"PUBLIC": "RAW", "shop": "RAW_SHOP"})
    assert said["schema_map"] == {"PUBLIC": "RAW", "shop": "RAW_SHOP"}  # stored: tables of PUBLIC may come later
    assert said["warning"] == (
        "schema_map key 'PUBLIC' matches no configured table's source schema; did you mean 'public'? (keys are "
        "source schemas exactly as PostgreSQL names them)"
    )
    assert "warning" not in call(app, "SET_SCHEMA_MAP", {"public": "RAW"})
