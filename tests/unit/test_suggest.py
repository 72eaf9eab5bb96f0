"""stored_procs.configuration.suggest: the hints of column-name errors (rename, transform, type_overrides)."""

from __future__ import annotations

from stored_procs.configuration.suggest import did_you_mean, source_names_in


def test_did_you_mean_names_the_closest_column_or_nothing():
    assert did_you_mean("notee", ["id", "note", "amount"]) == " (did you mean 'note'?)"
    assert did_you_mean("Note", ["id", "note"]) == " (did you mean 'note'? names are case-sensitive)"
    assert did_you_mean("NOTE_TXT", ["ID", "NOTE_TEXT"]) == " (did you mean 'NOTE_TEXT'?)"
    assert did_you_mean("zzz", ["id", "note"]) == ""


def test_source_names_in_names_a_renamed_column_written_by_its_source_name():
    rename = {"note": "NOTE_TEXT", "id": "ID"}  # id's rename is its default name: no hint
    assert source_names_in("LOWER(note)", rename) == "; transforms name target columns: note is NOTE_TEXT"
    assert source_names_in('LOWER("NOTE")', rename) == "; transforms name target columns: note is NOTE_TEXT"
    assert source_names_in("LOWER(NOTE_TEXT)", rename) == ""
    assert source_names_in("'note' || id", rename) == ""  # in a string, not a column
    assert source_names_in("COALESCE(note, NOTE_TEXT)", rename) == ""  # the target is named too: another error
