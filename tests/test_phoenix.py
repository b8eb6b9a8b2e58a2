"""Arize Phoenix, locally: the server ``agentlab phoenix`` runs, from an environment of its own,
receives spans exported with the OpenTelemetry SDK, which its client reads back into a DataFrame;
it listens on 127.0.0.1 only; the command says where it is, configures agentlab to export there,
and stops cleanly on Ctrl-C. Phoenix is installed apart, on first use, or named by phoenix_command.

The session's Phoenix (``tests/phoenix_server.py``) serves the module; the command starts another.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentlab.config import load_settings
from agentlab.config.phoenix_state import running_phoenix
from agentlab.domains.support import DEMO_TASK, demo_script_path
from agentlab.errors import ConfigError
from agentlab.observability.phoenix import READY_TIMEOUT_S, PhoenixServer
from agentlab.observability.phoenix_install import (
    PHOENIX_VERSION,
    PhoenixError,
    PhoenixInstall,
    find_phoenix,
)
from tests.cli import read_until
from tests.phoenix_server import free_ports
from tests.test_cli import AGENTLAB, agentlab, run_id_in


@pytest.mark.integration
@pytest.mark.slow
def test_a_span_exported_over_otlp_is_read_back_into_a_dataframe(
    phoenix: PhoenixServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project, marker = f"agentlab-test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    # Phoenix files spans under the project their resource names (else under "default").
    resource = Resource.create({"openinference.project.name": project, "service.name": "tests"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(phoenix.otlp_endpoint)))
    with provider.get_tracer("tests").start_as_current_span(
        "agentlab.test", attributes={"openinference.span.kind": "CHAIN", "agentlab.marker": marker}
    ):
        pass
    provider.shutdown()

    # The client ships in the `phoenix` package, whose import makes ~/.phoenix unless told.
    monkeypatch.setenv("PHOENIX_WORKING_DIR", str(tmp_path / "client"))
    from phoenix.client import Client

    spans = _eventually(
        lambda: Client(base_url=phoenix.url).spans.get_spans_dataframe(project_identifier=project)
    )
    assert isinstance(spans, pd.DataFrame)
    assert list(spans["name"]) == ["agentlab.test"]
    # Attributes outside OpenInference's conventions come nested under their first name part.
    assert [attributes["marker"] for attributes in spans["attributes.agentlab"]] == [marker]
    assert list(spans["span_kind"]) == ["CHAIN"]


@pytest.mark.integration
@pytest.mark.slow
def test_a_cli_run_resumed_by_other_processes_is_one_trace_of_every_span_in_phoenix(
    phoenix: PhoenixServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = f"agentlab-run-{uuid.uuid4().hex[:8]}"
    traced = {**env, "AGENTLAB_OTLP_ENDPOINT": phoenix.otlp_endpoint}
    traced["AGENTLAB_TRACE_PROJECT"] = project
    started = agentlab(traced, "run", DEMO_TASK, "--script", demo_script_path(), "--as", "ann")
    assert started.returncode == 0, started.stderr
    run_id = run_id_in(started.stdout)
    for _ in range(2):  # the email, then the delete: each approved by a process of its own
        resumed = agentlab(traced, "resume", run_id, "--approve")
        assert resumed.returncode == 0, resumed.stderr
    assert "completed" in resumed.stdout

    monkeypatch.setenv("PHOENIX_WORKING_DIR", str(tmp_path / "client"))
    from phoenix.client import Client

    client = Client(base_url=phoenix.url)
    # The last process exported its spans as it exited; Phoenix files them a moment later.
    spans = _eventually(
        lambda: client.spans.get_spans_dataframe(project_identifier=project),
        until=lambda found: _count(found, "TOOL") == 3 and _count(found, "AGENT") == 3,
    )
    assert spans["context.trace_id"].nunique() == 1, "one run, one trace"
    runs = spans[spans["span_kind"] == "AGENT"].sort_values("start_time")
    root = runs.iloc[0]
    assert _empty(root["parent_id"])
    assert list(runs["parent_id"].iloc[1:]) == [root["context.span_id"]] * 2
    run_attributes = [a for a in runs["attributes.agentlab"]]
    assert {(a["run_id"], a["principal"], a["agent"]) for a in run_attributes} == {
        (run_id, "ann", "support")
    }
    assert [a["invocation"] for a in run_attributes] == ["start", "resume", "resume"]
    assert [a["status"] for a in run_attributes] == [
        "awaiting_human",
        "awaiting_human",
        "completed",
    ]

    nodes = spans[spans["span_kind"] == "CHAIN"]
    assert set(nodes["name"]) == {
        "begin",
        "recall",
        "plan",
        "prepare",
        "approve",
        "execute",
        "validate",
        "respond",
    }
    assert set(nodes["parent_id"]) <= set(runs["context.span_id"])
    plan = nodes[nodes["name"] == "plan"].iloc[0]
    assert list(plan["attributes.agentlab"]["transition"]["reasons"])[0].startswith("plan 1:")

    calls = spans[spans["span_kind"] == "LLM"].sort_values("start_time")
    assert [a["role"] for a in calls["attributes.agentlab"]] == [
        "planner",
        "executor",
        "executor",
        "validator",
        "responder",
    ]
    planner = calls.iloc[0]
    assert planner["attributes.llm.token_count.completion"] == 236
    assert planner["attributes.llm.token_count.prompt"] == 1412 + 1180
    assert planner["attributes.llm.token_count.prompt_details.cache_write"] == 1180
    assert all(cost >= 0 for cost in calls["attributes.llm.cost.total"])
    assert set(calls["parent_id"]) <= set(nodes["context.span_id"])

    tools = spans[spans["span_kind"] == "TOOL"].sort_values("start_time")
    assert list(tools["attributes.tool.name"]) == [
        "search_customers",
        "send_notification",
        "delete_customer",
    ]
    said = [
        (a["policy"]["verdict"], a["approved"], a["journal"]) for a in tools["attributes.agentlab"]
    ]
    assert said == [("allow", False, "ran"), ("ask", True, "ran"), ("ask", True, "ran")]
    assert set(tools["parent_id"]) <= set(nodes["context.span_id"])
    assert _below_the_run(spans) == DEMO_SPANS
    # The customer's email (in the task, the plan, tool arguments and results) left redacted.
    exported = spans.to_json(default_handler=str)
    assert "ada.lovelace@example.com" not in exported and "[email]" in exported


@pytest.mark.integration
@pytest.mark.slow
def test_a_graph_served_by_langgraph_dev_is_traced_like_a_cli_run(
    phoenix: PhoenixServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.conftest import decision_on
    from tests.test_langgraph_dev import client_as, langgraph_dev, waiting_for

    project = f"agentlab-served-{uuid.uuid4().hex[:8]}"
    exporting = {"AGENTLAB_OTLP_ENDPOINT": phoenix.otlp_endpoint, "AGENTLAB_TRACE_PROJECT": project}
    with langgraph_dev(tmp_path, **exporting) as (url, data_dir):
        client = client_as(url, data_dir, "bob")
        [assistant] = client.assistants.search(graph_id="support")
        thread = client.threads.create()["thread_id"]
        given = {"task": DEMO_TASK}
        client.runs.wait(thread, assistant["assistant_id"], input=given)
        while (request := waiting_for(client.threads.get_state(thread))) is not None:
            approval = decision_on(request, approve=True)
            client.runs.wait(thread, assistant["assistant_id"], command={"resume": approval})
        final = client.threads.get_state(thread)["values"]
        assert final["status"] == "completed"
        acted_for = final["policy_decisions"][0]["principal"]  # the token's: bob

        monkeypatch.setenv("PHOENIX_WORKING_DIR", str(tmp_path / "client"))
        from phoenix.client import Client

        # The server exports in batches (every few seconds) while it runs.
        spans = _eventually(
            lambda: Client(base_url=phoenix.url).spans.get_spans_dataframe(
                project_identifier=project
            ),
            until=lambda found: _count(found, "TOOL") == 3 and _count(found, "LLM") == 4,
        )
    assert spans["context.trace_id"].nunique() == 1, "one run, one trace"
    (root,) = [row for _, row in spans.iterrows() if row["span_kind"] == "AGENT"]
    assert _empty(root["parent_id"])
    said = root["attributes.agentlab"]
    assert (said["invocation"], said["run_id"], said["principal"]) == ("served", thread, acted_for)
    nodes = spans[spans["span_kind"] == "CHAIN"]
    assert set(nodes["parent_id"]) == {root["context.span_id"]}
    assert _below_the_run(spans) == DEMO_SPANS


# What a run of the support demo, approved twice, is made of below its run span(s), wherever it
# runs: (kind, name) and how many of each. An approve node runs twice per approval: it pauses
# the run, then runs again when the run resumes with the decision. Prepare binds the plan's first
# step; each execute binds the step its call made ready.
DEMO_SPANS = {
    ("CHAIN", "begin"): 1,
    ("CHAIN", "recall"): 1,
    ("CHAIN", "plan"): 1,
    ("CHAIN", "prepare"): 1,
    ("CHAIN", "approve"): 4,
    ("CHAIN", "execute"): 3,
    ("CHAIN", "validate"): 1,
    ("CHAIN", "respond"): 1,
    ("LLM", "llm planner"): 1,
    ("LLM", "llm executor"): 2,
    ("LLM", "llm validator"): 1,
    ("LLM", "llm responder"): 1,
    ("TOOL", "tool search_customers"): 1,
    ("TOOL", "tool send_notification"): 1,
    ("TOOL", "tool delete_customer"): 1,
}


def _below_the_run(spans: pd.DataFrame) -> dict[tuple[str, str], int]:
    below = spans[spans["span_kind"] != "AGENT"]
    return dict(Counter(zip(below["span_kind"], below["name"], strict=True)))


def _count(spans: pd.DataFrame, kind: str) -> int:
    return int((spans["span_kind"] == kind).sum()) if len(spans) else 0


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


@pytest.mark.integration
@pytest.mark.slow
def test_phoenix_listens_on_loopback_only(phoenix: PhoenixServer) -> None:
    assert phoenix.pid is not None
    listening = {
        (conn.laddr.ip, conn.laddr.port)
        for conn in psutil.Process(phoenix.pid).net_connections("inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert {port for _, port in listening} >= {phoenix.port, phoenix.grpc_port}
    assert all(_loopback(ip) for ip, _ in listening), listening


@pytest.mark.integration
@pytest.mark.slow
def test_a_second_phoenix_on_a_taken_port_or_data_directory_is_one_error_line(
    phoenix: PhoenixServer, env: dict[str, str]
) -> None:
    taken = agentlab(env, "phoenix", "--port", str(phoenix.port))
    assert taken.returncode == 2
    assert taken.stderr.splitlines() == [
        f"error: port {phoenix.port} (UI and OTLP/HTTP) on 127.0.0.1 is already in use: "
        "is Phoenix running already? Choose another with --port"
    ]
    same_data = {**env, "AGENTLAB_DATA_DIR": str(phoenix.working_dir.parent)}
    again = agentlab(same_data, "phoenix", "--port", str(free_ports(1)[0]))
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        f"error: Phoenix already runs for {phoenix.working_dir} at {phoenix.url} "
        f"(process {phoenix.pid}): use it, or stop it first"
    ]


@pytest.mark.integration
@pytest.mark.slow
def test_agentlab_phoenix_serves_configures_export_and_stops_on_ctrl_c(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, phoenix_install: PhoenixInstall
) -> None:
    port, grpc_port = free_ports(2)
    data_dir = Path(env["AGENTLAB_DATA_DIR"])
    command = [*AGENTLAB, "phoenix", "--port", str(port), "--grpc-port", str(grpc_port)]
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    try:
        output = read_until(process, "Ctrl-C stops it.", READY_TIMEOUT_S + 30)
        assert output.startswith(
            f"starting Phoenix {PHOENIX_VERSION} ({phoenix_install.location}), its data in "
            f"{data_dir / 'phoenix'} (log: phoenix.log)"
        )
        url = f"http://127.0.0.1:{port}"
        assert f"UI         {url}\n" in output
        assert f"OTLP/HTTP  {url}/v1/traces\n" in output
        assert f"OTLP/gRPC  http://127.0.0.1:{grpc_port}\n" in output
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            assert answer.status == 200
        # Runs with this data directory now export to it.
        assert load_settings(data_dir=data_dir).otlp_endpoint == f"{url}/v1/traces"
        with monkeypatch.context() as elsewhere:  # unless the standard variables say otherwise
            elsewhere.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
            assert load_settings(data_dir=data_dir).otlp_endpoint is None
        published = running_phoenix(data_dir / "phoenix")
        assert published is not None
        phoenix_pid = published["pid"]

        asked = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        stopped_in = time.monotonic() - asked
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    rest = process.stdout.read() if process.stdout else ""
    assert code == 0, rest
    assert stopped_in < 15
    assert "Phoenix stopped." in rest
    assert not psutil.pid_exists(phoenix_pid)
    assert load_settings(data_dir=data_dir).otlp_endpoint is None


def test_the_command_line_and_the_library_never_import_phoenix(env: dict[str, str]) -> None:
    probe = (
        "import sys, agentlab.cli.app, agentlab.observability as o, agentlab.config as c; "
        "o.PhoenixServer, o.find_phoenix, c.load_settings(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'phoenix'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.integration
@pytest.mark.slow
def test_phoenix_runs_the_pinned_version_from_an_environment_of_its_own(
    phoenix: PhoenixServer, phoenix_install: PhoenixInstall
) -> None:
    assert phoenix.pid is not None
    assert psutil.Process(phoenix.pid).cmdline()[0] == str(phoenix_install.python)
    assert phoenix_install.location.resolve() != Path(sys.prefix).resolve()  # not agentlab's
    with urllib.request.urlopen(f"{phoenix.url}/arize_phoenix_version", timeout=10) as answer:
        assert answer.read().decode().strip() == PHOENIX_VERSION


@pytest.mark.integration
@pytest.mark.slow
def test_agentlab_phoenix_install_says_where_phoenix_is(
    env: dict[str, str], phoenix_install: PhoenixInstall
) -> None:
    said = agentlab(env, "phoenix", "--install")
    assert said.returncode == 0, said.stderr
    assert said.stdout == f"Phoenix {PHOENIX_VERSION} is installed: {phoenix_install.location}\n"


@pytest.mark.integration
@pytest.mark.slow
def test_phoenix_command_names_an_installation_by_its_phoenix_or_its_python(
    phoenix_install: PhoenixInstall, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = phoenix_install.python.parent  # as `uv tool install arize-phoenix` would make it
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for command in ("phoenix", str(bin_dir / "phoenix"), str(phoenix_install.python)):
        found = find_phoenix(command)
        assert (found.python, found.version) == (phoenix_install.python, PHOENIX_VERSION)


def test_a_phoenix_command_that_is_no_phoenix_is_refused_naming_the_setting(
    tmp_path: Path,
) -> None:
    with pytest.raises(PhoenixError, match="^phoenix_command 'no-such-phoenix' is neither on PATH"):
        find_phoenix("no-such-phoenix")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "bare"], check=True)
    bare = tmp_path / "bare" / "bin" / "python"
    with pytest.raises(
        PhoenixError, match=r"its Python \(.*/bare/bin/python\) has no arize-phoenix"
    ):
        find_phoenix(str(bare))


@pytest.mark.slow
def test_installing_phoenix_offline_is_one_error_line_saying_how_to_install_it_yourself(
    env: dict[str, str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"  # where agentlab's own Phoenix would be: not installed yet
    offline = {
        **env,
        "XDG_CACHE_HOME": str(cache),
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
    }
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    log = cache / "agentlab" / f"phoenix-{PHOENIX_VERSION}-{python}.log"
    requirement = f"arize-phoenix=={PHOENIX_VERSION}"
    for _ in range(2):  # and again: a half-made environment is not taken for an installed one
        failed = agentlab(offline, "phoenix", "--install")
        assert failed.returncode == 2
        assert failed.stderr.splitlines() == [
            f"error: could not install Phoenix {PHOENIX_VERSION} (No matching distribution found "
            f"for {requirement}; log: {log}): install it yourself (uv tool install {requirement}, "
            f"or pipx install {requirement}) and set phoenix_command (AGENTLAB_PHOENIX_COMMAND) to "
            "its `phoenix`"
        ]
    assert f"No matching distribution found for {requirement}" in log.read_text()


def test_otlp_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ConfigError, match="invalid setting otlp_endpoint.*not an http"):
        load_settings(otlp_endpoint="127.0.0.1:4317")
    assert load_settings(otlp_endpoint="").otlp_endpoint is None


def _eventually(
    read: Callable[[], pd.DataFrame],
    timeout: float = 30.0,
    until: Callable[[pd.DataFrame], bool] = len,
) -> pd.DataFrame:
    """What ``read()`` returns once it has rows (or ``until`` it holds): Phoenix inserts spans
    in batches, a moment after it accepted them."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool((mapped or address).is_loopback)
