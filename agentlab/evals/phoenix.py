"""An eval in Phoenix: its task set as a dataset, the eval as an experiment on it, each trial a
run linked to the trace of its agent run.

The set's cases are the dataset's examples (input: the messages; expected output: the checks;
metadata: the case's id and tags), kept by case id: Phoenix makes a new version of the dataset
only when a case changed, came or went, and otherwise reuses its latest. The eval is an
experiment on that version, recorded rather than run: a run per trial (output: the reply, the
status, the tool calls and, under ``metadata``, its runs, traces, cost, tokens and latency),
carrying the trace id of the trial's agent run so that Phoenix links the run to its spans; an
evaluation per check (score 1 or 0, label pass or fail, the reason as explanation) and
``passed`` for the trial as a whole. A trial stopped by an infrastructure error is a run with
that error.

What goes to Phoenix is redacted and bounded as exported spans are. Phoenix's client
(``arize-phoenix-client``, in the ``lab`` extra) is imported only here, when an eval is logged.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agentlab.config import Settings
from agentlab.errors import AgentlabError
from agentlab.evals.cases import Case, EvalSetError, TaskSet, load_task_set
from agentlab.evals.results import EvalResults
from agentlab.evals.trial import RECORD, TrialRecord
from agentlab.observability.feedback import phoenix_url_for
from agentlab.observability.logs import redactor_for
from agentlab.observability.redact_spans import truncated

if TYPE_CHECKING:
    import httpx

    from agentlab.observability.redact import Redactor

PASSED = "passed"
"""The evaluation of a trial as a whole, beside one per check."""
MIN_VERSION = (15, 0, 0)
"""Datasets kept by example id (a new version only for what changed) arrived in Phoenix 15."""
_TIMEOUT_S = 30


class PhoenixLogError(AgentlabError):
    """An eval Phoenix cannot take: its client is missing, no Phoenix is configured or
    reachable, or it refused what it was sent."""


def check_phoenix(settings: Settings) -> str:
    """The base URL of the Phoenix that ``settings`` export traces to, once Phoenix's client is
    importable and that Phoenix answers, in a version that can keep the eval; else a
    ``PhoenixLogError`` saying what to do. Cheap: worth calling before an eval runs."""
    _client_class()
    url = phoenix_url_for(settings.otlp_endpoint)
    if url is None:
        raise PhoenixLogError(
            "no Phoenix to log the eval to: otlp_endpoint (AGENTLAB_OTLP_ENDPOINT) names none, "
            "and 'agentlab phoenix' is not running for this data directory: start it "
            "(agentlab phoenix), or set otlp_endpoint to a running Phoenix's /v1/traces"
        )
    import httpx

    try:
        answer = httpx.get(f"{url}/arize_phoenix_version", headers=_headers(), timeout=5.0)
    except httpx.HTTPError as exc:
        raise PhoenixLogError(
            f"Phoenix at {url} cannot be reached ({_said(exc)}): start it (agentlab phoenix), "
            "or set otlp_endpoint to a running Phoenix's /v1/traces"
        ) from None
    version = _version(answer.text) if answer.is_success else None
    if version is None:
        raise PhoenixLogError(
            f"{url} (from otlp_endpoint) does not answer as Phoenix does: HTTP "
            f"{answer.status_code} for its version"
        )
    if version < MIN_VERSION:
        raise PhoenixLogError(
            f"Phoenix at {url} is version {'.'.join(map(str, version))}: logging an eval needs "
            f"{'.'.join(map(str, MIN_VERSION))} or later"
        )
    return url


def log_to_phoenix(results: EvalResults, settings: Settings, directory: Path) -> str:
    """Log the eval of ``results`` (its trials kept in ``directory``) to the Phoenix of
    ``settings``: its set as a dataset, itself as an experiment. Returns a line saying where
    both are in Phoenix's UI."""
    url = check_phoenix(settings)
    task_set = _task_set(results)
    trials = Path(results.meta.rescored_from or directory) / "trials"
    shape = _Shape(redactor_for(settings), settings.trace_attribute_max_chars)
    import httpx

    client = _client_class()(base_url=url)  # Phoenix's client only, never its server (slow)
    refused = (
        importlib.import_module("phoenix.client.resources.datasets").DatasetUploadError,
        importlib.import_module("phoenix.client.exceptions").PhoenixException,
    )
    logged = _Logged()
    try:
        _log(client, url, results, task_set, trials, shape, logged)
    except httpx.HTTPStatusError as exc:
        raise PhoenixLogError(
            f"Phoenix at {url} refused the eval: {_refused(exc.response)}{logged.so_far()}"
        ) from None
    except httpx.HTTPError as exc:
        raise PhoenixLogError(
            f"Phoenix at {url} stopped answering while the eval was logged ({_said(exc)})"
            f"{logged.so_far()}"
        ) from None
    except refused as exc:
        raise PhoenixLogError(f"Phoenix at {url} refused the eval: {exc}") from None
    return logged.line()


