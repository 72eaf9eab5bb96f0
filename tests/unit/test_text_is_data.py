"""Issue 15 review: what users and webhooks see shows data as it is. Rich markup in an error or a table name
is printed, not parsed (`status`, the CLI's messages); Slack and Teams bodies cannot turn an error into a
mention or a link; a webhook URL's secret path is in no error and no repr; the user's connector timeouts
win."""

from __future__ import annotations

import tomllib

import pytest

from aurora_sync.alerts import AlertsConfig, parse_alerts, payload, slack_escaped
from aurora_sync.cli import main
from aurora_sync.config import ConfigError, parse_config
from aurora_sync.snowflake import connect_arguments
from aurora_sync.status import TableStatus
from aurora_sync.status_report import render
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.monitoring.alerts import Notice
from tests.unit.test_config import BASE

pytestmark = pytest.mark.unit

MARKUP = "value [/bold] rejected [red]x[/] [/x] [link=http://evil]y[/link]"


@pytest.mark.parametrize("history", [False, True])
def test_status_prints_markup_in_errors_and_names_as_text(history: bool) -> None:
    run = {"run_id": "r", "started_at": None, "finished_at": "2026-11-29T23:01:00Z", "status": "FAILED"}
    run |= {"rows_loaded": 0, "rows_quarantined": 0, "duration_s": 0.1, "watermark": None, "lag_minutes": None}
    table = TableStatus(
        "public.[red]odd[/x]",
        "FAILED",
        last_run_status="FAILED",
        last_run_error=MARKUP,
        history=[{**run, "error": MARKUP}],
    )
    text = render([table], 160, history=history)
    assert "public.[red]odd[/x]" in text and MARKUP in text
    narrow = " ".join(render([table], 80, history=history).split())  # the reason under the table: wrapped
    assert "[/bold] rejected [red]x[/] [/x]" in narrow


def test_a_config_error_with_markup_is_printed_as_written(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cfg [").mkdir()
    path = tmp_path / "cfg [" / "x] [red].toml"  # its name holds "[/x] [red]"
    path.write_text(BASE.replace('primary_key = ["order_id"]', 'primary_key = ["order_id"]\nzzz = "[red]"'))
    assert main(["status", "--config", str(path)]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "zzz" in out and "cfg [/x] [red].toml" in out


def test_the_webhook_url_is_in_no_error_and_no_repr() -> None:
    secret = "https://hooks.slack.com/services/T0/B0/SECRET"
    assert "SECRET" not in repr(parse_alerts({"webhook_url": secret}))
    assert "SECRET" not in repr(AlertsConfig(secret))
    for bad in ("ftp://hooks.example/services/SECRET", "hooks.slack.com/services/SECRET", "https:///SECRET?x=1"):
        with pytest.raises(InvalidSetting) as err:
            parse_alerts({"webhook_url": bad})
        assert "SECRET" not in str(err.value), str(err.value)
    with pytest.raises(ConfigError) as err2:
        parse_config(tomllib.loads(BASE + '[alerts]\nwebhook_url = "ftp://h.example/services/SECRET"\n'))
    assert "SECRET" not in str(err2.value) and "'ftp'" in str(err2.value) and "h.example" in str(err2.value)


NOTICE = Notice("i", "RUN_FAILED", "public", "t", "x", "2026-01-02")


def test_slack_and_teams_show_an_error_as_written() -> None:
    text = "ALERT public.t: <!channel> <http://evil|click> a & b [x](http://evil) ![](http://tracker)"
    slack = payload(NOTICE, text, "slack")["text"]
    assert slack == slack_escaped(text) and "<" not in slack and ">" not in slack
    assert slack.count("&amp;") == 1 and "&lt;!channel&gt;" in slack
    card = payload(NOTICE, text, "teams")["attachments"][0]["content"]
    (block,) = card["body"]
    assert block["type"] == "RichTextBlock" and block["inlines"] == [{"type": "TextRun", "text": text}]
    assert payload(NOTICE, text, "generic")["text"] == text  # data for a program: as it is


def test_the_users_timeouts_win_on_any_protocol() -> None:
    mine = {"protocol": "http", "login_timeout": 5, "network_timeout": 7, "host": "h"}
    args = connect_arguments(mine, "DB")
    assert (args["login_timeout"], args["network_timeout"], args["database"]) == (5, 7, "DB")
    assert connect_arguments({"protocol": "https"}, "DB")["login_timeout"] == 20  # ours when none is given
    # no network_timeout of ours: the connector cancels any statement running longer than it
    assert "network_timeout" not in connect_arguments({"protocol": "https"}, "DB")
    assert "network_timeout" not in connect_arguments({"protocol": "http"}, "DB")
