"""Snowflake identifiers: validated, then double-quoted here and nowhere else.

Source names keep their exact spelling; target names default to the upper-cased source name, so
unquoted queries in Snowflake find them (`public.orders` -> `PUBLIC.ORDERS`).
"""

from __future__ import annotations

import hashlib
import re

from sync_contract.errors import IdentifierError

MAX_IDENTIFIER_LENGTH = 255


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


def slug(schema: str, name: str) -> str:
    """A stable, S3- and stage-path-safe folder name for a table (no spaces, no `key=value`).

    The readable part is lossy, so a hash of the exact name keeps distinct tables apart.
    """
    readable = re.sub(r"[^a-z0-9]+", "_", f"{schema}.{name}".lower()).strip("_")[:80] or "table"
    digest = hashlib.sha256(f"{schema}\x00{name}".encode()).hexdigest()[:8]
    return f"{readable}-{digest}"
