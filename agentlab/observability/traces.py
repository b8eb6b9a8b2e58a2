"""A run's trace, read back from Phoenix into a pandas DataFrame, for notebooks.

Spans are read with Phoenix's own client (``arize-phoenix-client``, in the ``lab`` extra), imported
only when a trace is read: about 0.3 s alone, but with Phoenix's server installed alongside (as it
is not by agentlab: it runs from an environment of its own) the import loads the server package
and takes 10 s or more, which a notebook can afford and the CLI cannot. A run's trace id is the
one its state keeps (``trace``, W3C ``traceparent``): the same across processes that resumed it.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentlab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

# Span attributes shown as columns, by the short names a notebook reads (OpenInference keys and
# agentlab's own); every other attribute stays in the ``attributes`` column.
COLUMNS: Mapping[str, str] = {
    "agentlab.node": "node",
    "llm.model_name": "model",
    "agentlab.role": "role",
    "llm.token_count.prompt": "tokens_in",
    "llm.token_count.completion": "tokens_out",
    "llm.token_count.prompt_details.cache_read": "cache_read",
    "llm.token_count.prompt_details.cache_write": "cache_write",
    "llm.cost.total": "cost_usd",
    "tool.name": "tool",
    "agentlab.policy.verdict": "verdict",
    "agentlab.journal": "journal",
}


def trace_id_of(state: Mapping[str, Any]) -> str | None:
    """The trace id of a run, from its state (``RunView.state``), or ``None`` if it was not
    traced."""
    carrier = state.get("trace") or {}
    parent = str(carrier.get("traceparent", "")) if isinstance(carrier, Mapping) else ""
    parts = parent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def root_span_id_of(state: Mapping[str, Any]) -> str | None:
    """The id of a run's root span (where feedback on the run is attached), or ``None``."""
    carrier = state.get("trace") or {}
    parent = str(carrier.get("traceparent", "")) if isinstance(carrier, Mapping) else ""
    parts = parent.split("-")
    return parts[2] if len(parts) == 4 and len(parts[2]) == 16 else None


def spans_frame(spans: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Spans as Phoenix's REST API returns them, one row each, oldest first."""
    import pandas as pd

    rows = []
    for span in spans:
        attributes = dict(span.get("attributes") or {})
        start = pd.Timestamp(span["start_time"])
        end = pd.Timestamp(span["end_time"])
        row: dict[str, Any] = {
            "name": span["name"],
            "span_id": span["context"]["span_id"],
            "parent_id": span.get("parent_id"),
            "start": start,
            "latency_ms": (end - start).total_seconds() * 1000,
            "status": span.get("status_code", ""),
            # Phoenix keeps OpenInference's span kind as the span's own field.
            "kind": span.get("span_kind") or attributes.pop("openinference.span.kind", None),
        }
        for key, column in COLUMNS.items():
            row[column] = attributes.pop(key, None)
        row["attributes"] = attributes
        rows.append(row)
    frame = pd.DataFrame(
        rows,
        columns=[
            "name",
            "kind",
            "span_id",
            "parent_id",
            "start",
            "latency_ms",
            "status",
            *COLUMNS.values(),
            "attributes",
        ],
    )
    return frame.sort_values("start", kind="stable").reset_index(drop=True)


def read_trace(
    base_url: str,
    trace_id: str,
    *,
    project: str = "agentlab",
    at_least: int = 1,
    wait_s: float = 15.0,
) -> pd.DataFrame:
    """The spans of trace ``trace_id`` in Phoenix at ``base_url``, as a DataFrame. Phoenix shows
    a span a moment after it is exported: this waits (up to ``wait_s``) until there are
    ``at_least`` spans and their number has stopped growing."""
    try:  # only here, when a trace is read (see the module's docstring)
        client_module = importlib.import_module("phoenix.client")
    except ModuleNotFoundError:
        raise ConfigError(
            "reading traces needs Phoenix's client (arize-phoenix-client): pip install "
            "'agentlab[lab]'"
        ) from None
    client = client_module.Client(base_url=base_url)
    deadline = time.monotonic() + wait_s
    seen = -1
    while True:
        spans = client.spans.get_spans(
            project_identifier=project, trace_ids=[trace_id], limit=10_000
        )
        settled = len(spans) >= at_least and len(spans) == seen
        if settled or time.monotonic() > deadline:
            return spans_frame(spans)
        seen = len(spans)
        time.sleep(1.0)
