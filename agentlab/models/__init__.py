"""Models: the provider interface, the scripted model and its file format, routing, pricing.

Claude (``agentlab.models.anthropic``) is imported only where it is used.
"""

from agentlab.models.base import (
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    Role,
    ToolCall,
    ToolSpec,
    Usage,
)
from agentlab.models.pricing import cost_usd
from agentlab.models.router import ModelRouter, ModelSpec, router_from_spec, scripted_router
from agentlab.models.script import Script, Turn, load_script, parse_script
from agentlab.models.scripted import ScriptedModel

__all__ = [
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelRouter",
    "ModelSpec",
    "Role",
    "Script",
    "ScriptedModel",
    "ToolCall",
    "ToolSpec",
    "Turn",
    "Usage",
    "cost_usd",
    "load_script",
    "parse_script",
    "router_from_spec",
    "scripted_router",
]
