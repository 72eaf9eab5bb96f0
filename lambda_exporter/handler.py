"""The Lambda entry point: validate the event, run one export (retrying transient failures), return its summary."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import boto3
import psycopg2
from botocore.config import Config

from lambda_exporter import answers, fan_out, fan_out_async
from lambda_exporter.event import ExportRequest, S3Target, parse_event
from lambda_exporter.exporter import ExportResult, resolve_low
from lambda_exporter.manifest_key import signing_key
from lambda_exporter.observability import logger, record_failure, record_success, traced
from lambda_exporter.reconcile import run_reconcile
from lambda_exporter.retry import RetryPolicy, call_with_retries
from lambda_exporter.settings import Settings, load_settings
from lambda_exporter.source import Connection, connect, is_auth_failure
from sync_contract import reconcile as reconcile_contract

RETRY_POLICY = RetryPolicy()
# boto3 retries throttling and 5xx itself (standard mode) before our whole-export retry sees them
S3_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 6}, connect_timeout=10, read_timeout=120, max_pool_connections=32
)


@lru_cache(maxsize=8)
def s3_client(region: str, endpoint_url: str | None) -> Any:
    """Created once per region and endpoint, reused by warm invocations."""
    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=S3_CONFIG)


def connect_source(settings: Settings) -> Connection:
    """Connect with the cached credentials; if the database refuses them, read them again once."""
    try:
        return connect(settings.credentials.dsn(), settings.connect_timeout_s, settings.statement_timeout_ms)
    except psycopg2.OperationalError as err:
        if not is_auth_failure(err):
            raise
        settings.credentials.refresh()
        return connect(settings.credentials.dsn(), settings.connect_timeout_s, settings.statement_timeout_ms)


def export_once(
    settings: Settings,
    s3: Any,
    request: ExportRequest,
    remaining_s: Callable[[], float] | None = None,
) -> ExportResult:
    """One attempt of the export. The signing key is read first (signing_key(): from Vault, cached
    MAX_AGE_S), inside the retried attempt: Vault unreachable is transient for the key as for the source
    credentials, and no key means nothing is read or written (never an unsigned manifest)."""
    key = signing_key()
    conn = connect_source(settings)
    try:
        # a plan or one part of a fan-out export, or one export (lambda_exporter.fan_out)
        return fan_out.export(conn, s3, request, lambda: connect_source(settings), remaining_s, key)
    finally:
        conn.close()


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda entry point. An event with a `request_id` (REQUEST_EXPORTS' asynchronous invocation,
    InvocationType=Event) is answered in S3 as well, success or failure (lambda_exporter.answers); the
    error is still raised, so Lambda counts it (the Errors metric, the alarms). When it is answered by a
    fan-out plan, its parts are invoked from here and the part that ends the export answers it
    (lambda_exporter.fan_out_async)."""
    if (part_of := fan_out_async.request_id_of(event)) is not None:
        part = fan_out_async.without_request_id(event)
        return fan_out_async.run_part(part_of, part, lambda e: export_handler(e, context), _target)
    request_id = answers.request_id_of(event)
    if request_id is None:
        return export_handler(event, context)
    event = answers.without_request_id(event)
    summary: dict[str, Any] = {}
    try:
        summary = export_handler(event, context)
        if summary.get("status") == "fan_out":  # no answer now: the parts answer
            return fan_out_async.dispatch(request_id, event, summary, fan_out_async.self_invoker())
    except Exception as err:
        # parts already queued may answer too: then the first answer stands (fan_out_async)
        _answer(request_id, event, error=err, first_only=summary.get("status") == "fan_out")
        raise
    _answer(request_id, event, summary=summary)
    return summary


def _target() -> tuple[Any, S3Target]:
    """The S3 client and location answers are written to (the exporter's own, lambda_exporter.policy)."""
    target = load_settings().s3_target()
    return s3_client(target.region, target.endpoint_url), target


def _answer(
    request_id: str,
    event: Any,
    summary: dict[str, Any] | None = None,
    error: Exception | None = None,
    first_only: bool = False,
) -> None:
    try:
        s3, target = _target()
    except Exception as err:  # nowhere to write: the procedures report the request unanswered
        logger.error("export answer not written", extra={"error_type": type(err).__name__, "error": str(err)})
        return
    answers.write_answer(s3, target, request_id, event, summary, error, first_only)


def export_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    correlation = getattr(context, "aws_request_id", None) or "local"
    logger.append_keys(correlation_id=correlation, table=None, export_id=None)
    remaining = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        remaining = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731
    if isinstance(event, dict) and event.get("action") == reconcile_contract.ACTION:
        return reconcile_handler(event, remaining)
    settings = load_settings()
    # the environment decides where exports go and which tables are served (lambda_exporter.policy)
    request = parse_event(event, settings.s3_target())
    table = f"{request.schema}.{request.table}"
    logger.append_keys(table=table)
    settings.allowed_tables.check(request.schema, request.table)
    s3 = s3_client(request.s3.region, request.s3.endpoint_url)
    try:
        with traced("export"):
            request = resolve_low(s3, request)  # once: a retry must not start from its own partial export
            # an export is idempotent (deterministic keys, manifest last), so retrying it whole is safe; each
            # attempt reads the signing key first (export_once), so a Vault outage is retried, then counted
            result = call_with_retries(
                lambda: export_once(settings, s3, request, remaining), RETRY_POLICY, remaining, on_retry
            )
    except Exception as err:
        record_failure(table)
        logger.error("export failed", extra={"error_type": type(err).__name__, "error": str(err)})
        raise
    summary = result.to_dict()
    logger.append_keys(export_id=summary["export_id"])
    logger.info("export finished", extra={k: summary[k] for k in ("status", "rows", "files", "bytes", "duration_s")})
    record_success(table, summary)
    return summary


def on_retry(attempt: int, err: BaseException, delay: float) -> None:
    logger.warning(
        "transient failure, retrying",
        extra={"attempt": attempt, "error_type": type(err).__name__, "error": str(err), "delay_s": round(delay, 2)},
    )


def reconcile_once(settings: Settings, request: reconcile_contract.ReconcileRequest) -> dict[str, Any]:
    conn = connect_source(settings)
    try:
        declared = settings.allowed_tables.declared_key(request.schema, request.table)
        return run_reconcile(conn, request, real_key=True, declared=declared)
    finally:
        conn.close()


def reconcile_handler(event: dict[str, Any], remaining: Callable[[], float] | None = None) -> dict[str, Any]:
    """Bucket fingerprints, or some buckets' row hashes, of one source table (read-only, no S3); a read,
    so retried whole on a transient failure like an export. Only a table of the allow-list, and only by
    its primary key (lambda_exporter.reconcile.check_key)."""
    request = reconcile_contract.parse_request(event)
    logger.append_keys(table=f"{request.schema}.{request.table}")
    settings = load_settings()
    settings.allowed_tables.check(request.schema, request.table)
    with traced("reconcile"):
        answer = call_with_retries(lambda: reconcile_once(settings, request), RETRY_POLICY, remaining, on_retry)
    logger.info(
        "reconcile finished",
        extra={"buckets": len(answer.get("buckets") or {}), "rows": answer["rows"] if request.buckets is None else 0},
    )
    return answer
