"""One Snowflake table per source: the rule that keeps two replicated tables out of one target.

Two sources loading into one target would both report SUCCEEDED while their rows mix and overwrite
each other (a MERGE on one table's key, a replace swapping the other's rows away). `target_clash` is
the rule, pure; `sync.toml` (aurora_sync.config) applies it to its tables, and ADD_TABLE /
CONFIGURE_TABLE (stored_procs.configuration.table_config) to the new table against every other row of SYNC_TABLES.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from stored_procs.loading import history
from stored_procs.loading.replace import SHADOW_SUFFIX
from stored_procs.spec import TableSpec
from sync_contract.identifiers import collision_key, quote_ident, quote_qualified

CONTROL_TABLES = "the sync's own tables (SYNC_TABLES, MANIFESTS, WATERMARKS, RUNS, …) and its staging tables"
# Schemas no table can be created in, in any database: INFORMATION_SCHEMA is "a read-only schema" Snowflake
# creates in every database ("Snowflake Information Schema", https://docs.snowflake.com/en/sql-reference/info-schema)
READ_ONLY_SCHEMAS = {"INFORMATION_SCHEMA": "Snowflake's read-only views of the database's objects"}


def read_only_schema(schema: str) -> str | None:
    """Why no table can be created in schema `schema` (compared as Snowflake may resolve it), or None."""
    for name, holds in READ_ONLY_SCHEMAS.items():
        if collision_key(schema) == collision_key(name):
            return (
                f"{quote_ident(schema)} is {name}, a read-only schema of every database ({holds}); "
                "choose another schema"
            )
    return None


def target_key(spec: TableSpec) -> tuple[str, str]:
    """The table's target as Snowflake may resolve it (`collision_key` of schema and name)."""
    return collision_key(spec.target_schema), collision_key(spec.target_table)


def shown_target(spec: TableSpec) -> str:
    """The target as the statements name it: `"PUBLIC"."ORDERS"` (quoted, so case and dots show)."""
    return quote_qualified(spec.target_schema, spec.target_table)


def target_clash(
    spec: TableSpec,
    others: Iterable[TableSpec],
    reserved_schemas: Mapping[str, str],
    removed: Collection[tuple[str, str]] = (),
) -> str | None:
    """Why `spec` cannot load where it is configured to, or None when it can.

    `others`: the other configured tables (a spec with `spec`'s own source is skipped); `removed`:
    (source schema, source table) of those no longer replicated (REMOVE_TABLE keeps their target table and ADD_TABLE
    resumes them, so their targets stay taken); `reserved_schemas`: schema name -> what it holds.
    Refused, in this order: a target in a reserved schema; a target named like a shadow table
    (`<TARGET>__AURORA_SYNC_SHADOW`, stored_procs.loading.replace); a target that resolves to another table's
    (`collision_key`), or a history table's `<TARGET>_CURRENT` view (stored_procs.loading.history); a
    staging table name shared with another table (an 8-hex-digit hash of the
    source names, stored_procs.spec.TableSpec.staging_name, coincides). The message names both sources,
    the shared object and the fix.
    """
    target = shown_target(spec)
    for schema, holds in {**READ_ONLY_SCHEMAS, **reserved_schemas}.items():
        if collision_key(spec.target_schema) == collision_key(schema):
            return (
                f"{spec.source}: target {target} is in schema {quote_ident(schema)}, which holds {holds}; "
                "give the table a target in another schema"
            )
    if collision_key(spec.target_table).endswith(collision_key(SHADOW_SUFFIX)):
        return (
            f"{spec.source}: target {target} ends in {SHADOW_SUFFIX}, the suffix of the shadow table a replace "
            f"builds beside each target (<TARGET>{SHADOW_SUFFIX}); give the table a target with another name"
        )
    for other in others:
        if _source(other) == _source(spec):
            continue
        state = (
            " (removed from replication, but its target table is kept and ADD_TABLE resumes it, so its target "
            "stays taken)"
            if _source(other) in removed
            else ""
        )
        if target_key(other) == target_key(spec):
            same = "" if shown_target(other) == target else f" and {target} (which Snowflake may resolve as one)"
            return (
                f"{other.source}{state} and {spec.source} would both load into {shown_target(other)}{same}: "
                f"their rows would mix and overwrite each other. Give {spec.source} a target of its own "
                "(option `target`, 'SCHEMA.TABLE')"
            )
        for keeper, holder in ((other, spec), (spec, other)):  # a history table's view over its current rows
            view = keeper.target_table + history.VIEW_SUFFIX
            if keeper.history and (collision_key(keeper.target_schema), collision_key(view)) == target_key(holder):
                return (
                    f"{keeper.source}{state if keeper is other else ''} keeps history in {shown_target(keeper)} "
                    f"and creates the view {quote_qualified(keeper.target_schema, view)} over its current rows, "
                    f"which is {holder.source}'s target {shown_target(holder)}: the view and the table would share "
                    "one name. "
                    f"Give {spec.source} another target (option `target`, 'SCHEMA.TABLE')"
                )
        if other.staging_name == spec.staging_name:
            return (
                f"{other.source}{state} and {spec.source} would share the staging table "
                f"{quote_ident(spec.staging_name)} (their names hash alike); replicate one of them under "
                "another name (a view over it)"
            )
    return None


def _source(spec: TableSpec) -> tuple[str, str]:
    return spec.source_schema, spec.source_table
