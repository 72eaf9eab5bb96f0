"""What the exporter serves, decided by its environment, never by the event (docs/EXPORTER.md, 'What the
exporter serves'; docs/SECURITY.md, threat model).

- Where exports go: `AURORA_SYNC_S3_BUCKET`, `AURORA_SYNC_S3_PREFIX`, `AURORA_SYNC_S3_REGION` (default
  `AWS_REGION`, which Lambda sets) and `AURORA_SYNC_S3_ENDPOINT_URL` (default: AWS's own endpoint). An
  event may still carry an `s3` member, but every field it holds must equal the environment's value.
  An endpoint must be `https://` on an S3 host of AWS (`is_s3_host`: under `amazonaws.com` or
  `amazonaws.com.cn`, with a label `s3`, `s3-fips`, `s3-external-1` or `s3-<region>`) unless
  `AURORA_SYNC_ALLOW_LOCAL_ENDPOINT=1` (tests, the embedded stack, a local S3 emulator).
- Which tables it reads: `AURORA_SYNC_ALLOWED_TABLES`, entries separated by commas: `schema.table`,
  `schema.*` (every table of a schema) or `*` (every table the database role can read). Names are
  compared exactly, as the catalog stores them (case-sensitive); a part holding a dot, a comma or a
  quote is double-quoted (`sales."Order.Lines"`). Unset or empty: no table is served. An entry of a
  table without a primary key may declare the key a reconcile may use: `public.events(event_id)` or
  `public.lines(order_id, line_no)` (lambda_exporter.reconcile.check_key): the event's key is trusted
  for nothing.
"""

from __future__ import annotations

import ipaddress
import re
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
# the label that names S3 in its endpoints (is_s3_host): exactly these, never a mere prefix "s3-" (a load
# balancer its owner names "s3-x" answers at s3-x-<id>.<region>.elb.amazonaws.com)
_S3_LABEL = re.compile(r"s3|s3-fips|s3-external-1|s3-[a-z]{2}(-gov)?-[a-z]+-[0-9]")


def is_s3_host(host: str) -> bool:
    """True when `host` (lower case, no port) names an S3 endpoint of AWS: it ends in `.amazonaws.com` or
    `.amazonaws.com.cn`, and a label before that suffix is exactly `s3`, `s3-fips`, `s3-external-1` or a
    legacy `s3-<region>`. The forms AWS documents: "Amazon Simple Storage Service endpoints and quotas"
    (AWS General Reference: `s3.<region>.amazonaws.com`, `s3.dualstack.<region>...`,
    `s3-fips.<region>...`, `s3-fips.dualstack.<region>...`), "Virtual hosting of buckets", Backward
    compatibility (S3 User Guide: legacy `s3.amazonaws.com`, `s3-external-1.amazonaws.com`,
    `s3-<region>.amazonaws.com`), and "AWS PrivateLink for Amazon S3" (S3 User Guide: interface endpoints
    `bucket.vpce-<id>.s3.<region>.vpce.amazonaws.com`). Any other AWS host is refused: `*.amazonaws.com`
    alone would admit hosts another account controls, such as an API Gateway
    `<id>.execute-api.<region>.amazonaws.com`, which would receive the rows signed with our credentials;
    so are S3's website (`s3-website-...`, GET only) and Object Lambda endpoints."""
    suffix = next((sfx for sfx in _AWS_HOSTS if host.endswith(sfx)), None)
    if suffix is None or _is_address(host):
        return False
    labels = host[: -len(suffix)].split(".")
    if any(not label for label in labels):
        return False  # an empty label: "..", a leading dot, or nothing before the suffix
    return any(_S3_LABEL.fullmatch(label) for label in labels)


