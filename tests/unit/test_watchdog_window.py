"""How long the watchdog waits for a finished graph run before GRAPH_IDLE (stored_procs.monitoring.watchdog):
3 schedule intervals, at least 30 minutes, for every schedule form CREATE TASK takes."""

import pytest

from stored_procs.monitoring import watchdog

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("schedule", "minutes"),
    [
        ("60 MINUTES", 180.0),
        ("10 MINUTES", 30.0),
        ("5 MINUTES", 30.0),  # never under 30 minutes
        ("2 HOURS", 360.0),
        ("900 SECONDS", 45.0),
        ("USING CRON 0 * * * * UTC", 180.0),  # hourly
        ("USING CRON 30 2 * * * UTC", 4320.0),  # daily
    ],
)
def test_the_idle_window_is_three_intervals_and_at_least_thirty_minutes(schedule, minutes):
    assert watchdog.idle_minutes(schedule) == minutes
