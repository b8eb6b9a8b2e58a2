"""Reading a run's trace back: its trace id from the run's state, and Phoenix's spans as rows."""

from __future__ import annotations

from agentlab.observability.traces import root_span_id_of, spans_frame, trace_id_of

TRACEPARENT = "00-2ce891e011b0d02e0fb1bbe62fe0858d-9d019b860c41240a-01"


def test_a_runs_trace_and_root_span_come_from_the_traceparent_its_state_keeps():
    state = {"trace": {"traceparent": TRACEPARENT}}
    assert trace_id_of(state) == "2ce891e011b0d02e0fb1bbe62fe0858d"
    assert root_span_id_of(state) == "9d019b860c41240a"


def test_a_run_that_was_not_traced_has_no_trace_id():
    assert trace_id_of({}) is None
    assert trace_id_of({"trace": {"traceparent": "garbage"}}) is None
    assert root_span_id_of({"trace": None}) is None


def span(name: str, start: str, end: str, kind: str, **attributes: object) -> dict[str, object]:
    return {
        "name": name,
        "context": {"trace_id": "t", "span_id": name},
        "span_kind": kind,
        "start_time": start,
        "end_time": end,
        "status_code": "OK",
        "attributes": attributes,
    }


def test_spans_become_rows_oldest_first_with_their_main_attributes_as_columns():
    frame = spans_frame(
        [
            span(
                "llm planner",
                "2026-11-25T10:00:01+00:00",
                "2026-11-25T10:00:01.250000+00:00",
                "LLM",
                **{"llm.model_name": "claude-sonnet-4-6", "llm.cost.total": 0.01, "x.y": 1},
            ),
            span("run", "2026-11-25T10:00:00+00:00", "2026-11-25T10:00:02+00:00", "AGENT"),
        ]
    )
    assert list(frame["name"]) == ["run", "llm planner"]
    planner = frame.iloc[1]
    assert (planner["kind"], planner["model"], planner["cost_usd"]) == (
        "LLM",
        "claude-sonnet-4-6",
        0.01,
    )
    assert planner["latency_ms"] == 250
    assert planner["attributes"] == {"x.y": 1}  # the rest stays, nothing is lost
