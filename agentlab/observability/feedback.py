"""A person's verdict on a run (good or bad, and why): kept with the run record, and attached to the
run's trace in Phoenix as an annotation of its root span, so runs can be filtered by satisfaction
in either.

Phoenix's REST API is called with httpx directly: ``phoenix.client`` loads the whole Phoenix server
package when it is installed alongside (12-20 s), which the command line cannot afford.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from agentlab.errors import AgentlabError
from agentlab.observability.traces import root_span_id_of
from agentlab.store.base import RunStore
from agentlab.store.records import Feedback, RunRecord

if TYPE_CHECKING:
    import httpx

ANNOTATION_NAME = "user feedback"
SCORES: Mapping[str, float] = {"good": 1.0, "bad": 0.0}
# Phoenix files a span a moment after it was exported: how long to wait for a run's root span.
SPAN_WAIT_S = 10.0
_REQUEST_TIMEOUT_S = 10.0
_TRACES_PATH = "/v1/traces"


class FeedbackError(AgentlabError):
    """A verdict that is neither good nor bad."""


@dataclass(frozen=True, slots=True)
class FeedbackGiven:
    """What became of a verdict. It is always kept with the run (``feedback``); ``outcome`` says
    whether it is in Phoenix too: ``attached`` (to span ``span_id`` in Phoenix at
    ``phoenix_url``), ``untraced`` (the run has no trace, or no Phoenix is configured: the run
    record is its only home) or ``failed`` (Phoenix did not take it); ``reason`` says why not."""

    feedback: Feedback
    outcome: Literal["attached", "untraced", "failed"]
    reason: str = ""
    span_id: str | None = None
    phoenix_url: str | None = None

    @property
    def attached(self) -> bool:
        return self.outcome == "attached"


def check_score(score: str) -> str:
    """``score`` if it is good or bad; else a ``FeedbackError`` saying so."""
    if score not in SCORES:
        raise FeedbackError(f"feedback is good or bad, not {score!r}")
    return score


def phoenix_url_for(
    otlp_endpoint: str | None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """Phoenix's base URL, from where runs export their spans: ``otlp_endpoint`` (else the
    standard ``OTEL_EXPORTER_OTLP_*`` variables) without its ``/v1/traces``; ``None`` if spans go
    nowhere, or to an endpoint that is not Phoenix's shape."""
    endpoint = otlp_endpoint or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if endpoint:
        endpoint = endpoint.rstrip("/")
        return endpoint.removesuffix(_TRACES_PATH) if endpoint.endswith(_TRACES_PATH) else None
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").rstrip("/")
    return base or None


async def give_feedback(
    store: RunStore,
    record: RunRecord,
    state: Mapping[str, Any],
    *,
    score: str,
    comment: str = "",
    by: str,
    phoenix_url: str | None,
    wait_s: float = SPAN_WAIT_S,
) -> FeedbackGiven:
    """Keep ``by``'s verdict on the run of ``record`` (its latest ``state`` names its trace),
    replacing any given before, then attach it to the run's root span in Phoenix at
    ``phoenix_url`` (in a worker thread: up to ``wait_s`` for the span, when Phoenix has not filed
    it yet)."""
    feedback = Feedback(
        record.run_id,
        check_score(score),
        comment.strip(),
        by,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    await store.set_feedback(feedback)
    span_id = root_span_id_of(state)
    if span_id is None:
        return FeedbackGiven(
            feedback,
            "untraced",
            f"run {record.run_id} was not traced (no otlp_endpoint was configured when it ran)",
        )
    if phoenix_url is None:
        return FeedbackGiven(
            feedback,
            "untraced",
            "no Phoenix is configured: otlp_endpoint (AGENTLAB_OTLP_ENDPOINT) names none, and "
            "'agentlab phoenix' is not running",
            span_id,
        )
    metadata = {"run_id": record.run_id, "principal": record.principal, "by": by}
    problem = await asyncio.to_thread(
        annotate_span, phoenix_url, span_id, feedback, metadata=metadata, wait_s=wait_s
    )
    if problem is not None:
        return FeedbackGiven(feedback, "failed", problem, span_id, phoenix_url)
    return FeedbackGiven(feedback, "attached", "", span_id, phoenix_url)


def annotate_span(
    phoenix_url: str,
    span_id: str,
    feedback: Feedback,
    *,
    metadata: Mapping[str, Any],
    wait_s: float = SPAN_WAIT_S,
) -> str | None:
    """Attach ``feedback`` to span ``span_id`` in Phoenix (``POST /v1/span_annotations``,
    synchronously; a human's ``user feedback`` annotation, which replaces one given before).
    ``None`` once it is attached; else why it is not, in a sentence. A span Phoenix has not filed
    yet is waited for, up to ``wait_s``."""
    import httpx

    result: dict[str, Any] = {"label": feedback.score, "score": SCORES[feedback.score]}
    if feedback.comment:
        result["explanation"] = feedback.comment
    body = {
        "data": [
            {
                "span_id": span_id,
                "name": ANNOTATION_NAME,
                "annotator_kind": "HUMAN",
                "result": result,
                "metadata": dict(metadata),
            }
        ]
    }
    key = os.environ.get("PHOENIX_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + wait_s
    with httpx.Client(base_url=phoenix_url, headers=headers, timeout=_REQUEST_TIMEOUT_S) as client:
        while True:
            try:
                answer = client.post("/v1/span_annotations", params={"sync": "true"}, json=body)
            except httpx.HTTPError as exc:
                return f"Phoenix at {phoenix_url} cannot be reached ({_said(exc)})"
            if answer.is_success:
                return None
            if answer.status_code != 404 or time.monotonic() >= deadline:
                break
            time.sleep(0.5)  # the span may not be filed yet
    if answer.status_code == 404:
        return (
            f"the run's root span {span_id} is not in Phoenix at {phoenix_url} (waited "
            f"{wait_s:g} s): were its spans exported to another Phoenix?"
        )
    return f"Phoenix at {phoenix_url} answered HTTP {answer.status_code}: {_detail(answer)}"


def _said(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _detail(answer: httpx.Response) -> str:
    """The error Phoenix gave (FastAPI's ``detail``), or the start of its answer."""
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    text = str(detail) if detail else answer.text
    text = " ".join(text.split())
    return text[:200] or answer.reason_phrase
