"""The Claude provider, end to end: the real ``anthropic`` client against the local test server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from agentlab.config import RoleModels, Settings
from agentlab.errors import ModelOverloadedError, ModelUnavailableError
from agentlab.models.anthropic import claude_client, claude_model
from agentlab.models.base import Model, ModelRequest, Role, ToolSpec
from agentlab.models.messages import Message, assistant, tool_result_block, tool_use_block, user
from agentlab.models.router import claude_router
from agentlab.models.script import ScriptedError, ScriptedToolUse, ScriptedUsage, Turn
from agentlab.models.wrappers import FallbackModel
from agentlab.testing import AnthropicTestServer

PRIMARY = "claude-haiku-4-5"
FALLBACK = "claude-sonnet-4-6"

PLAN_TOOL = ToolSpec(
    name="submit_plan",
    description="Submit the plan.",
    input_schema={
        "type": "object",
        "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
        "required": ["steps"],
    },
)
SEARCH_TOOL = ToolSpec(
    name="search",
    description="Search the catalogue.",
    input_schema={"type": "object", "properties": {"query": {"type": "string"}}},
)

Serve = Callable[..., AnthropicTestServer]


def overloaded() -> Turn:
    return Turn(error=ScriptedError(status=529, type="overloaded_error", message="Overloaded"))


def plan_turn(steps: list[str]) -> Turn:
    return Turn(tool_use=ScriptedToolUse(name="submit_plan", input={"steps": steps}, id="toolu_1"))


def ask(
    *,
    tools: tuple[ToolSpec, ...] = (),
    tool_choice: str | None = None,
    messages: tuple[Message, ...] = (user("Plan a picnic."),),
) -> ModelRequest:
    return ModelRequest(
        role=Role.PLANNER,
        system="You plan tasks.",
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=256,
    )


@pytest.fixture
def serve(anthropic_server: AnthropicTestServer) -> Serve:
    """The session's test server, serving the given turns."""

    def start(*turns: Turn) -> AnthropicTestServer:
        return anthropic_server.reset(turns, retry_after_s=0.01)

    return start


def client(server: AnthropicTestServer, *, max_retries: int = 1) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="sk-test", base_url=server.base_url, max_retries=max_retries, timeout=5
    )


def claude(
    server: AnthropicTestServer,
    *,
    max_retries: int = 1,
    stream: bool = False,
    prompt_caching: bool = True,
) -> Model:
    return claude_model(
        PRIMARY,
        client(server, max_retries=max_retries),
        stream=stream,
        prompt_caching=prompt_caching,
    )


def with_fallback(
    server: AnthropicTestServer, *, max_retries: int = 1, stream: bool = False
) -> FallbackModel:
    """The primary model, then the fallback model, sharing one client."""
    shared = client(server, max_retries=max_retries)
    return FallbackModel(
        [
            claude_model(PRIMARY, shared, stream=stream),
            claude_model(FALLBACK, shared, stream=stream),
        ]
    )


def sent_key(recorded: dict[str, Any]) -> str | None:
    """The API key a recorded request carried: ``x-api-key``, or the bearer token SDK 2.x sends."""
    headers = recorded["headers"]
    bearer = headers.get("authorization", "").removeprefix("Bearer ")
    return headers.get("x-api-key") or bearer or None


def post(server: AnthropicTestServer, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{server.base_url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- one Claude model ----------------------------------------------------------------------------


def test_claude_model_implements_the_model_interface(serve: Serve) -> None:
    model = claude(serve())

    assert isinstance(model, Model)
    assert model.name == PRIMARY


async def test_text_turn_becomes_response_text(serve: Serve) -> None:
    server = serve(Turn(text="Bring sandwiches."))

    response = await claude(server).request(ask())

    assert response.text == "Bring sandwiches."
    assert response.content == ({"type": "text", "text": "Bring sandwiches."},)
    assert response.tool_calls == ()
    assert response.stop_reason == "end_turn"
    assert response.model == PRIMARY
    assert response.provider == "anthropic"
    assert response.latency_s > 0
    assert response.fallbacks == ()


async def test_tool_use_turn_becomes_tool_call_with_arguments(serve: Serve) -> None:
    server = serve(plan_turn(["buy bread", "pack basket"]))

    response = await claude(server).request(ask(tools=(PLAN_TOOL,), tool_choice="submit_plan"))

    call = response.tool_call("submit_plan")
    assert call is not None
    assert call.id == "toolu_1"
    assert call.arguments == {"steps": ["buy bread", "pack basket"]}
    assert response.stop_reason == "tool_use"


async def test_response_becomes_an_assistant_message_of_its_blocks(serve: Serve) -> None:
    server = serve(Turn(text="Here.", tool_use=ScriptedToolUse(name="search", input={}, id="t1")))

    response = await claude(server).request(ask(tools=(SEARCH_TOOL,)))

    assert response.message() == assistant("Here.", tool_use_block("t1", "search", {}))


async def test_content_block_conversation_is_sent_unchanged(serve: Serve) -> None:
    server = serve(Turn(text="Parks are near."))
    conversation = (
        user("Plan a picnic."),
        assistant("Let me look.", tool_use_block("toolu_7", "search", {"query": "parks"})),
        user(tool_result_block("toolu_7", {"parks": ["Hyde"]}), "Go on."),
    )

    await claude(server).request(ask(tools=(SEARCH_TOOL,), messages=conversation))

    assert server.requests[0]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Plan a picnic."}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "toolu_7",
                    "name": "search",
                    "input": {"query": "parks"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_7", "content": '{"parks": ["Hyde"]}'},
                {"type": "text", "text": "Go on."},
            ],
        },
    ]


