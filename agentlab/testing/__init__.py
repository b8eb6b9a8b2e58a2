"""Test helpers that stand in for external services with real protocol implementations."""

from agentlab.testing.anthropic_server import AnthropicTestServer
from agentlab.testing.faults import FAULT_KINDS, PROVIDER_FAULTS, FaultKind, Faults
from agentlab.testing.prompt_cache import PromptCache, cache_prefixes

__all__ = [
    "FAULT_KINDS",
    "PROVIDER_FAULTS",
    "AnthropicTestServer",
    "FaultKind",
    "Faults",
    "PromptCache",
    "cache_prefixes",
]
