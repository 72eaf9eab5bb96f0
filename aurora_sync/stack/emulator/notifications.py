"""Notification integrations and SYSTEM$SEND_SNOWFLAKE_NOTIFICATION, which fakesnow lacks.

Modelled on "CREATE NOTIFICATION INTEGRATION (webhooks)"
(https://docs.snowflake.com/en/sql-reference/sql/create-notification-integration-webhooks) and
"SYSTEM$SEND_SNOWFLAKE_NOTIFICATION"
(https://docs.snowflake.com/en/sql-reference/stored-procedures/system_send_snowflake_notification):

- `CREATE [OR REPLACE] NOTIFICATION INTEGRATION [IF NOT EXISTS] <name> TYPE = WEBHOOK | EMAIL ...` keeps
  the integration (WEBHOOK_URL, WEBHOOK_BODY_TEMPLATE, WEBHOOK_HEADERS) in the server process.
- `GRANT USAGE ON INTEGRATION <name> TO ROLE | APPLICATION <grantee>` lets that grantee use it; a session
  logged in with a role may send only through an integration granted to its role (the emulator's
  stand-in for the application: `privileges`), as Snowflake refuses a name the caller may not use.
- `CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(<message>, <integration configuration>)`, both JSON strings
  (literals or binds): the message's text replaces SNOWFLAKE_WEBHOOK_MESSAGE in the body template (the
  whole body without one) and is POSTed to WEBHOOK_URL, with WEBHOOK_HEADERS. An email integration's
  messages are kept in `SENT` only. Every message sent is kept in `SENT` (integration, content type, text).

Leniency, on purpose: Snowflake accepts only https URLs of Slack, Teams and PagerDuty; the emulator also
posts to any http(s) URL, so that a test's receiver on 127.0.0.1 gets what Slack would.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from typing import Any

_CREATE = re.compile(
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?NOTIFICATION\s+INTEGRATION\s+(IF\s+NOT\s+EXISTS\s+)?"
    r"(?P<name>\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_$]*)\s+(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_GRANT = re.compile(
    r"^\s*GRANT\s+USAGE\s+ON\s+INTEGRATION\s+(?P<name>\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_$]*)\s+TO\s+"
    r"(ROLE|APPLICATION)\s+(?P<grantee>\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_$]*)\s*;?\s*$",
    re.IGNORECASE,
)
_SEND = re.compile(
    r"^\s*CALL\s+SYSTEM\$SEND_SNOWFLAKE_NOTIFICATION\s*\((?P<args>.*)\)\s*;?\s*$", re.IGNORECASE | re.DOTALL
)
_STRING = r"'((?:[^']|'')*)'"

INTEGRATIONS: dict[str, dict[str, Any]] = {}
SENT: list[dict[str, str]] = []
_LOCK = threading.Lock()


def _name(token: str) -> str:
    return token[1:-1].replace('""', '"') if token.startswith('"') else token.upper()


def _option(rest: str, key: str) -> str | None:
    match = re.search(rf"\b{key}\s*=\s*{_STRING}", rest, re.IGNORECASE | re.DOTALL)
    return match.group(1).replace("''", "'") if match else None


def _headers(rest: str) -> dict[str, str]:
    match = re.search(r"\bWEBHOOK_HEADERS\s*=\s*\((?P<pairs>.*?)\)", rest, re.IGNORECASE | re.DOTALL)
    pairs = re.findall(rf"{_STRING}\s*=\s*{_STRING}", match.group("pairs")) if match else []
    return {k.replace("''", "'"): v.replace("''", "'") for k, v in pairs}


def create(command: str) -> bool:
    """Keep a CREATE NOTIFICATION INTEGRATION; False when `command` is not one."""
    match = _CREATE.match(command)
    if match is None:
        return False
    rest = match.group("rest")
    kind = re.search(r"\bTYPE\s*=\s*(\w+)", rest, re.IGNORECASE)
    name = _name(match.group("name"))
    with _LOCK:
        if match.group(2) and name in INTEGRATIONS:
            return True
        INTEGRATIONS[name] = {
            "type": (kind.group(1) if kind else "").upper(),
            "url": _option(rest, "WEBHOOK_URL"),
            "template": _option(rest, "WEBHOOK_BODY_TEMPLATE"),
            "headers": _headers(rest),
            "grantees": set(),
        }
    return True


def grant(command: str) -> bool:
    match = _GRANT.match(command)
    if match is None or _name(match.group("name")) not in INTEGRATIONS:
        return False  # another integration kind: the emulator's own handling
    with _LOCK:
        INTEGRATIONS[_name(match.group("name"))]["grantees"].add(_name(match.group("grantee")))
    return True


def _arguments(args: str, params: Any) -> tuple[str, str]:
    if params:
        return str(params[0]), str(params[1])
    values = [v.replace("''", "'") for v in re.findall(_STRING, args)]
    if len(values) != 2:
        raise ValueError("SYSTEM$SEND_SNOWFLAKE_NOTIFICATION takes a message and an integration configuration")
    return values[0], values[1]


def send(command: str, params: Any, role: str | None) -> bool:
    """Deliver a SYSTEM$SEND_SNOWFLAKE_NOTIFICATION call; False when `command` is not one. Raises
    ValueError with Snowflake's kind of message for an unknown or ungranted integration or bad JSON."""
    match = _SEND.match(command)
    if match is None:
        return False
    message_json, config_json = _arguments(match.group("args"), params)
    try:
        message, config = json.loads(message_json), json.loads(config_json)
    except json.JSONDecodeError as err:
        raise ValueError(f"Invalid JSON passed to SYSTEM$SEND_SNOWFLAKE_NOTIFICATION: {err}") from None
    if not isinstance(message, dict) or len(message) != 1 or not isinstance(config, dict) or len(config) != 1:
        raise ValueError(
            'SYSTEM$SEND_SNOWFLAKE_NOTIFICATION takes {"<content type>": "<text>"} and {"<integration>": {}}'
        )
    (content_type, text), (name,) = next(iter(message.items())), list(config)
    with _LOCK:
        integration = INTEGRATIONS.get(name)
        allowed = integration is not None and (role is None or role in integration["grantees"])
    if not allowed:
        raise ValueError(f"Integration '{name}' does not exist or not authorized.")
    assert integration is not None
    SENT.append({"integration": name, "content_type": content_type, "text": str(text)})
    if integration["type"] == "WEBHOOK" and integration["url"]:
        template = integration["template"]
        body = template.replace("SNOWFLAKE_WEBHOOK_MESSAGE", str(text)) if template else str(text)
        headers = integration["headers"] or {"Content-Type": "text/plain"}
        if not str(integration["url"]).startswith(("http://", "https://")):
            raise ValueError(f"Integration '{name}': WEBHOOK_URL must be an https URL")
        request = urllib.request.Request(integration["url"], data=body.encode(), headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (http(s) only, checked above)
            answer.read()
    return True


def patch(duck_conn: Any = None) -> None:
    """Answer the three statements above before fakesnow (and the privilege model) sees them."""
    del duck_conn
    import snowflake.connector.errors
    from fakesnow import cursor

    from aurora_sync.stack.emulator import privileges

    original = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        params = kwargs.get("binding_params") or (args[0] if args else None)
        try:
            if create(command):
                return original(self, "SELECT 'Integration successfully created.' AS \"status\"")
            if grant(command):
                return original(self, "SELECT 'Statement executed successfully.' AS \"status\"")
            if send(command, params, privileges._ROLES.get(id(self._conn))):  # the session's login role
                return original(self, "SELECT NULL AS SYSTEM$SEND_SNOWFLAKE_NOTIFICATION")
        except (ValueError, OSError) as err:
            raise snowflake.connector.errors.ProgrammingError(msg=str(err), errno=2003, sqlstate="02000") from None
        return original(self, command, *args, **kwargs)

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]