@dataclass
class _Logged:
    """What is in Phoenix so far, for the line that says so (or the error that stopped it)."""

    dataset: str = ""
    dataset_url: str = ""
    examples: int = 0
    new_version: bool = False
    experiment: str = ""
    experiment_url: str = ""
    runs: int = 0
    linked: int = 0
    errors: int = 0

    def so_far(self) -> str:
        if not self.experiment_url:
            return ""
        return (
            f"; the experiment {self.experiment!r} holds {self.runs} run(s): {self.experiment_url}"
        )

    def line(self) -> str:
        version = "a new version" if self.new_version else "unchanged"
        errors = f", {self.errors} with an infrastructure error" if self.errors else ""
        return (
            f"Phoenix: dataset {self.dataset!r} ({self.examples} case(s), {version}) "
            f"{self.dataset_url} ; experiment {self.experiment!r} ({self.runs} run(s), "
            f"{self.linked} linked to their traces{errors}) {self.experiment_url}"
        )


def _log(
    client: Any,
    url: str,
    results: EvalResults,
    task_set: TaskSet,
    trials: Path,
    shape: _Shape,
    logged: _Logged,
) -> None:
    meta = results.meta
    before = _latest_version(client, meta.set_name)
    dataset = client.datasets.create_dataset(
        name=meta.set_name,
        examples=[_example(case, shape) for case in task_set.cases],
        dataset_description=task_set.description or None,
        timeout=_TIMEOUT_S,
    )
    logged.dataset, logged.examples = dataset.name, len(dataset)
    logged.new_version = dataset.version_id != before
    logged.dataset_url = f"{url}/datasets/{dataset.id}/examples"
    examples = {str(example["id"]): str(example["node_id"]) for example in dataset.examples}

    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(meta.started))
    experiment = client.experiments.create(
        dataset_id=dataset.id,
        dataset_version_id=dataset.version_id,
        experiment_name=f"{meta.set_name} {meta.version} {stamp}",
        experiment_description=(
            f"agentlab eval of {meta.set_name} by {meta.agent}, prompts {meta.version}, "
            f"{meta.repeat} trial(s) per case"
        ),
        experiment_metadata=_plain(
            {
                "agent": meta.agent,
                "version": meta.version,
                "set_path": meta.set_path,
                "prompts_dir": meta.prompts_dir,
                "repeat": meta.repeat,
                "concurrency": meta.concurrency,
                "seed": meta.seed,
                "rescored_from": meta.rescored_from,
                "summary": results.summary(),
            }
        ),
        repetitions=meta.repeat,
        timeout=_TIMEOUT_S,
    )
    logged.experiment = str(experiment["name"])
    logged.experiment_url = client.experiments.get_experiment_url(dataset.id, experiment["id"])
    started = datetime.fromtimestamp(meta.started, UTC)
    rows = cast(list[dict[str, Any]], results.frame.to_dict("records"))
    for row in rows:
        record = _record(trials, str(row["case"]), int(row["trial"]))
        error = _text(row.get("error"))
        trace_id = next((t.trace_id for t in record.turns if t.trace_id), None)
        run = client.experiments.log_run(
            experiment_id=experiment["id"],
            dataset_example_id=examples[str(row["case"])],
            output=_output(row, record, shape),
            start_time=started,
            # Phoenix shows a run's latency as its end less its start: the trial's, summed.
            end_time=started + timedelta(seconds=float(row.get("latency_s") or 0.0)),
            repetition_number=int(row["trial"]) + 1,
            trace_id=trace_id,
            error=shape.text(error) if error is not None else None,
            timeout=_TIMEOUT_S,
        )
        logged.runs += 1
        logged.linked += trace_id is not None
        logged.errors += error is not None
        if error is None:
            _evaluate(client, str(run["id"]), row, shape)


def _evaluate(client: Any, run_id: str, row: Mapping[str, Any], shape: _Shape) -> None:
    """An evaluation per check of the trial's row, then ``passed`` for the whole trial."""
    checks = json.loads(str(row.get("check_results") or "[]"))
    for check in checks:
        client.experiments.log_evaluation(
            experiment_run_id=run_id,
            name=str(check["name"]),
            annotator_kind="LLM" if check["kind"] == "judge" else "CODE",
            score=1.0 if check["passed"] else 0.0,
            label="pass" if check["passed"] else "fail",
            explanation=shape.text(str(check["reason"])),
            metadata={"kind": check["kind"]},
            timeout=_TIMEOUT_S,
        )
    passed = bool(row["passed"])
    reasons = _text(row.get("reasons"))
    client.experiments.log_evaluation(
        experiment_run_id=run_id,
        name=PASSED,
        score=1.0 if passed else 0.0,
        label="pass" if passed else "fail",
        explanation=shape.text(reasons) if reasons else f"all {len(checks)} check(s) passed",
        timeout=_TIMEOUT_S,
    )


