"""Test helpers that stand in for external services with real protocol implementations."""

from agentlab.testing.anthropic_server import AnthropicTestServer, PromptCache, cache_prefixes

__all__ = ["AnthropicTestServer", "PromptCache", "cache_prefixes"]
