import psycopg2
import psycopg2.errors
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lambda_exporter.errors import EventError, SourceError
from lambda_exporter.retry import RetryPolicy, call_with_retries, is_transient
from lambda_exporter.secrets import VaultSealedError, VaultUnreachableError


def _s3_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(
    "err",
    [
        psycopg2.OperationalError("server closed the connection unexpectedly"),
        psycopg2.OperationalError('connection to server at "db" (10.0.0.1), port 5432 failed: Connection refused'),
        psycopg2.OperationalError("FATAL:  the database system is starting up"),
        psycopg2.errors.SerializationFailure("could not serialize access"),
        psycopg2.errors.DeadlockDetected("deadlock detected"),
        _s3_error("SlowDown", 503),
        _s3_error("InternalError", 500),
        EndpointConnectionError(endpoint_url="https://s3"),
        VaultUnreachableError("Vault at https://v is unreachable"),
    ],
)
def test_transient(err):
    assert is_transient(err)


@pytest.mark.parametrize(
    "err",
    [
        SourceError("table public.x does not exist"),
        EventError("mode", "bad"),
        VaultSealedError("sealed"),
        psycopg2.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg2.errors.InsufficientPrivilege("permission denied for table x"),
        psycopg2.OperationalError('FATAL:  password authentication failed for user "x"'),
        psycopg2.OperationalError('FATAL:  database "nope" does not exist'),
        psycopg2.OperationalError('FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "x"'),
        psycopg2.errors.ProgramLimitExceeded("row is too big"),
        _s3_error("AccessDenied", 403),
        _s3_error("NoSuchBucket", 404),
        ValueError("unknown"),
    ],
)
def test_terminal(err):
    assert not is_transient(err)


class Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def test_transient_failures_are_retried_with_growing_capped_delays():
    flaky = Flaky([_s3_error("SlowDown", 503)] * 3)
    slept: list[float] = []
    policy = RetryPolicy(attempts=5, base_delay_s=1, max_delay_s=3)
    assert call_with_retries(flaky, policy, sleep=slept.append, rng=lambda: 1.0) == "done"
    assert flaky.calls == 4
    assert slept == [1, 2, 3]


def test_jitter_scales_the_delay():
    assert RetryPolicy(base_delay_s=4).delay(2, rng=lambda: 0.25) == 2.0


def test_terminal_errors_fail_at_once():
    flaky = Flaky([SourceError("no table")])
    with pytest.raises(SourceError):
        call_with_retries(flaky, RetryPolicy(), sleep=lambda _: None)
    assert flaky.calls == 1


def test_the_attempt_budget_is_bounded():
    flaky = Flaky([_s3_error("SlowDown", 503)] * 10)
    with pytest.raises(ClientError):
        call_with_retries(flaky, RetryPolicy(attempts=3), sleep=lambda _: None)
    assert flaky.calls == 3


def test_no_retry_starts_without_enough_invocation_time_left():
    flaky = Flaky([_s3_error("SlowDown", 503)])
    with pytest.raises(ClientError):
        call_with_retries(
            flaky, RetryPolicy(reserve_s=30), remaining_s=lambda: 30.5, sleep=lambda _: None, rng=lambda: 1.0
        )
    assert flaky.calls == 1
