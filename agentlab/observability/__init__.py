"""Observability: tracing runs with OpenTelemetry, and a local Arize Phoenix to send traces to.

Phoenix itself is never imported here (that alone takes ~12 s): it runs as a subprocess. The
OpenTelemetry SDK and OTLP exporter load only when tracing is on.
"""

from agentlab.observability.phoenix import (
    PhoenixError,
    PhoenixServer,
    PortInUseError,
    phoenix_version,
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
    "PhoenixError",
    "PhoenixServer",
    "PortInUseError",
    "Tracing",
    "exporting_to",
    "phoenix_version",
    "shared_tracing",
    "tracing_for",
]