def s3_endpoint(raw: str | None, allow_local: bool) -> str | None:
    """The environment's S3 endpoint, checked: None (AWS's default), an https URL on an S3 host of AWS
    (`is_s3_host`), or (only with `allow_local`) any http(s) URL. Never credentials, a query or a
    fragment in it. Raises ExportError naming AURORA_SYNC_S3_ENDPOINT_URL and the fix."""
    if not raw:
        return None
    url = urlparse(raw)
    host = (url.hostname or "").lower()
    if url.scheme not in ("http", "https") or not host or url.username or url.password or url.query or url.fragment:
        raise ExportError(f"{S3_ENDPOINT_ENV} must be an http(s) URL without credentials or a query, got {raw!r}")
    if allow_local:
        return raw
    if url.scheme != "https" or not is_s3_host(host):
        raise ExportError(
            f"{S3_ENDPOINT_ENV} {raw!r} is not an https endpoint of Amazon S3 (a host under amazonaws.com with a "
            "label s3, s3-fips or s3-<region>, e.g. https://s3.eu-west-1.amazonaws.com or an interface endpoint "
            "https://bucket.vpce-....s3.eu-west-1.vpce.amazonaws.com): the exporter sends the source's rows, "
            f"signed with its credentials, only to S3. For a local S3 emulator set {ALLOW_LOCAL_ENDPOINT_ENV}=1 "
            "(tests and local runs only)"
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
    """Tables the exporter may read (module docstring); `entries` are (schema, table or "*") pairs,
    `keys` the reconcile keys declared for tables without a primary key."""

    entries: tuple[tuple[str, str], ...] = ()
    everything: bool = False
    keys: tuple[tuple[tuple[str, str], tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        entries: list[tuple[str, str]] = []
        keys: list[tuple[tuple[str, str], tuple[str, ...]]] = []
        everything = False
        for entry in _split(text or ""):
            if entry == "*":
                everything = True
                continue
            name, key = _name_and_key(entry)
            if '"*"' in name:  # split_parts unquotes it: a quoted * would read as the wildcard
                raise ExportError(
                    f'{ALLOWED_TABLES_ENV}: entry {entry!r} quotes "*": write schema.* for every table of a schema'
                )
            try:
                parts = split_parts(name, "allowed table")
                columns = tuple(_column(c) for c in _split(key)) if key is not None else ()
            except IdentifierError as err:
                raise ExportError(f"{ALLOWED_TABLES_ENV}: {err}") from None
            if len(parts) != 2 or (key is not None and (not columns or parts[1] == "*")):
                raise ExportError(
                    f"{ALLOWED_TABLES_ENV}: entry {entry!r} must be schema.table, schema.table(key, ...), schema.* "
                    'or * (double-quote a part holding a dot, a comma or a parenthesis: sales."a.b")'
                )
            entries.append((parts[0], parts[1]))
            if columns:
                keys.append(((parts[0], parts[1]), columns))
        return cls(tuple(entries), everything, tuple(keys))

    def declared_key(self, schema: str, table: str) -> tuple[str, ...] | None:
        """The reconcile key the setting declares for this table, if any."""
        return next((key for name, key in self.keys if name == (schema, table)), None)

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


def _split(text: str) -> list[str]:
    """Comma-separated items, commas inside double quotes or parentheses kept; white space around items
    dropped, empty items skipped."""
    items: list[str] = []
    buf: list[str] = []
    quoted, depth = False, 0
    for ch in text:
        if ch == '"':
            quoted = not quoted  # a doubled quote toggles twice: split_parts reads it as one quote
        elif not quoted and ch in "()":
            depth += 1 if ch == "(" else -1
        if ch == "," and not quoted and depth == 0:
            items.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf).strip())
    return [i for i in items if i]


def _name_and_key(entry: str) -> tuple[str, str | None]:
    """`schema.table(k1, k2)` -> ("schema.table", "k1, k2"); without parentheses the key is None."""
    quoted = False
    for i, ch in enumerate(entry):
        if ch == '"':
            quoted = not quoted
        elif ch == "(" and not quoted:
            if not entry.endswith(")"):
                raise ExportError(f"{ALLOWED_TABLES_ENV}: entry {entry!r}: the key list must end the entry with ')'")
            return entry[:i].strip(), entry[i + 1 : -1]
    return entry, None


def _column(text: str) -> str:
    parts = split_parts(text.strip(), "key column")
    if len(parts) != 1:
        raise IdentifierError(f"key column {text!r} must be one name (double-quote one holding a dot)")
    return parts[0]
