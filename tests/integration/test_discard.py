"""DISCARD_MANIFEST and `aurora-sync discard` (issue 13, item 1): an export that must never load leaves the
load path for good, recorded in MANIFESTS with the status it had, who, when and why; a LOADED one is
refused; an INBOX document that never reached the ledger (a table not configured, a document copied
before INBOX recorded file names) can be discarded too. Afterwards the table's later exports load and
the watermark is untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.cli import main
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.loading.discard import discard
from stored_procs.loading.intake import invalid_id
from stored_procs.statement import Stmt, run
from sync_contract.manifest import manifest_key
from tests.integration.signed import signed_body
from tests.integration.test_app_procedures import app, call, configure  # noqa: F401  (the app fixture)
from tests.integration.test_manifest_cross_checks import exported, statuses, target, write_manifest

pytestmark = pytest.mark.integration


def _forge_high(h: Any, index: int, table: str) -> str:
    """Table `index`'s export, its manifest overwritten with a far-future window.high: quarantined at load
    (the staged maximum differs), and then the table waits on it. Returns its export id."""
    real = exported(h, index)
    forged = {**real, "window": {**real["window"], "high": "999999"}}
    write_manifest(h, manifest_key("public", table, real["export_id"]), forged)
    return str(real["export_id"])


def _discarded(h: Any, export_id: str) -> tuple[Any, ...]:
    rows = h.query(
        f"SELECT STATUS, DISCARDED_FROM, DISCARDED_BY, DISCARDED_AT, DISCARD_REASON, ERROR "
        f"FROM {h.control('MANIFESTS')} WHERE EXPORT_ID = ?",
        export_id,
    )
    return tuple(rows[0])


def test_the_cli_discards_a_quarantined_export_and_the_table_loads_again(pg, harness, tmp_path: Path, capsys):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.dc_t (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.dc_t SELECT g, g FROM generate_series(1, 3) g")
    cur.execute("CREATE TABLE public.dc_other (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.dc_other SELECT g, g * 10 FROM generate_series(1, 2) g")
    h = harness.add("public.dc_t", ["id"], "v", late_row_guard="false")
    h.add("public.dc_other", ["id"], "v", late_row_guard="false")
    forged = _forge_high(h, 0, "dc_t")
    exported(h, 1)
    report = h.cycle(export=False)
    assert [t.spec.source for t in report.failed] == ["public.dc_t"]  # it waits on the quarantined export
    assert statuses(h)[forged][0] == "QUARANTINED" and h.watermark("dc_t") is None
    config = tmp_path / "sync.toml"
    config.write_text(h.toml)

    assert main(["discard", forged, "--reason", "window.high forged", "--config", str(config)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert f"export {forged} of public.dc_t: DISCARDED (was QUARANTINED)" in said
    status, was, by, at, reason, error = _discarded(h, forged)
    assert (status, was, reason) == ("DISCARDED", "QUARANTINED", "window.high forged")
    assert by and at is not None and "window.high is '999999'" in str(error)  # the history stays

    assert main(["discard", forged, "--reason", "again", "--config", str(config)]) == 2
    assert "is DISCARDED: it is not loaded any more" in " ".join(capsys.readouterr().out.split())
    assert main(["discard", "no-such-export", "--reason", "x", "--config", str(config)]) == 2
    assert "no ledger entry or INBOX document has export id 'no-such-export'" in " ".join(
        capsys.readouterr().out.split()
    )

    # the table no longer waits: its next export loads, from the untouched watermark
    cur.execute("INSERT INTO public.dc_t VALUES (4, 4)")
    report = h.cycle()
    assert not report.failed
    assert (target(h, "dc_t"), h.watermark("dc_t")) == ((4, 10), "4")
    assert (target(h, "dc_other"), h.watermark("dc_other")) == ((2, 30), "20")
    loaded = next(e for e, (s, _) in statuses(h).items() if s == "LOADED" and e != forged)
    assert main(["discard", loaded, "--reason", "x", "--config", str(config)]) == 2
    assert f"export {loaded} is LOADED" in " ".join(capsys.readouterr().out.split())


def test_an_inbox_document_copied_before_file_names_and_waiting_for_its_table_is_discarded(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.di_t (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.di_t SELECT g, g FROM generate_series(1, 3) g")
    h = harness.add("public.di_t", ["id"], "v", late_row_guard="false")
    h.cycle()
    real = exported(h, 0)
    waiting = {
        **real,
        "export_id": "waits-for-table",
        "table": {"schema": "public", "name": "di_not_configured"},
        "files": [],
        "rows": 0,
        "bytes": 0,
    }
    # INBOX as an earlier release left it: no FILE_NAME, a document for a table not configured (any more)
    h.query(f"ALTER TABLE {h.control('INBOX')} DROP COLUMN FILE_NAME")
    h.query(f"UPDATE {h.control('SETTINGS')} SET VALUE = 'earlier' WHERE NAME = 'control_version'")
    h.query(f"INSERT INTO {h.control('INBOX')} (DOC) SELECT PARSE_JSON(?)", signed_body(waiting).decode())
    assert not h.cycle(export=False).failed  # the upgrade adds FILE_NAME; the document waits
    [(file_name,)] = h.query(f"SELECT FILE_NAME FROM {h.control('INBOX')}")
    assert str(file_name).startswith("unrecorded:")
    # and one without an export id, left by an intake that stopped half way
    h.query(
        f"INSERT INTO {h.control('INBOX')} (DOC, FILE_NAME) SELECT PARSE_JSON(?), ?",
        json.dumps({"export_id": None, "note": "no id"}),
        "manifests/x/y.json",
    )
    [no_id_text] = [
        r[0] for r in h.query(f"SELECT DOC FROM {h.control('INBOX')}") if json.loads(r[0])["export_id"] is None
    ]

    with pytest.raises(InvalidSetting, match="say why the export is discarded"):
        discard(h.snow, h.config.place, "waits-for-table", "  ", "test")
    done = discard(h.snow, h.config.place, "waits-for-table", "table dropped for good", "test")
    assert (done["discarded_from"], done["table"]) == ("INBOX", "public.di_not_configured")
    status, was, by, at, reason, _ = _discarded(h, "waits-for-table")
    assert (status, was, reason) == ("DISCARDED", "INBOX", "table dropped for good") and by and at is not None
    no_id = invalid_id(no_id_text)
    assert discard(h.snow, h.config.place, no_id, "stray", "test")["discarded_from"] == "INBOX"
    assert h.query(f"SELECT COUNT(*) FROM {h.control('INBOX')}")[0][0] == 0
    assert _discarded(h, no_id)[:2] == ("DISCARDED", "INBOX")
    assert (target(h, "di_t"), h.watermark("di_t")) == ((3, 6), "3")


def test_the_discard_procedure_records_who_when_why_and_refuses_a_loaded_export(pg, app, stack):  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_disc (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.app_disc SELECT g, TIMESTAMPTZ '2026-04-01 00:00:00+00' + g * INTERVAL '1 s' "
        "FROM generate_series(1, 3) g"
    )
    configure(app, stack, "public.app_disc", "APP_DISC.APP_DISC")
    export_id = call(app, "REQUEST_EXPORTS", "run-d1", True)["tables"]["public.app_disc"]["export_id"]
    call(app, "INTAKE_MANIFESTS")

    with pytest.raises(InvalidSetting, match="no ledger entry or INBOX document has export id 'nope'"):
        call(app, "DISCARD_MANIFEST", "nope", "why")
    answer = call(app, "DISCARD_MANIFEST", export_id, "exported by mistake")
    assert (answer["status"], answer["discarded_from"], answer["table"]) == ("DISCARDED", "NEW", "public.app_disc")
    rows = run(
        app,
        Stmt(
            "SELECT STATUS, DISCARDED_FROM, DISCARDED_BY, DISCARD_REASON FROM STATE.MANIFESTS WHERE EXPORT_ID = ?",
            (export_id,),
        ),
    )
    status, was, by, reason = rows[0]
    assert (status, was, reason) == ("DISCARDED", "NEW", "exported by mistake") and by
    assert not run(app, Stmt("SELECT * FROM CORE.FAILURES WHERE EXPORT_ID = ?", (export_id,)))

    cur.execute("INSERT INTO public.app_disc VALUES (4, TIMESTAMPTZ '2026-04-01 00:00:04+00')")
    again = call(app, "REQUEST_EXPORTS", "run-d2", True)["tables"]["public.app_disc"]["export_id"]
    call(app, "INTAKE_MANIFESTS")
    assert call(app, "LOAD_TABLE", "public", "app_disc", "run-d2")["rows_loaded"] == 4
    assert run(app, Stmt("SELECT WATERMARK FROM STATE.WATERMARKS"))[0][0] == "2026-04-01 00:00:04+00"
    with pytest.raises(InvalidSetting, match=f"export {again} is LOADED: .*RESYNC_TABLE"):
        call(app, "DISCARD_MANIFEST", again, "too late")
