"""The local runner's alert destination: `[alerts]` in sync.toml, a webhook each notice is POSTed to.

    [alerts]
    webhook_url = "https://hooks.slack.com/services/..."   # required
    format = "slack"          # "slack" | "teams" | "generic" (default: generic)
    timeout_seconds = 10      # per POST (default 10)

Which incidents, and when a notice goes out: stored_procs.monitoring.alerts (once per incident, once
when it is over), evaluated at the end of `aurora-sync run` and by `aurora-sync alerts` (`check`: for
cron, so that a stopped cron or a run that never finishes still alerts, STALE). A notice that cannot be
delivered (refused, timed out, unreachable) is a one-line warning naming the host, never a failed run;
the sending stops there and it and the rest are sent next time. The URL's path and query (where Slack and
Teams keep their secret) never appear in a message, an error or the config's repr.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests

from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.monitoring import alerts
from stored_procs.monitoring.alerts import Notice, Send
from stored_procs.spec import Place, TableSpec

FORMATS = ("generic", "slack", "teams")
KEYS = ("webhook_url", "format", "timeout_seconds")
log = logging.getLogger("aurora_sync.alerts")


@dataclass(frozen=True)
class AlertsConfig:
    webhook_url: str = field(repr=False)  # its path and query are a secret (Slack, Teams): never shown
    format: str = "generic"
    timeout_seconds: float = 10.0

    @property
    def host(self) -> str:
        """scheme://host[:port] of the webhook: what a message may name of it."""
        parsed = urlparse(self.webhook_url)
        return f"{parsed.scheme}://{parsed.netloc}"


def parse_alerts(value: Any) -> AlertsConfig:
    """The `[alerts]` section; InvalidSetting names `alerts.<key>`, the bad value and what is accepted."""
    if not isinstance(value, dict):
        raise InvalidSetting('must be a table: [alerts] with webhook_url = "https://..."', "alerts")
    if unknown := sorted(set(value) - set(KEYS)):
        raise InvalidSetting(f"unknown key; keys are {', '.join(KEYS)}", f"alerts.{unknown[0]}")
    url = value.get("webhook_url")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidSetting(f"must be an http(s) URL, got {_described(url)}", "alerts.webhook_url")
    fmt = value.get("format", "generic")
    if fmt not in FORMATS:
        raise InvalidSetting(f"must be one of {', '.join(FORMATS)}, got {fmt!r}", "alerts.format")
    timeout = value.get("timeout_seconds", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise InvalidSetting(
            f"must be a number of seconds above 0, at most 120, got {timeout!r}", "alerts.timeout_seconds"
        )
    return AlertsConfig(str(url), fmt, float(timeout))


def _described(url: Any) -> str:
    """What an error may say of a bad webhook_url: its type, or its scheme and host, never its path or
    query (where Slack and Teams keep the secret), nor the whole text (a URL without `//` is all path)."""
    if not isinstance(url, str):
        return f"a {type(url).__name__}" if url is not None else "nothing"
    parsed = urlparse(url)
    if not parsed.scheme:
        return "text that is not a URL (no scheme://)"
    return f"a URL with scheme {parsed.scheme!r} and host {parsed.netloc or '(none)'!r}"


def slack_escaped(text: str) -> str:
    """`&`, `<` and `>` as Slack's entities (Slack, "Formatting text for app surfaces", "Escaping text":
    https://api.slack.com/reference/surfaces/formatting#escaping), so `<!channel>` or `<http://x|y>` in an
    error is shown as written, never a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(notice: Notice, text: str, fmt: str) -> dict[str, Any]:
    """The JSON body: Slack incoming webhooks read `text` (escaped: `slack_escaped`); a Teams workflow webhook
    reads an Adaptive Card, whose text is one TextRun of a RichTextBlock: a TextBlock would read Markdown
    (`[x](url)` a link) while a TextRun's text is shown as it is ("TextRun": "Markdown is not supported",
    https://learn.microsoft.com/en-us/adaptive-cards/schema-explorer/text-run, schema 1.2); `generic`
    carries the text and every field of the notice, as data."""
    if fmt == "slack":
        return {"text": slack_escaped(text)}
    if fmt == "teams":
        block = {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text}]}
        card = {"type": "AdaptiveCard", "version": "1.4", "body": [block]}
        attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        return {"type": "message", "attachments": [attachment]}
    return {"text": text, **notice.to_dict()}


class AlertNotDelivered(RuntimeError):
    """The webhook refused or did not answer; the message names its host only."""


def webhook_sender(config: AlertsConfig, sla_minutes: dict[tuple[str, str], float | None]) -> Send:
    def send(notice: Notice) -> None:
        text = notice.text(sla_minutes.get((notice.source_schema, notice.source_table)))
        try:
            answer = requests.post(
                config.webhook_url, json=payload(notice, text, config.format), timeout=config.timeout_seconds
            )
        except requests.Timeout:
            raise AlertNotDelivered(f"{config.host} did not answer within {config.timeout_seconds:g} s") from None
        except requests.RequestException as err:  # its text names the whole URL: only the kind is kept
            raise AlertNotDelivered(f"{config.host} unreachable ({type(err).__name__})") from None
        if answer.status_code >= 300:
            raise AlertNotDelivered(f"{config.host} answered HTTP {answer.status_code}")

    return send


def warn(message: str) -> None:
    """One line on stderr (the logging module's last-resort handler when none is configured)."""
    log.warning("aurora-sync: %s", message)


def evaluate_local(
    session: Any, place: Place, specs: list[TableSpec], run_id: str, config: AlertsConfig
) -> dict[str, Any]:
    """The FINALIZER's alert step of `aurora-sync run` (stored_procs.monitoring.alerts.evaluate with the
    webhook). Whatever goes wrong, the run's outcome stays as it is: a warning says what."""
    sender = webhook_sender(config, {s.key: s.freshness_sla_minutes for s in specs})
    try:
        return alerts.evaluate(session, place, specs, run_id, sender, warn)
    except Exception as err:  # the control tables: the incidents are evaluated again next run
        warn(f"alerts not evaluated ({type(err).__name__}: {err}); evaluated again next run")
        return {"opened": [], "recovered": [], "undelivered": [], "error": str(err)}


def check(session: Any, config: Any) -> dict[str, Any]:
    """`aurora-sync alerts`: the incidents evaluated and what waits sent, with no run (`evaluate_local`;
    the incidents it opens are named `alerts-<run id>/...`). `config` is a SyncConfig with `alerts` set."""
    from stored_procs.orchestration.runs import new_run_id

    return evaluate_local(session, config.place, list(config.tables), f"alerts-{new_run_id()}", config.alerts)
