"""Snowflake identifiers: validated, then double-quoted here and nowhere else.

Source names keep their exact spelling; target names default to the upper-cased source name, so
unquoted queries in Snowflake find them (`public.orders` -> `PUBLIC.ORDERS`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from sync_contract.errors import IdentifierError

MAX_IDENTIFIER_LENGTH = 255

# Names Snowflake refuses as column names even double-quoted: "Cannot be used as column name (reserved by
# ANSI)" ("Reserved & limited keywords", https://docs.snowflake.com/en/sql-reference/reserved-keywords).
# `CREATE TABLE t ("CURRENT_DATE" …)` fails with "invalid column definition name 'CURRENT_DATE' (ANSI
# reserved)"; the same letters in another case are another (quoted) identifier and are accepted.
RESERVED_COLUMN_NAMES = frozenset(
    ("CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "LOCALTIME", "LOCALTIMESTAMP")
)


def validate_identifier(name: str, what: str = "identifier") -> str:
    if not isinstance(name, str) or name == "":
        raise IdentifierError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise IdentifierError(f"{what} {name[:40]!r}... is longer than {MAX_IDENTIFIER_LENGTH} characters")
    if "\x00" in name:
        raise IdentifierError(f"{what} {name!r} contains a NUL character")
    return name


def quote_ident(name: str, what: str = "identifier") -> str:
    """`name` as one double-quoted Snowflake identifier, embedded quotes doubled."""
    validate_identifier(name, what)
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(*parts: str) -> str:
    """A dotted name of quoted parts: quote_qualified("DB", "S", "T") -> "DB"."S"."T"."""
    return ".".join(quote_ident(p) for p in parts)


def split_qualified(name: str, what: str = "table") -> tuple[str, str]:
    """Split `schema.name` (either part may be double-quoted to contain dots) into its two parts."""
    parts = split_parts(name, what)
    if len(parts) != 2:
        raise IdentifierError(
            f"{what} name {name!r} must be schema.name, e.g. public.orders "
            '(double-quote a part that contains a dot: public."a.b")'
        )
    return parts[0], parts[1]


def join_parts(*parts: str) -> str:
    """The inverse of `split_parts`: parts joined by dots, a part quoted only when it holds a dot or a quote."""
    return ".".join(quote_ident(p) if "." in p or '"' in p else validate_identifier(p) for p in parts)


def split_parts(name: str, what: str = "object") -> list[str]:
    """Split a dotted name into its validated parts; double quotes keep dots inside a part."""
    parts: list[str] = []
    buf: list[str] = []
    i, quoted = 0, False
    while i < len(name):
        ch = name[i]
        if quoted:
            if ch == '"' and i + 1 < len(name) and name[i + 1] == '"':
                buf.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ".":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted:
        raise IdentifierError(f"{what} name {name!r} has an unterminated double quote")
    parts.append("".join(buf))
    return [validate_identifier(p, f"part of {what} name {name!r}") for p in parts]


def target_name(source_name: str) -> str:
    """The default Snowflake name for a PostgreSQL name: upper-cased, otherwise verbatim."""
    return validate_identifier(source_name).upper()


SLUG = re.compile(r"[a-z0-9_]+-[0-9a-f]{8}")  # what `slug` returns: nothing a regular expression reads as special


def slug(schema: str, name: str) -> str:
    """A stable, S3- and stage-path-safe folder name for a table (no spaces, no `key=value`).

    The readable part is lossy, so a hash of the exact name keeps distinct tables apart.
    """
    readable = re.sub(r"[^a-z0-9]+", "_", f"{schema}.{name}".lower()).strip("_")[:80] or "table"
    digest = hashlib.sha256(f"{schema}\x00{name}".encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def collision_key(name: str) -> str:
    """A comparison key: two identifiers with equal keys may name one Snowflake object, so they are
    treated as one name (two tables never load into one target). Not an identifier itself.

    Snowflake stores an unquoted identifier upper-cased and a double-quoted one exactly ("Identifier
    requirements", https://docs.snowflake.com/en/sql-reference/identifiers-syntax: `mytable` and
    `"MYTABLE"` are one table). The parameter QUOTED_IDENTIFIERS_IGNORE_CASE (account, user or
    session) makes quoted identifiers case-insensitive too (Snowflake's "SnowConvert: QUOTED_IDENTIFIER"
    page, https://docs.snowflake.com/en/migrations/snowconvert-docs/translation-references/transact/transact-quoted-identifier).
    This project quotes every identifier but cannot see that parameter, so names equal once upper-cased
    are one name. How letters beyond ASCII are upper-cased, and whether names are normalized, is not
    documented, so the key takes the widest usual folding: Unicode compatibility caseless matching
    (NFKD and full case folding, Unicode D146: 'straße' is 'STRASSE', the ligature U+FB01 is 'FI',
    fullwidth letters are ASCII) after Unicode upper-casing (the dotless i, U+0131, is 'I'), the dotted
    capital I (U+0130) read as 'I' (a Turkish-locale upper-casing maps 'i' to it), and format characters
    (zero-width space, soft hyphen) dropped as NFKC_Casefold drops them. Refusing two names Snowflake
    would keep apart costs a `target`; letting through two that it folds into one loses rows.
    """
    text = unicodedata.normalize("NFKD", validate_identifier(name)).upper()
    text = re.sub("(?<=I)\u0307", "", text)  # U+0130 decomposes to I + COMBINING DOT ABOVE
    for _ in range(2):  # D146: NFKD(casefold(NFKD(casefold(NFD(X))))), upper-cased first
        text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
