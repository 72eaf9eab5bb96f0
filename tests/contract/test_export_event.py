"""The event REQUEST_EXPORTS sends is one the exporter accepts (both sides of the Lambda contract)."""

import pytest

from lambda_exporter.errors import EventError
from lambda_exporter.event import EVENT_VERSION, S3Target, parse_event
from stored_procs.configuration.app_config import AppSettings
from stored_procs.orchestration import exports
from stored_procs.spec import TableSpec

pytestmark = pytest.mark.contract

# the exporter's own location (its environment: lambda_exporter.policy)
EXPORTER = S3Target("exports", "aurora-sync/", "eu-west-1", "https://s3.eu-west-1.amazonaws.com")


def test_the_procedure_event_is_a_valid_exporter_event():
    assert exports.EVENT_VERSION == EVENT_VERSION
    settings = AppSettings({"stage_url": "s3://exports/aurora-sync/", "exporter_region": "eu-west-1"})
    spec = TableSpec("Sales", "Customer Events", ("Event Id",), watermark_column="Updated At")
    event = exports.export_event(spec, settings, "2026-01-01 00:00:00+00")
    request = parse_event(event, EXPORTER)
    assert (request.schema, request.table, request.mode, request.low) == (
        "Sales",
        "Customer Events",
        "incremental",
        "2026-01-01 00:00:00+00",
    )
    assert request.s3 == EXPORTER  # the environment decides; the event only cross-checks
    assert event["s3"] == {"bucket": "exports", "prefix": "aurora-sync/"}  # no region unless registered
    assert request.primary_key == ("Event Id",)
    assert not request.low_from_manifests  # Snowflake always says where to continue from


def test_the_stage_endpoint_is_not_forwarded_and_a_registered_region_must_match():
    settings = AppSettings(
        {"stage_url": "s3://exports/aurora-sync/", "s3_region": "us-east-2", "s3_endpoint_url": "http://10.0.0.1:9000"}
    )
    event = exports.export_event(TableSpec("public", "t", ("id",), mode="full"), settings, None)
    assert "endpoint_url" not in event["s3"]
    with pytest.raises(EventError, match="s3.region: 'us-east-2' differs from the exporter's AURORA_SYNC_S3_REGION"):
        parse_event(event, EXPORTER)


def test_a_first_export_starts_from_the_beginning_not_from_the_exporters_own_pointer():
    settings = AppSettings({"stage_url": "s3://exports/aurora-sync/", "s3_region": "eu-west-1"})
    request = parse_event(
        exports.export_event(TableSpec("public", "t", ("id",), mode="full"), settings, None), EXPORTER
    )
    assert request.low is None and not request.low_from_manifests
    assert request.s3.region == "eu-west-1"
