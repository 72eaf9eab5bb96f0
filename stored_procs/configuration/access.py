"""Where the app may write, and who may read what it writes.

Snowflake's access control (https://docs.snowflake.com/en/user-guide/security-access-control-overview,
"Overview of Access Control"; CREATE TABLE / CREATE SCHEMA "Access control requirements"): creating a
table needs USAGE on the database and the schema and CREATE TABLE on the schema; the schema's owner has
them all. A consumer grants a Native App `USAGE, CREATE SCHEMA` on the target database, so the app owns
the schemas it creates there, but not `PUBLIC`, which every database has and its owner owns
("Application roles in the Snowflake Connector for PostgreSQL": privileges on a destination schema the
application does not own are granted by hand). Hence:

- `default_target_schema`: a table configured without a target goes to the schema named after its
  source schema, except `PUBLIC` and `INFORMATION_SCHEMA` (which exist in every database): `PG_PUBLIC`.
- `check_database` (SET_TARGET_DATABASE) and `prepare_schema` (ADD_TABLE, CONFIGURE_TABLE,
  CHECK_READY) verify the privileges by doing what the load will do (create a schema, create and drop a
  table), and name the GRANT that is missing.
- Readers: Snowflake's database connectors give a DATA_READER application role USAGE and SELECT on
  every schema and table they create (same page). The app's is AURORA_SYNC_READER; the plain
  deployment takes an account role (setting `reader_role`). A target table gets SELECT when it is
  created and its shadow before each swap (`ALTER TABLE ... SWAP WITH` swaps the grants with the
  tables: https://docs.snowflake.com/en/sql-reference/sql/alter-table, "SWAP WITH"), so readers keep
  their access across replaces; ADD COLUMN and RENAME COLUMN keep grants.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from stored_procs.configuration import app_config
from stored_procs.spec import APP_READER_ROLE, Place, TableSpec
from stored_procs.statement import Stmt, error_number, run
from sync_contract.identifiers import quote_ident, quote_qualified, target_name

# schemas Snowflake creates in every database (CREATE DATABASE): owned by the database's owner
EVERY_DATABASE_HAS = ("PUBLIC", "INFORMATION_SCHEMA")
DEFAULT_SCHEMA_PREFIX = "PG_"
CHECK_PREFIX = "_AURORA_SYNC_PRIVILEGE_CHECK_"


def default_target_schema(source_schema: str) -> str:
    """The app's target schema for a source schema: its upper-cased name (`sales` -> `SALES`), except
    for a schema every Snowflake database already has (`public` -> `PG_PUBLIC`)."""
    name = target_name(source_schema)
    return DEFAULT_SCHEMA_PREFIX + name if name in EVERY_DATABASE_HAS else name


# --------------------------------------------------------------------------- statements (pure)


def create_schema(database: str, schema: str) -> Stmt:
    return Stmt(f"CREATE SCHEMA IF NOT EXISTS {quote_qualified(database, schema)}")


def probe_table(database: str, schema: str, token: str) -> tuple[Stmt, Stmt]:
    """CREATE and DROP of an empty transient table: what a first load does in the schema."""
    name = quote_qualified(database, schema, CHECK_PREFIX + token)
    return Stmt(f"CREATE TRANSIENT TABLE {name} (X INT)"), Stmt(f"DROP TABLE IF EXISTS {name}")


def probe_schema(database: str, token: str) -> tuple[Stmt, Stmt]:
    name = quote_qualified(database, CHECK_PREFIX + token)
    return Stmt(f"CREATE TRANSIENT SCHEMA {name}"), Stmt(f"DROP SCHEMA IF EXISTS {name}")


def grant_usage(database: str, schema: str, grantee: str) -> Stmt:
    return Stmt(f"GRANT USAGE ON SCHEMA {quote_qualified(database, schema)} TO {grantee}")


def grant_select(table: str, grantee: str) -> Stmt:
    """`table`: a quoted, qualified name."""
    return Stmt(f"GRANT SELECT ON TABLE {table} TO {grantee}")


# --------------------------------------------------------------------------- who


def reader(session: Any, place: Place) -> str | None:
    """The grantee readers' privileges go to: `APPLICATION ROLE AURORA_SYNC_READER` in the app,
    `ROLE "<reader_role>"` in the plain deployment (None if it set none), None for the local runner
    (its role owns what it creates)."""
    if not place.grants_readers:
        return None
    settings = app_config.read(session, place)
    if settings.get(app_config.DEPLOYMENT) == app_config.PLAIN:
        role = settings.get(app_config.READER_ROLE)
        return f"ROLE {quote_ident(role)}" if role else None
    return f"APPLICATION ROLE {APP_READER_ROLE}"


def grantee_hint(session: Any, place: Place) -> str:
    """How the consumer names this deployment in a GRANT: `APPLICATION "<app>"` inside the app, the
    owner role of the plain deployment's procedures, `ROLE <your role>` for the local runner."""
    if place.grants_readers and place.database:
        settings = app_config.read(session, place)
        if settings.get(app_config.DEPLOYMENT) != app_config.PLAIN:
            return f"APPLICATION {quote_ident(place.database)}"
    rows = run(session, Stmt("SELECT CURRENT_ROLE() AS R"))
    return f"ROLE {quote_ident(rows[0][0])}" if rows and rows[0][0] else "ROLE <role>"


