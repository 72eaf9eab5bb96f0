"""A minimal privilege model, so a statement Snowflake would refuse for want of a grant fails here too.

fakesnow has no roles and no grants (a GRANT is a parse error). Snowflake decides by ownership and
grants ("Overview of Access Control": https://docs.snowflake.com/en/user-guide/security-access-control-overview;
"Access control privileges": https://docs.snowflake.com/en/user-guide/security-access-control-privileges):

- the role that creates a database, schema or table owns it; CREATE DATABASE also creates schema
  PUBLIC, owned by the database's owner (CREATE DATABASE);
- creating a schema needs CREATE SCHEMA on the database, creating a table or view CREATE TABLE /
  CREATE VIEW on the schema (or owning it); dropping, swapping or renaming a table needs owning it;
- reading a table needs SELECT on it and USAGE on its schema and database (or owning them);
  writing needs INSERT / UPDATE / DELETE / TRUNCATE on it (or owning it);
- only an object's owner grants privileges on it; `ALTER TABLE a SWAP WITH b` swaps the two tables'
  grants with their contents (ALTER TABLE, "SWAP WITH"); DROP removes them; CREATE OR REPLACE starts
  without grants, unless COPY GRANTS, which keeps the replaced object's grants;
- a role has the privileges of the roles granted to it (GRANT ROLE, GRANT APPLICATION ROLE).

What this models: sessions that log in with a role (the connector's `role`) are checked, for
databases, schemas, tables and views created through the emulator since it started. Sessions without
a role act as an account administrator: never checked, and what they create is owned by no session
role (like a consumer's objects, as seen by an app). Objects whose creation the emulator did not see
are not checked. Not modelled: future grants, MANAGE GRANTS, stages, procedures, tasks and
integrations (a GRANT on those is accepted and ignored), database roles, REVOKE of role grants.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

Name = tuple[str, ...]  # ("DB",), ("DB", "SCHEMA") or ("DB", "SCHEMA", "TABLE"), exact (resolved) names

_IDENT = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_GRANTEE = (
    rf"(?P<grantee_kind>APPLICATION\s+ROLE|DATABASE\s+ROLE|ROLE|APPLICATION|SHARE|USER)\s+(?P<grantee>{_QUALIFIED})"
)
_GRANT_OBJECT = re.compile(
    rf"^\s*(?P<verb>GRANT|REVOKE)\s+(?P<privileges>.+?)\s+ON\s+(?P<kind>ALL\s+TABLES\s+IN\s+SCHEMA|FUTURE\s+\w+\s+IN\s+\w+"
    rf"|DATABASE|SCHEMA|TABLE|VIEW|[A-Z][A-Z ]*?)\s+(?P<name>{_QUALIFIED})(?:\s*\([^)]*\))?"
    rf"\s+(?:TO|FROM)\s+{_GRANTEE}\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_GRANT_ROLE = re.compile(
    rf"^\s*GRANT\s+(?:APPLICATION\s+ROLE|DATABASE\s+ROLE|ROLE)\s+(?P<role>{_QUALIFIED})\s+TO\s+{_GRANTEE}\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_GRANT_ROLE_KIND = re.compile(r"^\s*GRANT\s+(?P<kind>APPLICATION\s+ROLE|DATABASE\s+ROLE|ROLE)\s", re.IGNORECASE)
_WRITES = {"Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE", "Merge": "INSERT", "TruncateTable": "TRUNCATE"}


class Refused(Exception):
    """A statement the session's role may not run: (message, errno, sqlstate) as Snowflake reports it."""


def _parts(text: str) -> list[str]:
    """`a."B c".d` -> ["A", "B c", "D"]: unquoted upper-cased, quoted verbatim (Identifier requirements)."""
    parts = []
    for match in re.finditer(_IDENT, text):
        token = match.group(0)
        parts.append(token[1:-1].replace('""', '"') if token.startswith('"') else token.upper())
    return parts


