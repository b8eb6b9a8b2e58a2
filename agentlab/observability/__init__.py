"""Observability: tracing runs with OpenTelemetry, and a local Arize Phoenix to send traces to.

Phoenix itself is never imported here (that alone takes ~12 s): it runs as a subprocess, from an
environment of its own. The OpenTelemetry SDK and OTLP exporter load only when tracing is on.
"""

from agentlab.observability.local_server import PortInUseError
from agentlab.observability.phoenix import PhoenixServer
from agentlab.observability.phoenix_install import (
    PHOENIX_VERSION,
    PhoenixError,
    PhoenixInstall,
    find_phoenix,
)
from agentlab.observability.tracing import (
    NO_TRACING,
    Tracing,
    exporting_to,
    shared_tracing,
    tracing_for,
)

__all__ = [
    "NO_TRACING",
    "PHOENIX_VERSION",
    "PhoenixError",
    "PhoenixInstall",
    "PhoenixServer",
    "PortInUseError",
    "Tracing",
    "exporting_to",
    "find_phoenix",
    "shared_tracing",
    "tracing_for",
]
