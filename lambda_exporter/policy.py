"""What the exporter serves, decided by its environment, never by the event (docs/EXPORTER.md, 'What the
exporter serves'; docs/SECURITY.md, threat model).

- Where exports go: `AURORA_SYNC_S3_BUCKET`, `AURORA_SYNC_S3_PREFIX`, `AURORA_SYNC_S3_REGION` (default
  `AWS_REGION`, which Lambda sets) and `AURORA_SYNC_S3_ENDPOINT_URL` (default: AWS's own endpoint). An
  event may still carry an `s3` member, but every field it holds must equal the environment's value.
  An endpoint must be `https://` on an AWS host (`*.amazonaws.com`, `*.amazonaws.com.cn`) unless
  `AURORA_SYNC_ALLOW_LOCAL_ENDPOINT=1` (tests, the embedded stack, a local S3 emulator).
- Which tables it reads: `AURORA_SYNC_ALLOWED_TABLES`, entries separated by commas: `schema.table`,
  `schema.*` (every table of a schema) or `*` (every table the database role can read). Names are
  compared exactly, as the catalog stores them (case-sensitive); a part holding a dot, a comma or a
  quote is double-quoted (`sales."Order.Lines"`). Unset or empty: no table is served.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from lambda_exporter.errors import EventError, ExportError
from sync_contract.errors import IdentifierError
from sync_contract.identifiers import split_parts

S3_BUCKET_ENV = "AURORA_SYNC_S3_BUCKET"
S3_PREFIX_ENV = "AURORA_SYNC_S3_PREFIX"
S3_REGION_ENV = "AURORA_SYNC_S3_REGION"
S3_ENDPOINT_ENV = "AURORA_SYNC_S3_ENDPOINT_URL"
ALLOW_LOCAL_ENDPOINT_ENV = "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT"
ALLOWED_TABLES_ENV = "AURORA_SYNC_ALLOWED_TABLES"
_AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn")


def s3_endpoint(raw: str | None, allow_local: bool) -> str | None:
    """The environment's S3 endpoint, checked: None (AWS's default), an https URL on an AWS host, or
    (only with `allow_local`) any http(s) URL. Never credentials, a query or a fragment in it."""
    if not raw:
        return None
    url = urlparse(raw)
    host = (url.hostname or "").lower()
    if url.scheme not in ("http", "https") or not host or url.username or url.password or url.query or url.fragment:
        raise ExportError(f"{S3_ENDPOINT_ENV} must be an http(s) URL without credentials or a query, got {raw!r}")
    if allow_local:
        return raw
    if url.scheme != "https" or not host.endswith(_AWS_HOSTS) or _is_address(host):
        raise ExportError(
            f"{S3_ENDPOINT_ENV} {raw!r} is not an https endpoint of AWS (*.amazonaws.com): the exporter sends "
            f"the source's rows, signed with its credentials, only to AWS. For a local S3 emulator set "
            f"{ALLOW_LOCAL_ENDPOINT_ENV}=1 (tests and local runs only)"
        )
    return raw


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_event_s3(value: Any, environment: Mapping[str, str | None]) -> None:
    """An event's `s3` member against the environment's location (`environment`: field -> value): every
    field it holds must be known and equal. Raises EventError naming the first field that differs."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise EventError("s3", "must be an object; the exporter's environment decides where exports go")
    for name in sorted(value):
        if name not in environment:
            raise EventError(f"s3.{name}", f"unknown field; accepted: {', '.join(sorted(environment))}")
        if value[name] != environment[name]:
            setting = {"bucket": S3_BUCKET_ENV, "prefix": S3_PREFIX_ENV, "region": S3_REGION_ENV}.get(
                name, S3_ENDPOINT_ENV
            )
            raise EventError(
                f"s3.{name}",
                f"{value[name]!r} differs from the exporter's {setting} ({environment[name]!r}): the exporter's "
                "environment decides where exports go; omit s3 from the event or send the same value",
            )


@dataclass(frozen=True)
class AllowList:
    """Tables the exporter may read (module docstring); `entries` are (schema, table or "*") pairs."""

    entries: tuple[tuple[str, str], ...] = ()
    everything: bool = False

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        entries: list[tuple[str, str]] = []
        everything = False
        for entry in _split_entries(text or ""):
            if entry == "*":
                everything = True
                continue
            try:
                parts = split_parts(entry, "allowed table")
            except IdentifierError as err:
                raise ExportError(f"{ALLOWED_TABLES_ENV}: {err}") from None
            if len(parts) != 2:
                raise ExportError(
                    f"{ALLOWED_TABLES_ENV}: entry {entry!r} must be schema.table, schema.* or * "
                    '(double-quote a part holding a dot or a comma: sales."a.b")'
                )
            entries.append((parts[0], parts[1]))
        return cls(tuple(entries), everything)

    def check(self, schema: str, table: str) -> None:
        """Raises EventError (field `table`) naming the table and the setting unless it is allowed."""
        if not self.entries and not self.everything:
            raise EventError(
                "table",
                f"{schema}.{table} is not served: {ALLOWED_TABLES_ENV} is not set, and the exporter reads no "
                "table until it lists the tables it may read (schema.table, schema.* or *; Terraform variable "
                "allowed_tables of the exporter module)",
            )
        if self.everything or any(s == schema and t in ("*", table) for s, t in self.entries):
            return
        raise EventError(
            "table",
            f"{schema}.{table} is not in the exporter's {ALLOWED_TABLES_ENV}: nothing was read. Add it "
            "(Terraform variable allowed_tables of the exporter module) if the exporter should serve it",
        )


def _split_entries(text: str) -> list[str]:
    """Comma-separated entries, commas inside double quotes kept; white space around entries dropped."""
    entries: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted  # a doubled quote toggles twice: split_parts reads it as one quote
        if ch == "," and not quoted:
            entries.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    entries.append("".join(buf).strip())
    return [e for e in entries if e]