def _example(case: Case, shape: _Shape) -> dict[str, Any]:
    """A case as a dataset example, whose id is the case's (so a changed case is patched)."""
    return {
        "id": case.id,
        "input": {"messages": [shape.text(turn.message) for turn in case.turns]},
        "output": {
            "checks": shape.value(case.checks.model_dump(mode="json", exclude_defaults=True))
        },
        "metadata": {"case": case.id, "tags": list(case.tags)},
    }


def _output(row: Mapping[str, Any], record: TrialRecord, shape: _Shape) -> dict[str, Any]:
    """A trial's output: the last reply and status, every tool call, and what it took."""
    reply = _text(row.get("reply"))
    output: dict[str, Any] = {
        "status": _text(row.get("status")),
        "reply": shape.text(reply) if reply is not None else None,
        "tool_calls": [shape.call(call) for turn in record.turns for call in turn.calls],
        "metadata": {
            "run_ids": [t.run_id for t in record.turns],
            "trace_ids": [t.trace_id for t in record.turns],
            "cost_usd": float(row.get("cost_usd") or 0.0),
            "tokens": int(row.get("tokens") or 0),
            "model_calls": int(row.get("model_calls") or 0),
            "latency_s": float(row.get("latency_s") or 0.0),
            "attempts": int(row.get("attempts") or 1),
        },
    }
    if record.error is not None:
        output["error"] = shape.text(record.error)
    return output


class _Shape:
    """Text and values as exported spans carry them: redacted, and cut past ``most`` chars."""

    def __init__(self, redactor: Redactor, most: int) -> None:
        self.redactor = redactor
        self.most = most

    def text(self, text: str) -> str:
        return truncated(text, self.redactor, self.most)

    def value(self, value: Any) -> Any:
        """JSON-like ``value`` redacted; the text of its JSON, cut, when that is too long."""
        dumped = json.dumps(value, default=str)
        if len(dumped) > self.most:
            return self.text(dumped)
        return self.redactor.redact_value(value)

    def call(self, call: Mapping[str, Any]) -> dict[str, Any]:
        return {key: self.value(item) for key, item in call.items()}


def _task_set(results: EvalResults) -> TaskSet:
    """The set the eval ran, as its file is now, holding every case of the results."""
    task_set = load_task_set(results.meta.set_path)
    known = {case.id for case in task_set.cases}
    missing = sorted(set(map(str, results.frame["case"])) - known)
    if missing:
        raise EvalSetError(
            f"the results have trials of case(s) {', '.join(missing)}, which "
            f"{results.meta.set_path} has no more: log them with the set the eval ran"
        )
    return task_set


def _record(trials: Path, case: str, trial: int) -> TrialRecord:
    directory = trials / case / str(trial)
    if not (directory / RECORD).is_file():
        raise EvalSetError(
            f"{directory / RECORD} is missing: log an eval from the directory it ran in"
        )
    return TrialRecord.load(directory)


def _latest_version(client: Any, name: str) -> str | None:
    """The id of the dataset's latest version, or ``None`` if there is no such dataset."""
    try:
        versions = client.datasets.get_dataset_versions(dataset=name, limit=1, timeout=_TIMEOUT_S)
    except ValueError:  # the client's word for a name no dataset has
        return None
    return str(versions[0]["version_id"]) if versions else None


def _client_class() -> Any:
    """Phoenix's ``Client`` class (arize-phoenix-client), imported on first use."""
    try:
        client: Any = importlib.import_module("phoenix.client")
    except ModuleNotFoundError:
        raise PhoenixLogError(
            "logging an eval to Phoenix needs Phoenix's client (arize-phoenix-client): pip "
            "install 'agentlab[lab]'"
        ) from None
    return client.Client


def _headers() -> dict[str, str]:
    key = os.environ.get("PHOENIX_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _version(text: str) -> tuple[int, ...] | None:
    """``(20, 26, 1)`` of ``20.26.1`` (or ``20.26.1rc1``); ``None`` if it is no version."""
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    return tuple(int(part) for part in found.groups()) if found else None


def _text(value: Any) -> str | None:
    """A cell's text; ``None`` for an empty cell (None, NaN, pandas' NA)."""
    return value if isinstance(value, str) else None


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it: NaN becomes null."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    return value


def _said(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _refused(answer: httpx.Response) -> str:
    request = answer.request
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    text = " ".join(str(detail or answer.text).split())[:200] or answer.reason_phrase
    return f"HTTP {answer.status_code} for {request.method} {request.url.path}: {text}"


__all__ = ["PASSED", "PhoenixLogError", "check_phoenix", "log_to_phoenix"]