def _grantee(kind: str, name: str) -> str:
    kind = " ".join(kind.upper().split())
    last = _parts(name)[-1]  # an application role's app qualifier is dropped: one app per name here
    return f"{kind} {last}"


@dataclass
class Catalog:
    """Owners and grants of what the emulator saw created. Owner None: created without a role."""

    owners: dict[Name, str | None] = field(default_factory=dict)
    grants: set[tuple[str, Name, str]] = field(default_factory=set)  # (privilege, object, grantee)
    members: dict[str, set[str]] = field(default_factory=dict)  # grantee -> grantees granted to it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def roles_of(self, role: str) -> set[str]:
        seen, todo = set(), [f"ROLE {role}"]
        while todo:
            grantee = todo.pop()
            if grantee not in seen:
                seen.add(grantee)
                todo += self.members.get(grantee, ())
        return seen

    def owns(self, role: str, name: Name) -> bool:
        return name not in self.owners or self.owners[name] == role

    def may(self, role: str, privilege: str, name: Name) -> bool:
        if self.owns(role, name):
            return True
        held = self.roles_of(role)
        return any((p, name, g) in self.grants for g in held for p in (privilege, "ALL", "ALL PRIVILEGES"))

    def forget(self, name: Name) -> None:
        self.owners = {k: v for k, v in self.owners.items() if k[: len(name)] != name}
        self.grants = {g for g in self.grants if g[1][: len(name)] != name}

    def move(self, old: Name, new: Name) -> None:
        if old in self.owners:
            self.owners[new] = self.owners.pop(old)
        self.grants = {(p, new if n == old else n, g) for p, n, g in self.grants}


CATALOG = Catalog()
_ROLES: dict[int, str] = {}  # id(fakesnow connection) -> the role its session logged in with


class _Session:
    def __init__(self, role: str | None, database: str | None, schema: str | None) -> None:
        self.role, self.database, self.schema = role, database, schema

    def table(self, table: Any) -> Name:
        parts = [p for p in (table.args.get("catalog"), table.args.get("db"), table.args.get("this")) if p]
        names = [p.name if p.args.get("quoted") else p.name.upper() for p in parts]
        while len(names) < 3:
            names.insert(0, (self.schema if len(names) == 1 else self.database) or "")
        return tuple(names)


def _refuse(message: str, errno: int = 3001, sqlstate: str = "42501") -> Refused:
    return Refused(message, errno, sqlstate)


def _ident_name(identifier: Any) -> str:
    return str(identifier.name if identifier.args.get("quoted") else identifier.name.upper())


def _created(session: _Session, expression: Any) -> tuple[str, Name, Any] | None:
    """(kind, name, the name's node) of a CREATE or DROP: DATABASE ("D",), SCHEMA ("D", "S"),
    TABLE/VIEW ("D", "S", "T"); None for what it cannot name."""
    from sqlglot import exp

    if not isinstance(expression, (exp.Create, exp.Drop)):
        return None
    kind = expression.args.get("kind")
    target = expression.this.this if isinstance(expression.this, exp.Schema) else expression.this
    if target is None and expression.args.get("tables"):  # DROP lists its objects
        target = expression.args["tables"][0]
    if not isinstance(kind, str) or not isinstance(target, exp.Table):
        return None
    kind = kind.upper()
    parts = [_ident_name(p) for p in (target.args.get(k) for k in ("catalog", "db", "this")) if p is not None]
    if kind == "DATABASE":
        return (kind, (parts[-1],), target) if parts else None
    if kind == "SCHEMA":  # CREATE SCHEMA d.s parses as (catalog d, db s), DROP SCHEMA d.s as (db d, this s)
        if len(parts) == 1:
            return kind, (session.database or "", parts[0]), target
        return kind, (parts[-2], parts[-1]), target
    return kind, session.table(target), target


