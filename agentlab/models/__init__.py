"""Models: the provider interface, messages, wrappers (retries, fallback, budgets), the scripted
model and its file format, routing, call records and pricing.

Claude (``agentlab.models.anthropic``) is imported only where it is used.
"""

from agentlab.models.base import (
    Account,
    CallInfo,
    Model,
    ModelRequest,
    ModelResponse,
    Role,
    ToolCall,
    ToolSpec,
    Usage,
)
from agentlab.models.calls import ModelCallRecord, call_record, usage_of
from agentlab.models.messages import Message, assistant, text_of, tool_result_block, user
from agentlab.models.pricing import Price, Pricing
from agentlab.models.retry import RetryingModel, RetryPolicy
from agentlab.models.router import ModelRouter, ModelSpec, router_from_spec, scripted_router
from agentlab.models.script import Script, Turn, load_script, parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.models.wrappers import BudgetedModel, FallbackModel, WrapperModel

__all__ = [
    "Account",
    "BudgetedModel",
    "CallInfo",
    "FallbackModel",
    "Message",
    "Model",
    "ModelCallRecord",
    "ModelRequest",
    "ModelResponse",
    "ModelRouter",
    "ModelSpec",
    "Price",
    "Pricing",
    "RetryPolicy",
    "RetryingModel",
    "Role",
    "Script",
    "ScriptedModel",
    "ToolCall",
    "ToolSpec",
    "Turn",
    "Usage",
    "WrapperModel",
    "assistant",
    "call_record",
    "load_script",
    "parse_script",
    "router_from_spec",
    "scripted_router",
    "text_of",
    "tool_result_block",
    "usage_of",
    "user",
]
