"""The endpoints a command talks to, checked before it changes anything: one that cannot be reached (or
refuses the login) is one line naming it (host:port or URL, never a password) and the config key that
sets it, within seconds, instead of a driver's retry loop and traceback.

Which endpoints: Snowflake (its `connect()`, and a TCP check first when `[snowflake] host` is set); the
exporter's Lambda endpoint when `exporter.lambda_endpoint_url` is set; with the in-process exporter
(no `lambda_function`) the source PostgreSQL (`source.dsn`, a real login) and S3 (`s3.bucket`, HeadBucket).
"""

from __future__ import annotations

import re
import socket
import urllib.request
from typing import Any
from urllib.parse import unquote, urlparse

from aurora_sync import aws

CONNECT_TIMEOUT_S = 5  # each check's TCP connect; libpq's connect_timeout takes whole seconds


class EndpointError(RuntimeError):
    """An endpoint could not be reached or refused us; nothing was attempted."""

    def __init__(self, service: str, endpoint: str, key: str, reason: str) -> None:
        super().__init__(f"{service} at {endpoint} ({key}): {one_line(reason)}")
        self.service, self.endpoint = service, endpoint


def one_line(text: object) -> str:
    """A driver's message on one line (they span several: libpq's hint, the connector's errno prefix)."""
    return " ".join(str(text).split())


def check_exporter(config: Any) -> None:
    """What an export needs from this process: the Lambda endpoint, or PostgreSQL and S3 (in-process)."""
    exporter = config.exporter
    if exporter.lambda_function:
        if exporter.lambda_endpoint_url:
            check_tcp("the exporter Lambda", exporter.lambda_endpoint_url, "exporter.lambda_endpoint_url")
        return  # the Lambda reaches PostgreSQL and S3 itself: its answer names what failed
    check_postgres(config.source_dsn)
    check_s3(config.s3.bucket, config.s3.region, config.s3.endpoint_url)


def postgres_endpoint(dsn: str) -> str:
    """host:port of a DSN (URL or key=value form), as libpq would use them; never the password."""
    from psycopg2.extensions import parse_dsn

    try:
        parts = parse_dsn(dsn)
    except Exception:  # a DSN libpq cannot parse: say where to look, not what it holds
        return "(unparsable DSN)"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}"


def check_postgres(dsn: str, key: str = "source.dsn") -> None:
    """A real login (libpq: connect_timeout, then PGPASSWORD / ~/.pgpass when the DSN has no password)."""
    import psycopg2

    try:
        psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg2.Error as err:  # libpq may quote the DSN it could not parse, password included
        raise EndpointError("PostgreSQL", postgres_endpoint(dsn), key, redacted(str(err), dsn)) from err


_URL_PASSWORD = re.compile(r"://[^:/@]*:([^@]*)@")
_KEYWORD_PASSWORD = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redacted(message: str, dsn: str) -> str:
    """`message` with the DSN's password (as written, percent-decoded, and unquoted) replaced by ***."""
    found = [m.group(1) for m in (*_URL_PASSWORD.finditer(dsn), *_KEYWORD_PASSWORD.finditer(dsn))]
    secrets = {s for f in found for s in (f, unquote(f), f.strip("'")) if s}
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def check_s3(bucket: str, region: str, endpoint_url: str | None) -> None:
    """HeadBucket with `aws.client`'s short connect timeout and few attempts: reachable, the bucket there."""
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = aws.client("s3", region, endpoint_url)
    where = endpoint_url or s3.meta.endpoint_url
    key = "s3.endpoint_url" if endpoint_url else "s3.region"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as err:
        raise EndpointError("S3", where, "s3.bucket", f"bucket {bucket!r}: {err}") from err
    except BotoCoreError as err:
        raise EndpointError("S3", where, key, str(err)) from err


def check_tcp(service: str, url: str, key: str) -> None:
    """A TCP connect to the URL's host:port, unless a proxy carries the traffic (then the driver's own
    timeouts bound the wait)."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    if _proxied(parsed.scheme, host):
        return
    tcp(service, host, port, key)


def tcp(service: str, host: str, port: int, key: str) -> None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        reason = f"no answer within {CONNECT_TIMEOUT_S} s" if isinstance(err, TimeoutError) else str(err)
        raise EndpointError(service, f"{host}:{port}", key, f"unreachable: {reason}") from err


def _proxied(scheme: str, host: str) -> bool:
    proxies = urllib.request.getproxies()
    return scheme in proxies and not urllib.request.proxy_bypass(host)


def snowflake_endpoint(args: dict[str, Any]) -> str:
    """Where `connect(**args)` goes: host:port, the account's default host, or the named connection."""
    if host := args.get("host"):
        return f"{host}:{args.get('port') or (80 if args.get('protocol') == 'http' else 443)}"
    if account := args.get("account"):
        return f"{account}.snowflakecomputing.com:443"
    return f"connection {args.get('connection_name', 'default')!r} of connections.toml"


def check_snowflake_host(args: dict[str, Any]) -> None:
    """A TCP check when `[snowflake] host` is set and no proxy is configured (the connector's own login
    retries can take up to its login timeout)."""
    if not (host := args.get("host")) or args.get("proxy_host"):
        return
    scheme = str(args.get("protocol") or "https")
    if _proxied(scheme, str(host)):
        return
    port = int(args.get("port") or (80 if scheme == "http" else 443))
    tcp("Snowflake", str(host), port, "[snowflake] host/port")