def check(catalog: Catalog, session: _Session, expression: Any) -> None:
    """Raise Refused if the session's role may not run the parsed statement."""
    from sqlglot import exp

    role = session.role
    if role is None:
        return
    created = _created(session, expression)
    ddl_target = created[2] if created is not None else None
    if isinstance(expression, exp.Create) and created is not None:
        kind, name, _ = created
        if kind == "SCHEMA" and not (name in catalog.owners and expression.args.get("exists")):
            if not catalog.may(role, "CREATE SCHEMA", name[:1]):
                raise _refuse(f"Insufficient privileges to operate on database '{name[0]}'")
        elif kind in ("TABLE", "VIEW") and not catalog.may(role, f"CREATE {kind}", name[:2]):
            raise _refuse(f"Insufficient privileges to operate on schema '{name[1]}'")
    elif isinstance(expression, exp.Drop) and created is not None:
        kind, name, _ = created
        if not catalog.owns(role, name):
            raise _refuse(f"Insufficient privileges to operate on {kind.lower()} '{name[-1]}'")
    elif isinstance(expression, exp.Alter):
        for table in expression.find_all(exp.Table):
            if table.name and not catalog.owns(role, name := session.table(table)):
                raise _refuse(f"Insufficient privileges to operate on table '{name[2]}'")
        return
    written = _WRITES.get(type(expression).__name__)
    write_target = expression.this if written else None
    for table in expression.find_all(exp.Table):
        if not table.name or table is ddl_target:
            continue
        name = session.table(table)
        if name not in catalog.owners:
            continue  # not a table the emulator saw created (a CTE, a function's table)
        privilege = (written or "SELECT") if table is write_target else "SELECT"
        usable = catalog.may(role, "USAGE", name[:1]) and catalog.may(role, "USAGE", name[:2])
        if not (usable and catalog.may(role, privilege, name)):
            raise _refuse(f"Object '{'.'.join(name)}' does not exist or not authorized.", 2003, "02000")


def record(catalog: Catalog, session: _Session, expression: Any) -> None:
    """After a statement succeeded: the ownership it creates, moves or ends."""
    from sqlglot import exp

    owner = session.role
    created = _created(session, expression)
    if isinstance(expression, exp.Create) and created is not None:
        kind, name, _ = created
        if kind not in ("DATABASE", "SCHEMA", "TABLE", "VIEW"):
            return
        if expression.args.get("replace"):
            # COPY GRANTS: the replaced object's grants carry over to the replacement, its owner is the
            # creating role ("CREATE VIEW", https://docs.snowflake.com/en/sql-reference/sql/create-view;
            # "CREATE TABLE", COPY GRANTS)
            kept = {g for g in catalog.grants if g[1] == name} if expression.find(exp.CopyGrantsProperty) else set()
            catalog.forget(name)
            catalog.grants |= kept
        if name not in catalog.owners:
            catalog.owners[name] = owner
            if kind == "DATABASE" and (*name, "PUBLIC") not in catalog.owners:
                catalog.owners[(*name, "PUBLIC")] = owner
    elif isinstance(expression, exp.Drop) and created is not None:
        kind, name, _ = created
        if kind in ("DATABASE", "SCHEMA", "TABLE", "VIEW"):
            catalog.forget(name)
    elif isinstance(expression, exp.Alter):
        tables = [session.table(t) for t in expression.find_all(exp.Table) if t.name]
        if expression.find(exp.SwapTable) is not None and len(tables) == 2:
            first, second = tables
            parked = ("", "", "\x00swap")
            catalog.move(first, parked)
            catalog.move(second, first)
            catalog.move(parked, second)
        elif expression.find(exp.AlterRename) is not None and len(tables) == 2:
            catalog.move(tables[0], tables[1])


