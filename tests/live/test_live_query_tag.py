"""S2 of the Snowflake audit: a per-statement QUERY_TAG inside an owner's-rights procedure.

Owner's-rights procedures (every procedure of the app and of the plain deployment) cannot run
ALTER SESSION ("Understanding caller's rights and owner's rights stored procedures"), so the product
sets the tag per statement: Snowpark's `collect(statement_params={"QUERY_TAG": ...})`
(stored_procs/statement.py). This registers an EXECUTE AS OWNER Python procedure whose handler
(tests/live/query_tag_procedure.py) imports the product's stored_procs package and runs statements
through it, calls it, and reads the caller's session history: the tagged statements carry the tag, the
statement after the `with` block does not, and the CALL succeeded (a refused statement parameter
would fail it).

Environment: tests/live/account.py (AURORA_SYNC_LIVE_CONNECTION, AURORA_SYNC_LIVE_DATABASE). The role
needs CREATE PROCEDURE and CREATE STAGE in its own new schema (owning the schema gives them).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, quote_qualified
from tests.live.account import DATABASE, account_session, needs_account, records, scratch_schema, wait_for

pytestmark = needs_account
ROOT = Path(__file__).resolve().parents[2]


def _register(session: Any, schema: str) -> str:
    from snowflake.snowpark.types import StringType

    stage = quote_qualified(DATABASE, schema, "CODE")
    run(session, Stmt(f"CREATE STAGE {stage}"))
    name = quote_qualified(DATABASE, schema, "LIVE_QUERY_TAG")
    session.sproc.register_from_file(
        file_path=str(ROOT / "tests" / "live" / "query_tag_procedure.py"),
        func_name="main",
        return_type=StringType(),
        input_types=[StringType()],
        name=name,
        is_permanent=True,
        stage_location=f"@{stage}",
        imports=[(str(ROOT / "stored_procs"), "stored_procs"), (str(ROOT / "sync_contract"), "sync_contract")],
        packages=["snowflake-snowpark-python"],
        execute_as="owner",
        replace=True,
    )
    described = records(session, Stmt(f"DESCRIBE PROCEDURE {name}(VARCHAR)"))
    execute_as = {d["property"]: d["value"] for d in described}.get("execute as")
    assert execute_as == "OWNER", described
    return name


def _history(session: Any) -> list[dict[str, Any]]:
    """This session's recent statements: a procedure's statements run in its caller's session."""
    fn = f"{quote_ident(DATABASE)}.INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION"
    return records(
        session,
        Stmt(f"SELECT QUERY_TEXT, QUERY_TAG, EXECUTION_STATUS FROM TABLE({fn}(RESULT_LIMIT => 1000)) AS h"),
    )


def test_statements_in_an_owners_rights_procedure_carry_their_own_query_tag() -> None:
    marker = f"live-s2-{uuid.uuid4().hex[:12]}"
    with account_session() as session, scratch_schema(session, "S2") as schema:
        procedure = _register(session, schema)
        returned = run(session, Stmt(f"CALL {procedure}(?)", (marker,)))[0][0]
        assert json.loads(returned) == [marker, f"{marker}-tagged-again", f"{marker}-untagged"]

        def tagged_and_untagged() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
            history = _history(session)
            tagged = [h for h in history if marker in (h["QUERY_TAG"] or "")]
            untagged = [h for h in history if "'-untagged'" in (h["QUERY_TEXT"] or "")]
            return (tagged, untagged) if len(tagged) >= 2 and untagged else None

        tagged, untagged = wait_for(
            "the procedure's tagged statements in QUERY_HISTORY_BY_SESSION (if the CALL succeeded but they never "
            "show, look in SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY: docs/SNOWFLAKE_COMPATIBILITY.md, S2)",
            tagged_and_untagged,
            120,
        )
        texts = [h["QUERY_TEXT"] for h in tagged]
        assert any("-tagged-again" in t for t in texts), texts
        assert any("AS MARKER" in t and "-tagged-again" not in t for t in texts), texts
        for h in tagged:
            assert json.loads(h["QUERY_TAG"]) == {"app": "aurora_sync", "marker": marker, "step": "LIVE_S2"}, h
            assert h["EXECUTION_STATUS"] == "SUCCESS", h
        assert all(marker not in (h["QUERY_TAG"] or "") for h in untagged), (
            f"the tag leaked past the query_tag block: {untagged}"
        )