# --------------------------------------------------------------------------- checks


# Snowflake's error numbers for a refused privilege: 3001 "Insufficient privileges to operate on …",
# 2003 "… does not exist or not authorized", 2043 "Object does not exist, or operation cannot be
# performed". Any other error (a network failure, a bug) is raised as it is, not reported as a grant.
ACCESS_ERRORS = (2003, 2043, 3001)


def _refused(err: Exception) -> bool:
    return error_number(err) in ACCESS_ERRORS


def _or_name_the_grant(session: Any, place: Place, statements: list[Stmt], refusal: Callable[[str, str], str]) -> None:
    """Run `statements`; a privilege error becomes NotConfigured(refusal(Snowflake's reason, the
    deployment's grantee)), any other error is raised as it is."""
    try:
        for stmt in statements:
            run(session, stmt)
    except Exception as err:
        if not _refused(err):
            raise
        raise app_config.NotConfigured(refusal(_reason(err), grantee_hint(session, place))) from err


def check_database(session: Any, place: Place, database: str) -> None:
    """SET_TARGET_DATABASE: the app can create schemas in `database` (creates and drops one).
    Raises NotConfigured naming the GRANT."""
    create, drop = probe_schema(database, uuid.uuid4().hex[:8].upper())
    name = quote_ident(database)
    _or_name_the_grant(
        session,
        place,
        [create],
        lambda reason, who: (
            f"cannot create a schema in database {name} ({reason}); the consumer runs "
            f"GRANT USAGE, CREATE SCHEMA ON DATABASE {name} TO {who}"
        ),
    )
    run(session, drop)


def prepare_schema(session: Any, place: Place, database: str, schema: str) -> list[str]:
    """The target schema exists and the app can create tables in it (created if missing; a table is
    created and dropped to prove it), and readers have USAGE on it. Returns notes (a schema the app
    does not own: its USAGE is the consumer's to grant). Raises NotConfigured naming the GRANT."""
    where = quote_qualified(database, schema)
    create, drop = probe_table(database, schema, uuid.uuid4().hex[:8].upper())
    _or_name_the_grant(
        session,
        place,
        [create_schema(database, schema), create],
        lambda reason, who: (
            f"cannot create tables in schema {where} ({reason}). Either the consumer runs "
            f"GRANT USAGE, CREATE TABLE ON SCHEMA {where} TO {who} (and GRANT USAGE ON DATABASE "
            f"{quote_ident(database)}), or give the table a target in a schema the app creates itself: "
            f"CALL CORE.CONFIGURE_TABLE('<schema>.<table>', {{'target': '<NEW_SCHEMA>.<TABLE>'}})"
        ),
    )
    run(session, drop)  # the app owns the probe it created
    grantee = reader(session, place)
    return [] if grantee is None else _let_readers_use(session, database, schema, grantee)


def _grant_or_note(session: Any, grant: Stmt, note: Callable[[str], str]) -> list[str]:
    """Run a GRANT to the readers; when Snowflake refuses it (an object the app does not own, a
    managed-access schema), `[note(reason)]` instead: a reader grant never fails what asked for it."""
    try:
        run(session, grant)
    except Exception as err:
        return [note(_reason(err))]
    return []


