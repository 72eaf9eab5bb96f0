"""statement.run runs a statement again when Snowflake aborted it for the lock-waiter limit (error 625,
read from the error number), with a growing random backoff and a bounded number of attempts; any
other error is raised at once."""

from __future__ import annotations

from typing import Any

import pytest
from snowflake.connector.errors import ProgrammingError
from snowflake.snowpark.exceptions import SnowparkSQLException

from stored_procs.statement import LOCK_RETRY, LockRetry, Stmt, is_lock_abort, run


def _abort() -> ProgrammingError:
    return ProgrammingError(msg="Statement was aborted: too many waiters for the lock", errno=625)


class Driver:
    """The driver boundary: each statement's frame fails with the next queued error, then returns rows."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.sent: list[tuple[str, list[Any] | None]] = []

    def sql(self, text: str, params: list[Any] | None = None) -> Any:
        self.sent.append((text, params))
        driver = self

        class Frame:
            def collect(self, statement_params: dict[str, str] | None = None) -> list[Any]:
                if driver.errors:
                    raise driver.errors.pop(0)
                return [("ok",)]

        return Frame()


def test_a_statement_aborted_for_the_lock_waiter_limit_runs_again_after_a_growing_backoff():
    driver, slept = Driver([_abort(), _abort(), _abort()]), []
    rows = run(driver, Stmt("UPDATE T SET X = ? WHERE K = ?", (1, "k")), sleep=slept.append)
    assert rows == [("ok",)]
    assert driver.sent == [("UPDATE T SET X = ? WHERE K = ?", [1, "k"])] * 4  # the same statement and binds
    assert len(slept) == 3 and all(0 <= s <= LOCK_RETRY.base_s * 2**i for i, s in enumerate(slept))


def test_snowparks_wrapping_of_the_connector_error_is_recognised_by_its_number():
    wrapped = SnowparkSQLException("(1304): 01b2...: 000625 (57014): Statement ... was aborted", conn_error=_abort())
    assert is_lock_abort(wrapped) and is_lock_abort(_abort())
    driver = Driver([wrapped])
    assert run(driver, Stmt("DELETE FROM T"), sleep=lambda _: None) == [("ok",)]
    # the number decides, not the words: a message that says "lock" with another number is not retried
    other = ProgrammingError(msg="the number of waiters for this lock exceeds the 20 statements limit", errno=2003)
    assert not is_lock_abort(other)
    assert not is_lock_abort(SnowparkSQLException("625 waiters", conn_error=other))


def test_the_attempts_are_bounded_and_the_last_abort_is_raised():
    policy = LockRetry(attempts=3, base_s=0.01, cap_s=0.02)
    driver, slept = Driver([_abort() for _ in range(5)]), []
    with pytest.raises(ProgrammingError) as raised:
        run(driver, Stmt("MERGE INTO T USING S ON T.K = S.K WHEN MATCHED THEN DELETE"), policy, slept.append)
    assert raised.value.errno == 625 and len(driver.sent) == 3 and len(slept) == 2
    assert all(s <= 0.02 for s in slept)


def test_any_other_error_is_raised_at_once():
    driver = Driver([ProgrammingError(msg="SQL compilation error: Object does not exist", errno=2003)])
    with pytest.raises(ProgrammingError, match="does not exist"):
        run(driver, Stmt("SELECT 1"), sleep=lambda _: pytest.fail("no backoff for other errors"))
    assert len(driver.sent) == 1


def test_the_backoff_is_full_jitter_capped():
    policy = LockRetry(attempts=8, base_s=0.5, cap_s=4.0)
    assert [policy.delay(n, lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(3, lambda: 0.0) == 0.0
