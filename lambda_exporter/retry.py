"""One place that classifies errors, and the bounded retry around an export.

Transient: the same call may succeed a moment later (connection reset, serialization failure,
deadlock, an administrator restarting the server, S3 throttling or 5xx, Vault unreachable). Terminal:
retrying cannot help (a missing table, a denied permission, a bad event or config, a statement that hit
its timeout, a sealed Vault) and the error is raised at once. Anything unknown is terminal.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg2
import psycopg2.errors
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from lambda_exporter.errors import ExportError
from lambda_exporter.secrets import VaultUnreachableError

T = TypeVar("T")

TRANSIENT_S3_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "500",
    "502",
    "503",
    "504",
}
TRANSIENT_PG = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.AdminShutdown,
    psycopg2.errors.CrashShutdown,
    psycopg2.errors.CannotConnectNow,
)
TERMINAL_PG = (psycopg2.errors.QueryCanceled,)  # a statement timeout would time out again
# libpq's words for a connection that failed or was lost (no SQLSTATE is set for these)
CONNECTION_LOST = (
    "server closed the connection",
    "could not connect to server",
    "connection refused",
    "timeout expired",
    "connection timed out",
    "connection reset",
    "terminating connection",
    "ssl syscall error",
    "could not receive data",
    "could not send data",
    "no connection to the server",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "too many connections",
)


def is_transient(err: BaseException) -> bool:
    if isinstance(err, VaultUnreachableError):
        return True
    if isinstance(err, ExportError):
        return False
    if isinstance(err, TERMINAL_PG):
        return False
    if isinstance(err, TRANSIENT_PG):
        return True
    if isinstance(err, psycopg2.OperationalError):
        if (err.pgcode or "").startswith("08") or err.pgcode == "53300":  # connection exception, too many
            return True
        text = str(err).lower()
        return any(words in text for words in CONNECTION_LOST)
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in TRANSIENT_S3_CODES or status >= 500
    return isinstance(err, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError | ConnectTimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 20.0
    reserve_s: float = 30.0  # never start a retry with less time than this left in the invocation

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with full jitter (attempt 1 is the first retry)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)) * rng())


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    remaining_s: Callable[[], float] | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run `fn`; retry transient failures within the attempt budget and the invocation's remaining time."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as err:
            attempt += 1
            if not is_transient(err) or attempt >= policy.attempts:
                raise
            delay = policy.delay(attempt, rng)
            if remaining_s is not None and remaining_s() - delay < policy.reserve_s:
                raise
            if on_retry is not None:
                on_retry(attempt, err, delay)
            sleep(delay)
