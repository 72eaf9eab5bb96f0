"""The published JSON Schema (docs/) and the runtime validator agree on what a manifest is."""

import json
from pathlib import Path

import jsonschema
import pytest

from sync_contract.errors import ManifestError
from sync_contract.manifest import parse_manifest
from tests.factories import manifest

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "manifest.schema.json").read_text())


def test_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_a_manifest_the_exporter_writes_validates_against_the_published_schema():
    jsonschema.validate(manifest().to_dict(), SCHEMA)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(manifest_version=2),
        lambda d: d.update(mode="merge"),
        lambda d: d.pop("files"),
        lambda d: d["format"].update(null="\\N"),
        lambda d: d["columns"][0].pop("name"),
        lambda d: d.update(rows=-1),
    ],
)
def test_both_validators_reject_the_same_bad_documents(mutate):
    doc = manifest().to_dict()
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    with pytest.raises(ManifestError):
        parse_manifest(doc)


def test_a_signed_manifest_validates_and_still_parses():
    from sync_contract.signing import SigningKey, sign

    doc = sign(manifest().to_dict(), SigningKey("k1", bytes(32)))
    jsonschema.validate(doc, SCHEMA)
    assert parse_manifest(doc) == parse_manifest(manifest().to_dict())  # the signature is no manifest field
    doc["signature"]["value"] = "not hex"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
