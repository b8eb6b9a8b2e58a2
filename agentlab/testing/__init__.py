"""Test helpers that stand in for external services with real protocol implementations."""

from agentlab.testing.anthropic_server import AnthropicTestServer

__all__ = ["AnthropicTestServer"]
