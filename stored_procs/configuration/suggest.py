"""Hints for a configuration key that names a column the table does not have: `did you mean …?` (the
difflib rule of aurora_sync/config.py's unknown keys) and, for a transform written over a renamed column's
source name, the target name it should use. Pure; used by rename, transform and type_overrides errors."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from sync_contract.identifiers import target_name

_WORDS = re.compile(r"'(?:[^'\\]|\\.|'')*'|\$\$.*?\$\$|\"(?:[^\"]|\"\")*\"|[A-Za-z_][A-Za-z0-9_$]*", re.S)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` naming the candidate closest to `name` (the same name in another case first,
    then difflib's closest at ratio 0.6 or more, compared without case), or "" when none is close."""
    known = list(dict.fromkeys(candidates))
    same = [c for c in known if c.casefold() == name.casefold() and c != name]
    if same:
        return f" (did you mean {same[0]!r}? names are case-sensitive)"
    by_fold = {c.casefold(): c for c in known}
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=1, cutoff=0.6)
    return f" (did you mean {by_fold[close[0]]!r}?)" if close else ""


def source_names_in(expression: str, rename: Mapping[str, str]) -> str:
    """`; transforms name target columns: note is NOTE_TEXT` for each renamed source column that
    `expression` names by its source name (unquoted in any case, or quoted as its default target name),
    its default target name not being the rename's; "" for none. Strings are skipped."""
    named = set()
    for word in _WORDS.findall(expression):
        if word[0] == "'" or word.startswith("$$"):
            continue
        named.add(word[1:-1].replace('""', '"') if word[0] == '"' else word.upper())
    found = [
        f"{source} is {target}"
        for source, target in rename.items()
        if target_name(source) != target and target_name(source) in named and target not in named
    ]
    return f"; transforms name target columns: {', '.join(found)}" if found else ""
