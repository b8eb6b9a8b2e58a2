"""Observability: a local Arize Phoenix to send traces to.

Phoenix itself is never imported here (that alone takes ~12 s): it runs as a subprocess.
"""

from agentlab.observability.phoenix import (
    PhoenixError,
    PhoenixServer,
    PortInUseError,
    phoenix_version,
)

__all__ = ["PhoenixError", "PhoenixServer", "PortInUseError", "phoenix_version"]
