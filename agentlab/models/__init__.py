"""Models: the provider interface, messages, wrappers, the scripted model and its file format,
routing, calling and pricing.

Claude (``agentlab.models.anthropic``) is imported only where it is used.
"""

from agentlab.models.base import (
    CallInfo,
    Model,
    ModelRequest,
    ModelResponse,
    Role,
    ToolCall,
    ToolSpec,
    Usage,
)
from agentlab.models.calls import ModelCallRecord, call_model
from agentlab.models.messages import Message, assistant, text_of, tool_result_block, user
from agentlab.models.pricing import cost_usd
from agentlab.models.router import ModelRouter, ModelSpec, router_from_spec, scripted_router
from agentlab.models.script import Script, Turn, load_script, parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.models.wrappers import FallbackModel

__all__ = [
    "CallInfo",
    "FallbackModel",
    "Message",
    "Model",
    "ModelCallRecord",
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
    "assistant",
    "call_model",
    "cost_usd",
    "load_script",
    "parse_script",
    "router_from_spec",
    "scripted_router",
    "text_of",
    "tool_result_block",
    "user",
]
