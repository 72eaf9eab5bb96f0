import dataclasses
import json

import pytest

from sync_contract.errors import ManifestError
from sync_contract.manifest import (
    DataFile,
    export_id,
    manifest_key,
    parse_manifest,
    parse_manifest_json,
)
from tests.factories import manifest


def test_round_trip_through_json():
    m = manifest()
    assert parse_manifest_json(m.to_json()) == m
    assert m.primary_key == ["order_id"]


def test_export_id_is_deterministic_and_depends_on_window_and_chunk():
    a = export_id("public", "orders", "incremental", None, "5")
    assert a == export_id("public", "orders", "incremental", None, "5")
    assert a != export_id("public", "orders", "incremental", None, "6")
    assert a != export_id("public", "orders", "incremental", None, "5", chunk=1)
    assert manifest_key("public", "orders", a).endswith(f"/{a}.json")


def _doc(**changes):
    doc = manifest().to_dict()
    doc.update(changes)
    return doc


def test_unknown_manifest_version_is_rejected_with_the_fix():
    with pytest.raises(ManifestError, match="manifest_version: unknown version 2; this release reads version 1"):
        parse_manifest(_doc(manifest_version=2))


def test_malformed_json_names_the_position():
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_manifest_json('{"manifest_version": 1,')


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"mode": "upsert"}, "mode"),
        ({"rows": -1}, "rows"),
        ({"rows": 6}, "rows"),
        ({"columns": []}, "columns"),
        ({"strategy": "pg_dump"}, "strategy"),
        ({"table": "public.orders"}, "table"),
    ],
)
def test_invalid_fields_are_named(change, path):
    with pytest.raises(ManifestError) as info:
        parse_manifest(_doc(**change))
    assert info.value.path == path


def test_a_file_outside_the_exports_folder_is_rejected():
    m = manifest()
    bad = dataclasses.replace(m, files=(DataFile("data/other/x/part.csv.gz", 5, 1),))
    with pytest.raises(ManifestError, match=r"files\[0\]\.key"):
        parse_manifest(bad.to_dict())


def test_a_watermark_column_that_is_not_exported_is_rejected():
    doc = _doc()
    doc["window"]["column"] = "missing"
    with pytest.raises(ManifestError, match="window.column"):
        parse_manifest(doc)


def test_a_manifest_without_primary_key_is_rejected():
    doc = _doc()
    for column in doc["columns"]:
        column["primary_key_position"] = None
    with pytest.raises(ManifestError, match="primary key is required"):
        parse_manifest(doc)


def test_to_json_is_canonical():
    text = manifest().to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def test_an_export_id_or_file_key_with_a_trailing_newline_is_rejected():
    with pytest.raises(ManifestError, match="export_id"):
        parse_manifest(_doc(export_id=manifest().export_id + "\n"))
    m = manifest()
    files = (dataclasses.replace(m.files[0], key=m.files[0].key + "\n"), *m.files[1:])
    with pytest.raises(ManifestError, match=r"files\[0\]\.key"):
        parse_manifest(dataclasses.replace(m, files=files).to_dict())
