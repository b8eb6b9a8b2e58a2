"""Arize Phoenix, locally: the server ``agentlab phoenix`` runs receives spans exported with the
OpenTelemetry SDK, which its client reads back into a DataFrame; it listens on 127.0.0.1 only;
the command says where it is, configures agentlab to export there, and stops cleanly on Ctrl-C.

One real Phoenix (``tests/phoenix_server.py``) serves the module; the command starts another.
"""

from __future__ import annotations

import ipaddress
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentlab.config import load_settings, running_phoenix
from agentlab.errors import ConfigError
from agentlab.observability.phoenix import READY_TIMEOUT_S, PhoenixServer
from tests.phoenix_server import free_ports, phoenix_server
from tests.test_cli import AGENTLAB, agentlab


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixServer]:
    # Where `agentlab phoenix` would keep it for the data directory data/: see test 3.
    with phoenix_server(tmp_path_factory.mktemp("data") / "phoenix") as server:
        yield server


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


def test_phoenix_listens_on_loopback_only(phoenix: PhoenixServer) -> None:
    assert phoenix.pid is not None
    listening = {
        (conn.laddr.ip, conn.laddr.port)
        for conn in psutil.Process(phoenix.pid).net_connections("inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert {port for _, port in listening} >= {phoenix.port, phoenix.grpc_port}
    assert all(_loopback(ip) for ip, _ in listening), listening


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


def test_agentlab_phoenix_serves_configures_export_and_stops_on_ctrl_c(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, grpc_port = free_ports(2)
    data_dir = Path(env["AGENTLAB_DATA_DIR"])
    command = [*AGENTLAB, "phoenix", "--port", str(port), "--grpc-port", str(grpc_port)]
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    try:
        output = _read_until(process, "Ctrl-C stops it.", READY_TIMEOUT_S + 30)
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
        "o.PhoenixServer, o.phoenix_version(), c.load_settings(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'phoenix'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_otlp_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ConfigError, match="invalid setting otlp_endpoint.*not an http"):
        load_settings(otlp_endpoint="127.0.0.1:4317")
    assert load_settings(otlp_endpoint="").otlp_endpoint is None


def _eventually(read: Callable[[], pd.DataFrame], timeout: float = 30.0) -> pd.DataFrame:
    """What ``read()`` returns once it has rows: Phoenix inserts spans in batches, a moment
    after it accepted them."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if len(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """The process's output up to and including the line holding ``marker``."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    if not seen.wait(timeout):
        raise AssertionError(f"no {marker!r} within {timeout:g} s; output: {''.join(lines)}")
    return "".join(lines)


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool((mapped or address).is_loopback)
