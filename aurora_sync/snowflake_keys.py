"""Which keys `[snowflake]` may hold: this project's own, and the parameters the installed connector's
`snowflake.connector.connect()` accepts, read from the connector itself (never a hand list): the keys
of `snowflake.connector.connection.DEFAULT_CONFIGURATION`, which `connect()` checks its keyword
arguments against (and only warns about an unknown one), and the named parameters of
`SnowflakeConnection.__init__` (`connection_name`, `connections_file_path`). A typo such as
`warehous` would otherwise reach `connect()` and be ignored with a warning nobody reads."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from functools import cache


@cache
def connector_parameters() -> frozenset[str]:
    from snowflake.connector.connection import DEFAULT_CONFIGURATION, SnowflakeConnection

    named = {
        name
        for name, p in inspect.signature(SnowflakeConnection.__init__).parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return frozenset(DEFAULT_CONFIGURATION) | named


def unknown_key(keys: Iterable[str], own: Iterable[str]) -> tuple[str, str] | None:
    """The first key (sorted) that is neither one of `own` nor a connector parameter, and why, with the
    closest accepted key when there is one (difflib): ('warehous', '... did you mean warehouse?')."""
    accepted = sorted(set(own) | connector_parameters())
    for key in sorted(keys):
        if key in accepted:
            continue
        guess = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
        hint = f"did you mean {guess[0]}?" if guess else f"this project's keys are {', '.join(sorted(own))}"
        return key, f"unknown key (not this project's, not a snowflake.connector.connect() parameter); {hint}"
    return None
