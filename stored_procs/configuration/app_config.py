"""The deployment's own settings (STATE.SETTINGS): the export stage, the exporter Lambda, the target
database and the schedule. The configuration procedures write them; the graph's procedures read them.

Every setter validates its input first; a missing setting raises `NotConfigured`, whose message is the
CALL (and the grant) that fixes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from stored_procs.ledger import now
from stored_procs.row_sql import insert_row
from stored_procs.spec import APP_CODE_SCHEMA, Place
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import validate_identifier

STAGE_URL, STORAGE_INTEGRATION, S3_REGION, S3_ENDPOINT_URL = (
    "stage_url",
    "storage_integration",
    "s3_region",
    "s3_endpoint_url",
)
EXPORTER_FUNCTION, EXPORTER_REGION, EXPORTER_ENDPOINT_URL = "exporter_function", "exporter_region", "exporter_endpoint"
TARGET_DATABASE, SCHEDULE, WAREHOUSE = "target_database", "schedule", "warehouse"
# how long an asynchronous export request may stay unanswered before it is reported FAILED and requested
# again: at least the exporter's timeout plus its maximum event age (terraform/modules/exporter), plus a margin
ANSWER_TIMEOUT, DEFAULT_ANSWER_TIMEOUT_MINUTES = "exporter_answer_timeout_minutes", 30.0
DEFAULT_SCHEDULE = "60 MINUTES"
# who starts the exports: REQUEST_EXPORTS in the Task graph (pull), or the exporter's own EventBridge
# schedule (push: the graph only takes in and loads what the exporter wrote)
EXPORT_MODE, PULL, PUSH = "export_mode", "pull", "push"
# "plain" when deployed without the Native App (tools/plain_deploy.py writes it): tasks and readers are
# granted to account roles; `reader_role` is the account role that may read the replicated tables
DEPLOYMENT, PLAIN, READER_ROLE = "deployment", "plain", "reader_role"

_FIX = {
    STAGE_URL: f"CALL {APP_CODE_SCHEMA}.REGISTER_STAGE('s3://<bucket>/<prefix>/', '<STORAGE_INTEGRATION>', "
    "'<aws-region>') after GRANT USAGE ON INTEGRATION <STORAGE_INTEGRATION> TO APPLICATION <app>",
    EXPORTER_FUNCTION: f"CALL {APP_CODE_SCHEMA}.REGISTER_EXPORTER('<lambda function name or ARN>', '<aws-region>')",
    TARGET_DATABASE: f"CALL {APP_CODE_SCHEMA}.SET_TARGET_DATABASE('<DATABASE>') after "
    "GRANT CREATE SCHEMA, USAGE ON DATABASE <DATABASE> TO APPLICATION <app>",
}

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_FUNCTION = re.compile(
    r"^([A-Za-z0-9_-]{1,64}|arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64})(:[A-Za-z0-9_$-]{1,128})?$"
)
_UNQUOTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_SCHEDULE = re.compile(r"^(\d{1,5} (SECONDS|MINUTES|HOURS)|USING CRON [0-9A-Za-z*/,\- ]+ [A-Za-z_/+\-0-9]+)$")


class NotConfigured(RuntimeError):
    """A setting the step needs has not been made; the message is the statement that makes it."""


class InvalidSetting(ValueError):
    """A configuration argument that cannot be used; the message names it and what is accepted."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.reason = message


