"""Where the app reads exports from, which exporter it invokes, where it writes: each argument
validated, then checked against Snowflake (a missing grant is named), then saved in STATE.SETTINGS."""

from __future__ import annotations

from typing import Any

from stored_procs.configuration import access, app_config
from stored_procs.spec import Place
from stored_procs.sql import create_stage
from stored_procs.statement import run
from sync_contract.identifiers import quote_ident


def stage(
    session: Any, place: Place, url: str, storage_integration: str, aws_region: str, endpoint: str | None
) -> dict[str, Any]:
    """The export stage on the consumer's storage integration (granted to the app)."""
    url = app_config.stage_url(url)
    integration = app_config.object_name(storage_integration, "storage integration")
    values: dict[str, str | None] = {
        app_config.STAGE_URL: url,
        app_config.STORAGE_INTEGRATION: integration,
        app_config.S3_REGION: app_config.region(aws_region, "AWS region"),
        app_config.S3_ENDPOINT_URL: app_config.endpoint_url(endpoint),
    }
    try:
        run(session, create_stage(place, url, integration, replace=True))
    except Exception as err:
        raise app_config.NotConfigured(
            f"cannot create stage {place.stage} on storage integration {integration!r} ({err}); the consumer "
            f"runs GRANT USAGE ON INTEGRATION {quote_ident(integration)} TO APPLICATION <app>, and the "
            f"integration's STORAGE_ALLOWED_LOCATIONS must include {url}"
        ) from err
    app_config.write(session, place, values)
    return {"stage": place.stage, "url": url, "storage_integration": integration, "region": aws_region}


def export_mode(session: Any, place: Place, mode: str) -> dict[str, Any]:
    """pull: the graph's REQUEST_EXPORTS invokes the exporter; push: the exporter runs on its own
    (EventBridge) schedule and the graph only takes in and loads."""
    mode = app_config.export_mode(mode)
    app_config.write(session, place, {app_config.EXPORT_MODE: mode})
    effect = (
        "REQUEST_EXPORTS invokes the exporter on every run"
        if mode == app_config.PULL
        else "REQUEST_EXPORTS invokes nothing: the exporter's own schedule writes the exports, the graph loads them"
    )
    return {"export_mode": mode, "effect": effect}


def exporter(
    session: Any,
    place: Place,
    function_name: str,
    aws_region: str,
    endpoint: str | None,
    answer_timeout_minutes: Any = None,
) -> dict[str, Any]:
    """The exporter Lambda REQUEST_EXPORTS invokes (reached through the bound references), and how long an
    asynchronous request may stay unanswered (`answer_timeout_minutes`, None: the default; stored_procs.
    orchestration.answers)."""
    values: dict[str, str | None] = {
        app_config.EXPORTER_FUNCTION: app_config.function_name(function_name),
        app_config.EXPORTER_REGION: app_config.region(aws_region, "AWS region"),
        app_config.EXPORTER_ENDPOINT_URL: app_config.endpoint_url(endpoint),
        app_config.ANSWER_TIMEOUT: app_config.answer_timeout_minutes(answer_timeout_minutes),
    }
    app_config.write(session, place, values)
    return {
        "exporter": function_name,
        "region": aws_region,
        "next": "REQUEST_EXPORTS calls it through the EXPORTER_ACCESS integration with the EXPORTER_SECRET "
        "credentials; bind both references if you have not (docs/snowflake/consumer_setup.sql)",
    }


def target_database(session: Any, place: Place, database_name: str) -> dict[str, Any]:
    """The database replicated tables go to. The app must be able to create schemas there (USAGE,
    CREATE SCHEMA): checked by creating and dropping one (stored_procs.configuration.access)."""
    name = app_config.object_name(database_name, "target database")
    access.check_database(session, place, name)
    app_config.write(session, place, {app_config.TARGET_DATABASE: name})
    return {
        "target_database": name,
        "next": "ADD_TABLE checks and creates each table's target schema there; a table without a target goes to "
        "the schema named after its source schema (public: PG_PUBLIC)",
    }
