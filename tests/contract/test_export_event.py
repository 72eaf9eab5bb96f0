"""The event REQUEST_EXPORTS sends is one the exporter accepts (both sides of the Lambda contract)."""

import pytest

from lambda_exporter.event import EVENT_VERSION, parse_event
from stored_procs.configuration.app_config import AppSettings
from stored_procs.orchestration import exports
from stored_procs.spec import TableSpec

pytestmark = pytest.mark.contract


def test_the_procedure_event_is_a_valid_exporter_event():
    assert exports.EVENT_VERSION == EVENT_VERSION
    settings = AppSettings({"stage_url": "s3://exports/aurora-sync/", "exporter_region": "eu-west-1"})
    spec = TableSpec("Sales", "Customer Events", ("Event Id",), watermark_column="Updated At")
    request = parse_event(exports.export_event(spec, settings, "2026-01-01 00:00:00+00"))
    assert (request.schema, request.table, request.mode, request.low) == (
        "Sales",
        "Customer Events",
        "incremental",
        "2026-01-01 00:00:00+00",
    )
    assert (request.s3.bucket, request.s3.prefix, request.s3.region) == ("exports", "aurora-sync/", "eu-west-1")
    assert request.primary_key == ("Event Id",)
    assert not request.low_from_manifests  # Snowflake always says where to continue from


def test_a_first_export_starts_from_the_beginning_not_from_the_exporters_own_pointer():
    settings = AppSettings({"stage_url": "s3://exports/p/", "s3_region": "us-east-2", "exporter_region": "eu-west-1"})
    request = parse_event(exports.export_event(TableSpec("public", "t", ("id",), mode="full"), settings, None))
    assert request.low is None and not request.low_from_manifests
    assert request.s3.region == "us-east-2"