async def test_streamed_text_is_reassembled(serve: Serve) -> None:
    server = serve(Turn(text="A long answer that arrives in several chunks."))

    response = await claude(server, stream=True).request(ask())

    assert server.requests[0]["stream"] is True
    assert response.text == "A long answer that arrives in several chunks."
    assert response.stop_reason == "end_turn"


async def test_streamed_tool_use_input_is_reassembled_from_json_deltas(serve: Serve) -> None:
    server = serve(
        Turn(
            text="Here is the plan.",
            tool_uses=[
                ScriptedToolUse(name="submit_plan", input={"steps": ["a", "b", "c"], "n": 3}),
                ScriptedToolUse(name="search", input={"query": "parks nearby"}),
            ],
        )
    )

    response = await claude(server, stream=True).request(ask(tools=(PLAN_TOOL, SEARCH_TOOL)))

    assert response.text == "Here is the plan."
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("submit_plan", {"steps": ["a", "b", "c"], "n": 3}),
        ("search", {"query": "parks nearby"}),
    ]
    assert response.stop_reason == "tool_use"


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
async def test_usage_reports_cache_read_and_write_tokens(serve: Serve, stream: bool) -> None:
    usage = ScriptedUsage(
        input_tokens=120,
        output_tokens=45,
        cache_read_input_tokens=900,
        cache_creation_input_tokens=300,
    )
    server = serve(Turn(text="ok", usage=usage))

    response = await claude(server, stream=stream).request(ask())

    assert response.usage.input_tokens == 120
    assert response.usage.output_tokens == 45
    assert response.usage.cache_read_tokens == 900
    assert response.usage.cache_write_tokens == 300