def _let_readers_use(session: Any, database: str, schema: str, grantee: str) -> list[str]:
    """GRANT USAGE on the schema to the readers; a note instead when the app does not own it."""
    where = quote_qualified(database, schema)
    return _grant_or_note(
        session,
        grant_usage(database, schema, grantee),
        lambda reason: (
            f"schema {where} belongs to another role ({reason}): its owner grants USAGE on it to the "
            "roles that read the replicated tables"
        ),
    )


def _let_readers_select(session: Any, table: str, grantee: str) -> list[str]:
    return _grant_or_note(
        session,
        grant_select(table, grantee),
        lambda reason: f"SELECT on {table} not granted to {grantee} ({reason}): the schema's owner grants it",
    )


def _present(session: Any, database: str, schemas: list[str]) -> set[tuple[str, str]]:
    """(schema, table) of the tables that exist in these schemas of `database`."""
    return {(r[0], r[1]) for r in run(session, existing_tables(database, schemas))}


def let_readers_read_existing(session: Any, place: Place, database: str, specs: list[TableSpec]) -> list[str]:
    """ENABLE_SCHEDULE, the step an upgrade ends with: USAGE on every target schema and SELECT on every
    existing target for the readers (targets loaded before this release, or before the plain
    deployment had a reader role, get them here; granting again changes nothing). Returns notes for
    what the app cannot grant."""
    grantee = reader(session, place)
    schemas = sorted({s.target_schema for s in specs})
    if grantee is None or not schemas:
        return []
    present = _present(session, database, schemas)
    notes = [note for schema in schemas for note in _let_readers_use(session, database, schema, grantee)]
    for spec in specs:
        if (spec.target_schema, spec.target_table) in present:
            notes += [f"{spec.source}: {n}" for n in _let_readers_select(session, spec.target(database), grantee)]
    return notes


def existing_tables(database: str, schemas: list[str]) -> Stmt:
    marks = ", ".join("?" for _ in schemas)
    return Stmt(
        f"SELECT TABLE_SCHEMA AS S, TABLE_NAME AS T FROM {quote_qualified(database, 'INFORMATION_SCHEMA', 'TABLES')} "
        f"WHERE TABLE_SCHEMA IN ({marks})",
        tuple(schemas),
    )


def prepare_new_targets(session: Any, place: Place, database: str, specs: list[TableSpec]) -> list[str]:
    """CHECK_READY: `prepare_schema` for each schema holding a target table that does not exist yet (a
    table configured before SET_TARGET_DATABASE, or whose schema was dropped); an existing target
    proves its schema was writable. A refused schema is a note, not a failure of the graph run: its
    tables' loads fail naming the GRANT (`ready_target`) and the other tables load (one table must not
    fail the root task, which Snowflake suspends after repeated failures)."""
    schemas = sorted({s.target_schema for s in specs})
    if not schemas:
        return []
    present = _present(session, database, schemas)
    notes: list[str] = []
    for schema in sorted({s.target_schema for s in specs if (s.target_schema, s.target_table) not in present}):
        try:
            notes += prepare_schema(session, place, database, schema)
        except app_config.NotConfigured as refused:  # those tables' loads fail, naming it; the others run
            tables = ", ".join(s.source for s in specs if s.target_schema == schema)
            notes.append(f"{tables}: {refused}")
    return notes


def let_readers_select(session: Any, place: Place, table: str) -> list[str]:
    """GRANT SELECT on a table the app created (a new target, or a shadow before its swap) to the
    readers, if the deployment has any. `table`: quoted, qualified. A refusal (a managed-access schema
    the consumer owns, where only its owner grants) never fails the load: it is returned as a note."""
    grantee = reader(session, place)
    return [] if grantee is None else _let_readers_select(session, table, grantee)


def ready_target(session: Any, place: Place, database: str, spec: TableSpec, replacing: bool, present: bool) -> None:
    """Before a table's load creates a table in its target schema (its first load, `present` False; or a
    replace, which builds a shadow table beside the target): `prepare_schema`, so a schema the app may not
    write (or no longer may: a revoked grant) fails the table's load with the GRANT named (NotConfigured),
    before any batch is touched: its manifests stay pending, and the other tables load."""
    if replacing or not present:
        prepare_schema(session, place, database, spec.target_schema)


def _reason(err: Exception) -> str:
    text = str(getattr(err, "raw_message", None) or err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__