def grant(catalog: Catalog, session: _Session, command: str) -> bool:
    """Apply a GRANT / REVOKE (False: not one). Only an object's owner grants on it (Refused)."""
    if match := _GRANT_ROLE.match(command):
        role_kind = _GRANT_ROLE_KIND.match(command)
        granted = " ".join(role_kind["kind"].upper().split()) if role_kind else "ROLE"
        grantee = _grantee(match["grantee_kind"], match["grantee"])
        catalog.members.setdefault(grantee, set()).add(f"{granted} {_parts(match['role'])[-1]}")
        return True
    match = _GRANT_OBJECT.match(command)
    if match is None:
        return False
    kind = " ".join(match["kind"].upper().split())
    parts = _parts(match["name"])
    if kind in ("DATABASE", "SCHEMA", "TABLE", "VIEW", "ALL TABLES IN SCHEMA"):
        depth = {"DATABASE": 1, "SCHEMA": 2, "ALL TABLES IN SCHEMA": 2}.get(kind, 3)
        defaults = [session.database or "", session.schema or ""]
        name: Name = tuple(defaults[: depth - len(parts)] + parts) if len(parts) < depth else tuple(parts[-depth:])
        objects = [n for n in catalog.owners if len(n) == 3 and n[:2] == name] if kind.startswith("ALL") else [name]
        for each in objects:
            if session.role is not None and not catalog.owns(session.role, each):
                raise _refuse(f"Insufficient privileges to operate on '{'.'.join(each)}'")
        grantee = _grantee(match["grantee_kind"], match["grantee"])
        privileges = [" ".join(p.upper().split()) for p in match["privileges"].split(",")]
        for each in objects:
            for privilege in privileges:
                entry = (privilege, each, grantee)
                if match["verb"].upper() == "GRANT":
                    catalog.grants.add(entry)
                else:
                    catalog.grants.discard(entry)
    return True  # other objects (procedures, tasks, stages, integrations): accepted, not modelled


_DDL = re.compile(r"^\s*(CREATE|DROP|ALTER)\b", re.IGNORECASE)
_OK = "SELECT 'Statement executed successfully.' AS \"status\""


def patch(duck_conn: Any) -> None:
    """Check every statement of a session that logged in with a role, and record what all sessions
    create and grant."""
    del duck_conn
    import snowflake.connector.errors
    from fakesnow import cursor
    from fakesnow.dialect import parse_one
    from sqlglot import exp

    _remember_login_roles()
    original = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        session = _Session(_ROLES.get(id(self._conn)), self._conn.database, self._conn.schema)
        try:
            with CATALOG.lock:
                if grant(CATALOG, session, command):
                    return original(self, _OK)
            expression = parse_one(command) if session.role is not None or _DDL.match(command) else None
            if expression is not None and session.role is not None:
                with CATALOG.lock:
                    check(CATALOG, session, expression)
        except Refused as refused:
            message, errno, sqlstate = refused.args
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"SQL access control error: {message}", errno=errno, sqlstate=sqlstate
            ) from None
        except Exception:  # a statement we cannot parse: fakesnow reports it below
            expression = None
        result = original(self, command, *args, **kwargs)
        if expression is None:
            return result
        with CATALOG.lock:
            record(CATALOG, session, expression)
        created = _created(session, expression)
        if created is not None and created[0] == "DATABASE" and isinstance(expression, exp.Create):
            # CREATE DATABASE also creates schema PUBLIC (https://docs.snowflake.com/en/sql-reference/sql/create-database)
            database = created[1][0].replace('"', '""')
            original(self._conn.cursor(), f'CREATE SCHEMA IF NOT EXISTS "{database}"."PUBLIC"')
        return result

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


def _remember_login_roles() -> None:
    """The server's login handler, wrapped: the connector sends its `role` as the `roleName` query
    parameter; the new session's connection is remembered with it."""
    from starlette.routing import Route, request_response

    server = importlib.import_module("fakesnow.server")
    for route in server.app.router.routes:
        if isinstance(route, Route) and route.path.endswith("login-request"):
            login = route.endpoint

            async def with_role(request: Any, login: Any = login) -> Any:
                response = await login(request)
                role = request.query_params.get("roleName")
                if role:
                    token = json.loads(response.body)["data"]["token"]
                    _ROLES[id(server.sessions[token])] = _parts(role)[-1] if _parts(role) else role
                return response

            route.endpoint = with_role
            route.app = request_response(with_role)