@dataclass(frozen=True)
class AppSettings:
    values: dict[str, str]

    def get(self, key: str) -> str | None:
        return self.values.get(key) or None

    def require(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise NotConfigured(f"setting {key!r} is not set: {_FIX.get(key, 'set it first')}")
        return value

    @property
    def schedule(self) -> str:
        return self.get(SCHEDULE) or DEFAULT_SCHEDULE

    def s3_location(self) -> tuple[str, str]:
        """(bucket, prefix) of the registered stage URL."""
        parsed = urlparse(self.require(STAGE_URL))
        return parsed.netloc, parsed.path.lstrip("/")


def read(session: Any, place: Place) -> AppSettings:
    rows = run(session, Stmt(f"SELECT NAME AS N, VALUE AS V FROM {place.control('SETTINGS')}"))
    return AppSettings({r[0]: r[1] for r in rows if r[1] is not None})


def write(session: Any, place: Place, values: dict[str, str | None]) -> None:
    """Replace these settings (None clears one). Idempotent: rerunning writes the same rows."""
    names = sorted(values)
    marks = ", ".join("?" for _ in names)
    run(session, Stmt(f"DELETE FROM {place.control('SETTINGS')} WHERE NAME IN ({marks})", tuple(names)))
    for name in names:
        if values[name] is not None:
            row = [
                ("NAME", "VARCHAR", name),
                ("VALUE", "VARCHAR", values[name]),
                ("UPDATED_AT", "TIMESTAMP_NTZ", now()),
            ]
            run(session, insert_row(place.control("SETTINGS"), row))


# --------------------------------------------------------------------------- validation


def stage_url(url: str) -> str:
    parsed = urlparse(url or "")
    dots = ".." in parsed.path.split("/")  # S3 keeps '..' as characters: the exporter never writes there
    if parsed.scheme != "s3" or not _BUCKET.match(parsed.netloc) or not url.endswith("/") or "'" in url or dots:
        raise InvalidSetting(f"stage URL {url!r} must look like s3://<bucket>/<prefix>/ (ending with '/', no '..')")
    return url


def region(value: str, what: str) -> str:
    if not _REGION.match(value or ""):
        raise InvalidSetting(f"{what} {value!r} is not an AWS region name such as 'eu-west-1'")
    return value


def function_name(value: str) -> str:
    if not _FUNCTION.match(value or ""):
        raise InvalidSetting(
            f"exporter function {value!r} must be a Lambda function name, or its ARN "
            "arn:aws:lambda:<region>:<account>:function:<name>, optionally with :<alias>"
        )
    return value


def endpoint_url(value: str | None) -> str | None:
    """Only for the embedded stack (or a VPC endpoint): an http(s) URL without credentials."""
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.username or parsed.password:  # never echo them back (errors end up in query history)
        raise InvalidSetting(f"endpoint URL for host {parsed.hostname!r} must not carry credentials")
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise InvalidSetting(f"endpoint URL {value!r} must be http(s)://host[:port]")
    return value


def answer_timeout_minutes(value: Any) -> str | None:
    """REGISTER_EXPORTER's ANSWER_TIMEOUT_MINUTES: a number of minutes > 0 and <= 1440, or None (the default,
    DEFAULT_ANSWER_TIMEOUT_MINUTES)."""
    if value is None:
        return None
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = -1.0
    if not 0 < minutes <= 1440:
        raise InvalidSetting(
            f"must be a number of minutes above 0 and at most 1440, got {value!r}: at least the exporter "
            "Lambda's timeout plus its maximum event age (terraform/modules/exporter) plus a margin",
            "answer_timeout_minutes",
        )
    return f"{minutes:g}"


def answer_timeout(settings: AppSettings) -> float:
    """The answer timeout in minutes (the setting, else DEFAULT_ANSWER_TIMEOUT_MINUTES)."""
    value = settings.get(ANSWER_TIMEOUT)
    return float(value) if value else DEFAULT_ANSWER_TIMEOUT_MINUTES


def export_mode(value: str) -> str:
    mode = (value or "").strip().lower()
    if mode not in (PULL, PUSH):
        raise InvalidSetting(f"must be 'pull' or 'push', got {value!r}", "mode")
    return mode


def pushes(settings: AppSettings) -> bool:
    """The exporter runs on its own schedule: REQUEST_EXPORTS invokes nothing."""
    return settings.get(EXPORT_MODE) == PUSH


def schedule(value: str) -> str:
    if not _SCHEDULE.match(value or ""):
        raise InvalidSetting(f"schedule {value!r} must look like '60 MINUTES', '6 HOURS' or 'USING CRON 0 * * * * UTC'")
    return value


def object_name(value: str, what: str) -> str:
    """A Snowflake object name as Snowflake resolves it: unquoted is upper-cased (`raw` is RAW), a
    double-quoted name keeps its case (`"Raw"`). The result is the exact name, for `quote_ident`."""
    text = (value or "").strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        name = text[1:-1].replace('""', '"')
    elif _UNQUOTED.match(text):
        name = text.upper()
    else:
        raise InvalidSetting(
            f"{what} {value!r} is not a name: use letters, digits, _ and $ (starting with a letter or _), "
            'or double-quote it ("My Name")'
        )
    try:
        return validate_identifier(name, what)
    except ValueError as err:
        raise InvalidSetting(str(err)) from err
