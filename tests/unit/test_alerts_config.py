"""[alerts] and freshness_sla_minutes, validated on entry; what a notice says and how each format carries it."""

import tomllib

import pytest

from aurora_sync.alerts import payload
from aurora_sync.config import ConfigError, parse_config
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.table_config import build_spec, spec_options
from stored_procs.monitoring.alerts import Notice, notification_call, plain
from tests.unit.test_config import BASE


def test_alerts_section_and_sla_parse() -> None:
    doc = BASE + 'freshness_sla_minutes = 90\n[alerts]\nwebhook_url = "https://hooks.slack.com/services/T/B/X"\n'
    config = parse_config(tomllib.loads(doc + 'format = "slack"\ntimeout_seconds = 3\n'))
    assert config.tables[0].freshness_sla_minutes == 90.0
    assert config.alerts is not None and (config.alerts.format, config.alerts.timeout_seconds) == ("slack", 3.0)
    assert config.alerts.host == "https://hooks.slack.com"
    assert parse_config(tomllib.loads(BASE)).alerts is None


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[alerts]\nwebhook_url = "hooks.slack.com/x"\n', "alerts.webhook_url"),
        ("[alerts]\n", "alerts.webhook_url"),
        ('[alerts]\nwebhook_url = "https://h/x"\nformat = "pagerduty"\n', "alerts.format"),
        ('[alerts]\nwebhook_url = "https://h/x"\ntimeout_seconds = 0\n', "alerts.timeout_seconds"),
        ('[alerts]\nwebhook_url = "https://h/x"\nurl = "https://h/y"\n', "alerts.url"),
        ("freshness_sla_minutes = 0\n", "tables[0].freshness_sla_minutes"),
        ('freshness_sla_minutes = "90"\n', "tables[0].freshness_sla_minutes"),
        ("freshness_sla_minutes = 600000\n", "tables[0].freshness_sla_minutes"),
    ],
)
def test_bad_alert_settings_name_their_key(extra: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(BASE + extra))
    assert err.value.key == key


def test_the_app_option_is_kept_and_refused_alike() -> None:
    spec = build_spec({"source": "public.t", "primary_key": ["id"], "mode": "full", "freshness_sla_minutes": 15})
    assert spec_options(spec)["freshness_sla_minutes"] == 15.0
    with pytest.raises(InvalidSetting, match="must be a number"):
        build_spec({"source": "public.t", "primary_key": ["id"], "mode": "full", "freshness_sla_minutes": True})


NOTICE = Notice("run-1/RUN_FAILED/public.t", "RUN_FAILED", "public", "t", 'bad "x"\nline2', "2026-01-02 03:04:05.123")


def test_a_notice_is_one_line_a_body_template_can_hold() -> None:
    text = NOTICE.text()
    assert text == "aurora-sync ALERT public.t: run failed: bad 'x' line2 (since 2026-01-02 03:04:05 UTC)"
    assert plain("a SNOWFLAKE_WEBHOOK_MESSAGE \\ b") == "a SNOWFLAKE-WEBHOOK-MESSAGE / b"
    stale = Notice("i", "STALE", "public", "t", "no successful run within the freshness SLA", "2026-01-02")
    assert "no successful run within 90 minutes" in stale.text(90.0)
    call = notification_call("MY_HOOK", text)
    assert call.text == "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(?, ?)"
    assert call.params == ('{"text/plain": "' + text + '"}', '{"MY_HOOK": {}}')


def test_each_format_carries_the_text() -> None:
    text = NOTICE.text()
    assert payload(NOTICE, text, "slack") == {"text": text}
    card = payload(NOTICE, text, "teams")["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["inlines"][0]["text"] == text
    generic = payload(NOTICE, text, "generic")
    assert (generic["event"], generic["kind"], generic["table"], generic["closed_at"]) == (
        "opened",
        "RUN_FAILED",
        "public.t",
        None,
    )