async def test_request_carries_tools_forced_choice_and_cache_control(serve: Serve) -> None:
    server = serve(plan_turn(["x"]))

    await claude(server).request(ask(tools=(SEARCH_TOOL, PLAN_TOOL), tool_choice="submit_plan"))

    sent = server.requests[0]
    assert sent["model"] == PRIMARY
    assert sent["max_tokens"] == 256
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Plan a picnic."}]}
    ]
    assert sent["system"] == [
        {"type": "text", "text": "You plan tasks.", "cache_control": {"type": "ephemeral"}}
    ]
    assert [t["name"] for t in sent["tools"]] == ["search", "submit_plan"]
    assert all("cache_control" not in tool for tool in sent["tools"])  # the system's covers them
    assert sent["tools"][1]["input_schema"] == PLAN_TOOL.input_schema
    assert sent["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert "stream" not in sent or sent["stream"] is False
    assert sent_key(sent) == "sk-test"
    assert "anthropic-version" in sent["headers"]


async def test_prompt_caching_off_sends_no_cache_control(serve: Serve) -> None:
    server = serve(plan_turn(["x"]))

    await claude(server, prompt_caching=False).request(ask(tools=(SEARCH_TOOL, PLAN_TOOL)))

    sent = server.requests[0]
    assert sent["system"] == "You plan tasks."
    assert all("cache_control" not in tool for tool in sent["tools"])
    assert "tool_choice" not in sent


async def test_transient_overload_is_retried_with_the_same_model(serve: Serve) -> None:
    server = serve(overloaded(), Turn(text="ok"))

    response = await with_fallback(server, max_retries=1).request(ask())

    assert response.text == "ok"
    assert response.model == PRIMARY
    assert response.fallbacks == ()
    assert [r["model"] for r in server.requests] == [PRIMARY, PRIMARY]
    assert [r["headers"]["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


async def test_persistent_overload_is_an_overloaded_error_naming_the_model(serve: Serve) -> None:
    server = serve(overloaded(), overloaded())

    with pytest.raises(ModelOverloadedError) as caught:
        await claude(server, max_retries=1).request(ask())

    assert PRIMARY in str(caught.value)
    assert "529 overloaded_error" in str(caught.value)


# --- fallback ------------------------------------------------------------------------------------


async def test_persistent_overload_falls_back_to_next_model(serve: Serve) -> None:
    server = serve(overloaded(), overloaded(), Turn(text="from the fallback"))

    response = await with_fallback(server, max_retries=1).request(ask())

    assert [r["model"] for r in server.requests] == [PRIMARY, PRIMARY, FALLBACK]
    assert response.model == FALLBACK
    assert response.text == "from the fallback"
    assert response.fallbacks == (PRIMARY,)


async def test_overload_while_streaming_falls_back_to_next_model(serve: Serve) -> None:
    server = serve(overloaded(), Turn(text="streamed by the fallback"))

    response = await with_fallback(server, max_retries=0, stream=True).request(ask())

    assert [r["model"] for r in server.requests] == [PRIMARY, FALLBACK]
    assert all(r["stream"] is True for r in server.requests)
    assert response.text == "streamed by the fallback"


async def test_fallback_equal_to_primary_is_not_tried_twice(serve: Serve) -> None:
    server = serve(overloaded(), overloaded(), Turn(text="never reached"))
    settings = Settings(
        ANTHROPIC_API_KEY="sk-test",
        ANTHROPIC_BASE_URL=server.base_url,
        anthropic_max_retries=1,
        anthropic_timeout_s=5,
    )
    router = claude_router(settings, RoleModels(planner=PRIMARY, fallbacks=[PRIMARY]))

    with pytest.raises(ModelUnavailableError):
        await router.for_role(Role.PLANNER).request(ask())

    assert len(server.requests) == 2


async def test_all_models_overloaded_raises_model_unavailable(serve: Serve) -> None:
    server = serve(*[overloaded() for _ in range(4)])

    with pytest.raises(ModelUnavailableError) as caught:
        await with_fallback(server, max_retries=1).request(ask())

    message = str(caught.value)
    assert f"tried {PRIMARY}, {FALLBACK}" in message
    assert "529 overloaded_error" in message
    assert "\n" not in message
    assert [r["model"] for r in server.requests] == [PRIMARY, PRIMARY, FALLBACK, FALLBACK]


async def test_bad_request_raises_without_fallback(serve: Serve) -> None:
    bad = ScriptedError(status=400, type="invalid_request_error", message="tools.0: bad schema")
    server = serve(Turn(error=bad), Turn(text="never reached"))

    with pytest.raises(ModelUnavailableError, match="tools.0: bad schema") as caught:
        await with_fallback(server, max_retries=1).request(ask())

    assert not isinstance(caught.value, ModelOverloadedError)
    assert [r["model"] for r in server.requests] == [PRIMARY]


async def test_rejected_api_key_says_to_check_it(serve: Serve) -> None:
    denied = ScriptedError(status=401, type="authentication_error", message="invalid x-api-key")
    server = serve(Turn(error=denied))

    with pytest.raises(ModelUnavailableError, match="check ANTHROPIC_API_KEY"):
        await with_fallback(server).request(ask())

    assert len(server.requests) == 1


async def test_exhausted_script_fails_without_retries(serve: Serve) -> None:
    server = serve(Turn(text="only one"))
    model = claude(server, max_retries=2)
    await model.request(ask())

    with pytest.raises(ModelUnavailableError, match="script exhausted"):
        await model.request(ask())

    assert len(server.requests) == 2


async def test_client_from_settings_uses_key_url_and_retries(serve: Serve) -> None:
    server = serve(overloaded(), Turn(text="ok"))
    settings = Settings(
        ANTHROPIC_API_KEY="sk-from-settings",
        ANTHROPIC_BASE_URL=server.base_url,
        anthropic_max_retries=1,
        anthropic_timeout_s=5,
    )

    client = claude_client(settings)
    response = await claude_model(PRIMARY, client).request(ask())

    assert isinstance(client, anthropic.AsyncAnthropic)
    assert response.text == "ok"
    assert [sent_key(r) for r in server.requests] == ["sk-from-settings"] * 2


# --- the test server -----------------------------------------------------------------------------


def test_server_rejects_request_without_max_tokens(serve: Serve) -> None:
    server = serve(Turn(text="unused"))

    status, body = post(server, {"model": PRIMARY, "messages": [{"role": "user", "content": "hi"}]})

    assert status == 400
    assert json.loads(body) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    assert server.turns_left == 1


def test_server_streams_events_in_api_order(serve: Serve) -> None:
    server = serve(Turn(text="hello", tool_use=ScriptedToolUse(name="search", input={"q": 1})))

    status, body = post(
        server,
        {
            "model": PRIMARY,
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )

    assert status == 200
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in body.decode().strip().split("\n\n")
    ]
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    assert all(name == data["type"] for name, data in events)
    assert events[0][1]["message"]["content"] == []
    partial = "".join(
        d["delta"]["partial_json"]
        for name, d in events
        if name == "content_block_delta" and d["index"] == 1
    )
    assert json.loads(partial) == {"q": 1}
