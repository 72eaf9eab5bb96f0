import json

from stored_procs.statement import Stmt, query_tag, run


class RecordingFrame:
    def __init__(self, calls: list, text: str) -> None:
        self.calls, self.text = calls, text

    def collect(self, statement_params: dict | None = None) -> list:
        self.calls.append((self.text, statement_params))
        return []


class RecordingSession:
    def __init__(self) -> None:
        self.calls: list = []

    def sql(self, text: str, params: list | None = None) -> RecordingFrame:
        return RecordingFrame(self.calls, text)


def test_statements_inside_a_tagged_step_carry_the_table_and_run_in_their_query_tag():
    session = RecordingSession()
    run(session, Stmt("SELECT 1"))
    with query_tag(step="LOAD", table="public.orders", run="run-1"):
        run(session, Stmt("SELECT 2"))
        with query_tag(step="INTAKE"):
            run(session, Stmt("SELECT 3"))
        run(session, Stmt("SELECT 4"))
    untagged, load, intake, load_again = session.calls
    assert untagged == ("SELECT 1", None)
    tag = json.loads(load[1]["QUERY_TAG"])
    assert tag == {"app": "aurora_sync", "step": "LOAD", "table": "public.orders", "run": "run-1"}
    assert json.loads(intake[1]["QUERY_TAG"]) == {"app": "aurora_sync", "step": "INTAKE"}
    assert load_again[1] == load[1]
