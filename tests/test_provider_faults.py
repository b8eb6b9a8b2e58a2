"""Provider faults: the real ``anthropic`` client against the local server failing on purpose.

The server injects the failures the API shows under load (429 with retry-after, 529, 500, 503,
408), connections reset or left hanging, malformed bodies and streams cut mid-way. A call retries
what may pass, within a bounded number of attempts, refuses nothing twice, falls back to the next
model of its role, and gives up on a hang at ``anthropic_timeout_s``.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

import anthropic
import pytest

from agentlab.config import RoleModels, Settings, load_settings
from agentlab.domains import support
from agentlab.errors import ModelOverloadedError, ModelUnavailableError
from agentlab.events import ApprovalRequested, RunEnded
from agentlab.models.anthropic import claude_client, claude_model
from agentlab.models.base import Model, ModelRequest, Role, ToolSpec
from agentlab.models.messages import user
from agentlab.models.retry import RetryPolicy, parse_retry_after
from agentlab.models.router import ModelSpec, claude_router
from agentlab.models.script import ScriptedError, Turn, load_script
from agentlab.models.wrappers import FallbackModel
from agentlab.orchestration import Runner
from agentlab.testing.anthropic_server import (
    FAULT_KINDS,
    PROVIDER_FAULTS,
    AnthropicTestServer,
    FaultKind,
    Faults,
)

PRIMARY = "claude-haiku-4-5"
FALLBACK = "claude-sonnet-4-6"
TIMEOUT_S = 1.0  # ample for a served answer on a busy machine; each hang costs this much
MODES = pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])

Serve = Callable[..., AnthropicTestServer]


@pytest.fixture
def serve(anthropic_server: AnthropicTestServer) -> Serve:
    """The session's test server, serving the given turns with these faults."""

    def start(*turns: Turn, faults: Faults | None = None, **kwargs: Any) -> AnthropicTestServer:
        return anthropic_server.reset(turns, faults=faults, **kwargs)

    return start


def fast(max_attempts: int) -> RetryPolicy:
    """The policy with millisecond backoff, so tests of many retries stay fast."""
    return RetryPolicy(max_attempts=max_attempts, base_delay_s=0.001, max_delay_s=0.01)


def claude(
    server: AnthropicTestServer,
    name: str = PRIMARY,
    *,
    max_retries: int = 2,
    stream: bool = False,
    policy: RetryPolicy | None = None,
) -> Model:
    client = anthropic.AsyncAnthropic(
        api_key="sk-test", base_url=server.base_url, max_retries=max_retries, timeout=TIMEOUT_S
    )
    return claude_model(
        name, client, stream=stream, retry=policy or fast(max_attempts=max_retries + 1)
    )


def with_fallback(server: AnthropicTestServer, *, max_retries: int = 2, **kw: Any) -> FallbackModel:
    return FallbackModel(
        [claude(server, n, max_retries=max_retries, **kw) for n in (PRIMARY, FALLBACK)]
    )


SEARCH = ToolSpec(
    name="search",
    description="Search the catalogue.",
    input_schema={"type": "object", "properties": {"query": {"type": "string"}}},
)


def ask(*, tool_choice: str | None = None) -> ModelRequest:
    tools = (SEARCH,) if tool_choice else ()
    return ModelRequest(
        role=Role.EXECUTOR,
        system="Be brief.",
        messages=(user("Hi"),),
        tools=tools,
        tool_choice=tool_choice,
    )


def retry_counts(server: AnthropicTestServer) -> list[str]:
    return [r["headers"]["x-stainless-retry-count"] for r in server.requests]


def error(status: int, type_: str, message: str) -> Turn:
    return Turn(error=ScriptedError(status=status, type=type_, message=message))


# --- each fault on its own -----------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("kind", PROVIDER_FAULTS)
async def test_each_fault_is_retried_and_the_call_succeeds(
    serve: Serve, kind: FaultKind, stream: bool
) -> None:
    server = serve(Turn(text="ok"), faults=Faults(at={0: kind}))

    response = await claude(server, stream=stream).request(ask(tool_choice=SEARCH.name))

    assert response.text == "ok"
    assert server.faults_injected == [kind]
    assert [r["fault"] for r in server.requests] == [kind, None]
    assert retry_counts(server) == ["0", "1"]
    assert server.turns_left == 0


@MODES
@pytest.mark.parametrize(
    ("status", "type_", "advice"),
    [
        (400, "invalid_request_error", "check the model id and max_tokens"),
        (401, "authentication_error", "check ANTHROPIC_API_KEY"),
        (403, "permission_error", "check the key's workspace and model access"),
    ],
)
async def test_refusal_is_attempted_once_and_not_passed_to_a_fallback(
    serve: Serve, status: int, type_: str, advice: str, stream: bool
) -> None:
    server = serve(error(status, type_, "refused"), Turn(text="never reached"))

    with pytest.raises(ModelUnavailableError, match=advice) as caught:
        await with_fallback(server, max_retries=3, stream=stream).request(ask())

    assert not isinstance(caught.value, ModelOverloadedError)
    assert [r["model"] for r in server.requests] == [PRIMARY]


@pytest.mark.parametrize(
    ("kind", "stream", "said"),
    [
        ("bad_tool_input", False, "content.0.input: Input should be a valid dictionary, got"),
        ("bad_tool_input", True, "content.0.input: Input should be a valid dictionary, got"),
        ("unknown_block", False, "content.0: Input tag 'hologram'"),
        ("unknown_block", True, "content.0: Input tag 'hologram'"),
        ("truncated", False, "the answer ended before its stop_reason"),
        ("truncated", True, "the answer ended before its stop_reason"),
        ("wrong_format", False, "the answer is not a valid Messages API message"),
        ("wrong_format", True, "a plain body (application/json), not an event stream"),
    ],
)
async def test_a_broken_answer_is_a_provider_error_saying_what_is_wrong(
    serve: Serve, kind: FaultKind, stream: bool, said: str
) -> None:
    server = serve(Turn(text="never served"), faults=Faults(rate=1.0, kinds=(kind,)))

    with pytest.raises(ModelOverloadedError, match="gave up after 2 attempts") as caught:
        await claude(server, max_retries=1, stream=stream).request(ask(tool_choice=SEARCH.name))

    assert said in str(caught.value)
    assert server.faults_injected == [kind, kind]
    assert server.turns_left == 1


async def test_an_answer_ignoring_tool_choice_is_returned_as_it_is(serve: Serve) -> None:
    # Only the agent that forced the tool can judge it (see test_claude_agent.py).
    server = serve(Turn(text="never served"), faults=Faults(at={0: "no_forced_tool"}))

    response = await claude(server).request(ask(tool_choice=SEARCH.name))

    assert response.tool_calls == ()
    assert "without the tool" in response.text
    assert server.turns_left == 1


# --- refusals from gateways and proxies ----------------------------------------------------------


def gateway(status: int, body: str) -> Turn:
    return Turn(error=ScriptedError(status=status, body=body))


async def test_a_gateway_404_quotes_its_body_and_points_at_the_base_url(serve: Serve) -> None:
    server = serve(gateway(404, '{"detail": "Not Found"}'))

    with pytest.raises(ModelUnavailableError) as caught:
        await claude(server).request(ask())

    message = str(caught.value)
    assert f"{server.base_url}/ answered HTTP 404 to POST " in message
    assert """body: '{"detail": "Not Found"}'""" in message
    assert "check anthropic_base_url" in message
    assert "not found" not in message.replace("Not Found", "")
    assert len(server.requests) == 1


async def test_an_api_404_naming_the_model_says_the_model_was_not_found(serve: Serve) -> None:
    server = serve(error(404, "not_found_error", f"model: {PRIMARY}"))

    with pytest.raises(ModelUnavailableError, match=f"model '{PRIMARY}' was not found"):
        await claude(server).request(ask())


async def test_a_404_not_naming_the_model_is_not_called_model_not_found(serve: Serve) -> None:
    server = serve(error(404, "not_found_error", "no route for POST /v2/messages"))

    with pytest.raises(ModelUnavailableError, match="answered HTTP 404") as caught:
        await claude(server).request(ask())

    assert "was not found" not in str(caught.value)
    assert "no route for POST /v2/messages" in str(caught.value)


@pytest.mark.parametrize("status", [400, 422])
async def test_a_gateway_refusal_is_quoted_not_called_an_agentlab_bug(
    serve: Serve, status: int
) -> None:
    body = '{"error": {"message": "litellm.BadRequestError: no deployment", "code": "%d"}}'
    server = serve(gateway(status, body % status))

    with pytest.raises(ModelUnavailableError) as caught:
        await with_fallback(server).request(ask())

    message = str(caught.value)
    assert f"refused the request to {PRIMARY} with HTTP {status}" in message
    assert "litellm.BadRequestError: no deployment" in message
    assert "is an Anthropic-compatible endpoint serving" in message
    assert "agentlab bug" not in message
    assert [r["model"] for r in server.requests] == [PRIMARY]  # a refusal: no fallback


async def test_a_quoted_body_is_cut_to_a_few_hundred_characters(serve: Serve) -> None:
    server = serve(gateway(400, "<html>" + "x" * 5000 + "</html>"))

    with pytest.raises(ModelUnavailableError) as caught:
        await claude(server).request(ask())

    message = str(caught.value)
    assert "body: '<html>xxx" in message and "xxx...'" in message
    assert len(message) < 600


async def test_an_api_invalid_request_keeps_its_own_words(serve: Serve) -> None:
    server = serve(error(400, "invalid_request_error", "max_tokens: 1000000 > 64000"))

    with pytest.raises(ModelUnavailableError) as caught:
        await claude(server).request(ask())

    message = str(caught.value)
    assert "HTTP 400 invalid_request_error: max_tokens: 1000000 > 64000" in message
    assert "check the model id and max_tokens" in message


async def test_retry_after_is_honoured(serve: Serve) -> None:
    server = serve(Turn(text="ok"), faults=Faults(at={0: "rate_limit"}, retry_after_s=0.3))

    await claude(server).request(ask())

    first, second = server.requests
    assert first["fault"] == "rate_limit"
    assert second["received_s"] - first["received_s"] >= 0.3


async def test_retry_after_past_the_cap_moves_on_to_the_next_model(serve: Serve) -> None:
    server = serve(Turn(text="ok"), faults=Faults(at={0: "rate_limit"}, retry_after_s=30))
    policy = RetryPolicy(max_attempts=4, max_retry_after_s=1)

    started = time.monotonic()
    response = await with_fallback(server, policy=policy).request(ask())

    assert time.monotonic() - started < 5
    assert [r["model"] for r in server.requests] == [PRIMARY, FALLBACK]
    assert response.model == FALLBACK


# --- bounds and fallback -------------------------------------------------------------------------


@MODES
async def test_attempts_never_exceed_the_bound_when_every_request_fails(
    serve: Serve, stream: bool
) -> None:
    quick = tuple(k for k in PROVIDER_FAULTS if k != "hang")  # hangs are timed in their own test
    faults = Faults(rate=1.0, seed=7, kinds=quick)
    server = serve(Turn(text="never served"), faults=faults, retry_after_s=0.001)

    with pytest.raises(ModelUnavailableError, match=f"tried {PRIMARY}, {FALLBACK}") as caught:
        await with_fallback(server, max_retries=2, stream=stream).request(ask())

    # 3 attempts per model x 2 models, and not one more: the SDK's own retries are off. (On a
    # loaded machine an attempt may time out before its request is sent: the server sees fewer.)
    assert "gave up after 3 attempts" in str(caught.value)
    models = [r["model"] for r in server.requests]
    assert models == sorted(models, key=[PRIMARY, FALLBACK].index)
    for model in (PRIMARY, FALLBACK):
        counts = [
            int(r["headers"]["x-stainless-retry-count"])
            for r in server.requests
            if r["model"] == model
        ]
        assert counts == sorted(set(counts)) and counts[-1] <= 2


async def test_repeated_overload_falls_back_to_the_next_model(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    faults = Faults(at=dict.fromkeys(range(3), "overloaded"))
    server = serve(Turn(text="from the fallback"), faults=faults)

    with caplog.at_level(logging.WARNING):
        response = await with_fallback(server, max_retries=2).request(ask())

    assert response.model == FALLBACK
    assert response.text == "from the fallback"
    assert response.fallbacks == (PRIMARY,)
    assert [r["model"] for r in server.requests] == [PRIMARY] * 3 + [FALLBACK]
    progress = [r.getMessage() for r in caplog.records]
    assert "attempt 1/3 failed (HTTP 529 overloaded_error" in progress[0]
    assert "attempt 2/3 failed" in progress[1]
    assert progress[2] == f"{PRIMARY} could not answer; asking {FALLBACK} instead"


@MODES
async def test_a_hang_is_abandoned_at_the_timeout_naming_the_setting(
    serve: Serve, stream: bool
) -> None:
    server = serve(Turn(text="never reached"), faults=Faults(at={0: "hang"}))
    settings = Settings(
        ANTHROPIC_API_KEY="sk-test",
        ANTHROPIC_BASE_URL=server.base_url,
        anthropic_max_retries=0,
        anthropic_timeout_s=TIMEOUT_S,
        anthropic_stream=stream,
    )
    router = claude_router(settings, RoleModels(executor=PRIMARY, fallbacks=[]))

    started = time.monotonic()
    with pytest.raises(ModelOverloadedError) as caught:
        await router.for_role(Role.EXECUTOR).request(ask())
    waited = time.monotonic() - started

    assert TIMEOUT_S <= waited < TIMEOUT_S + 1
    message = str(caught.value)
    assert f"no answer within anthropic_timeout_s = {TIMEOUT_S:g} s" in message
    assert "raise anthropic_timeout_s" in message
    assert server.faults_injected == ["hang"]


async def test_a_client_from_settings_makes_max_retries_plus_one_attempts(serve: Serve) -> None:
    faults = Faults(at={0: "overloaded", 1: "rate_limit", 2: "unavailable"})
    server = serve(Turn(text="never served"), faults=faults, retry_after_s=0.001)
    settings = Settings(
        ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=server.base_url, anthropic_max_retries=2
    )

    with pytest.raises(ModelOverloadedError, match="gave up after 3 attempts: HTTP 503"):
        await claude_model(PRIMARY, claude_client(settings)).request(ask())

    # Had the SDK retried too, each of agentlab's 3 attempts would have been 3 requests.
    assert retry_counts(server) == ["0", "1", "2"]


async def test_latency_covers_the_retries_and_waits(serve: Serve) -> None:
    server = serve(Turn(text="ok"), faults=Faults(at={0: "rate_limit"}, retry_after_s=0.2))

    response = await claude(server).request(ask())

    first, second = server.requests
    assert response.latency_s >= second["received_s"] - first["received_s"] >= 0.2


async def test_waits_follow_the_policy_backoff_then_retry_after(serve: Serve) -> None:
    faults = Faults(at={0: "server_error", 1: "rate_limit"}, retry_after_s=0.05)
    server = serve(Turn(text="ok"), faults=faults)  # the 500 names no wait: backoff it is
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = RetryPolicy(max_attempts=3, base_delay_s=0.2, rng=random.Random(3), sleep=sleep)
    await claude(server, policy=policy).request(ask())

    jitter = random.Random(3).random()
    assert slept == [pytest.approx(0.2 * (1 - 0.25 * jitter)), 0.05]


# --- the policy ----------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(
        max_attempts=6, base_delay_s=1, max_delay_s=5, jitter=0.25, rng=random.Random(1)
    )

    waits = [policy.wait_s(n) for n in range(1, 7)]

    assert waits[-1] is None  # the sixth attempt was the last
    for wait, full in zip(waits, [1, 2, 4, 5, 5], strict=False):
        assert wait is not None and 0.75 * full <= wait <= full
    assert policy.wait_s(1, retry_after_s=2.5) == 2.5
    assert policy.wait_s(1, retry_after_s=61) is None  # asks for longer than max_retry_after_s


def test_retry_after_headers_are_read_in_seconds() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({}) is None
    in_a_minute = parse_retry_after({"retry-after": "Fri, 31 Dec 2100 23:59:59 GMT"})
    assert in_a_minute is not None and in_a_minute > 0


# --- chaos: the support scenario at a 30% fault rate ---------------------------------------------

CHAOS_RATE = 0.3
MAX_RETRIES = 3
MODELS_PER_ROLE = 2  # each role's model and one fallback (the default models.fallbacks)


def demo_turns_in_call_order() -> list[Turn]:
    roles = load_script(support.demo_script_path()).roles
    planner, executor, validator, responder = (
        roles[r] for r in ("planner", "executor", "validator", "responder")
    )
    return [planner[0], executor[0], executor[1], validator[0], responder[0]]


async def run_support_task(settings: Settings, tmp_path: Path) -> tuple[RunEnded, dict[str, Any]]:
    """The support demo on Claude, approving each call the run asks about, to its end; how it
    ended and its state then."""
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            support.REFERENCE,
            support.DEMO_TASK,
            models=ModelSpec(kind="anthropic"),
            options={"db_path": str(tmp_path / "support.sqlite")},
        )
        for _ in range(5):
            seen = [e async for e in events]
            ended = seen[-1]
            assert isinstance(ended, RunEnded)
            if ended.status != "awaiting_human":
                return ended, (await runner.get(run_id)).state
            asked = next(e.request for e in reversed(seen) if isinstance(e, ApprovalRequested))
            answer = {k: asked[k] for k in ("request_id", "call_hash") if k in asked}
            events = await runner.resume(run_id, {"approve": True, **answer})
    raise AssertionError("the run asked for more approvals than the demo needs")


def claude_settings(
    server: AnthropicTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> Settings:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-local")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    return load_settings(
        data_dir=tmp_path,
        anthropic_max_retries=MAX_RETRIES,
        anthropic_timeout_s=TIMEOUT_S,
        **kw,
    )


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


# --- answers that ignore tool_choice -------------------------------------------------------------


async def test_a_planner_ignoring_tool_choice_fails_the_run_after_two_rounds(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(faults=Faults(rate=1.0, kinds=("no_forced_tool",)))

    ended, state = await run_support_task(claude_settings(server, tmp_path, monkeypatch), tmp_path)

    assert ended.status == "failed"
    assert ended.outcome == state["outcome"]
    assert ended.outcome.startswith(
        "the planner model answered without calling the forced tool `submit_plan` twice in a row"
    )
    assert "check that the model's endpoint honours tool_choice" in ended.outcome
    assert state["plan_round"] == 2
    forced = [r.get("tool_choice", {}).get("name") for r in server.requests]
    assert forced == ["submit_plan"] * 2 + [None]  # then the responder writes the reply
    assert state["reply"]
    assert not tracebacks(caplog)


async def test_an_executor_ignoring_tool_choice_fails_the_run_after_two_rounds(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Requests 1 and 3 ask the executor to complete send_notification's arguments.
    plan = demo_turns_in_call_order()[0]
    faults = Faults(at={1: "no_forced_tool", 3: "no_forced_tool"})
    server = serve(plan, plan, faults=faults)

    ended, state = await run_support_task(claude_settings(server, tmp_path, monkeypatch), tmp_path)

    assert ended.status == "failed"
    assert ended.outcome.startswith(
        "the executor model answered without calling the forced tool `send_notification` "
        "twice in a row"
    )
    assert state["plan_round"] == 2
    forced = [r.get("tool_choice", {}).get("name") for r in server.requests]
    assert forced == ["submit_plan", "send_notification"] * 2 + [None]  # and the responder
    assert not tracebacks(caplog)


async def test_one_answer_ignoring_tool_choice_costs_one_more_round(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(*demo_turns_in_call_order(), faults=Faults(at={0: "no_forced_tool"}))

    ended, state = await run_support_task(claude_settings(server, tmp_path, monkeypatch), tmp_path)

    assert ended.status == "completed", ended.outcome
    assert state["plan_round"] == 2
    assert state["forced_misses"] == {"planner": 0}


async def test_a_validator_ignoring_tool_choice_once_is_asked_again(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(*demo_turns_in_call_order(), faults=Faults(at={3: "no_forced_tool"}))

    ended, state = await run_support_task(claude_settings(server, tmp_path, monkeypatch), tmp_path)

    assert ended.status == "completed", ended.outcome
    assert state["plan_round"] == 1  # no re-plan: the validator alone was asked again
    assert state["forced_misses"] == {"validator": 0}


async def test_a_validator_ignoring_tool_choice_twice_fails_the_run_saying_so(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(at={3: "no_forced_tool", 4: "no_forced_tool"})
    server = serve(*demo_turns_in_call_order()[:3], faults=faults)

    ended, _ = await run_support_task(claude_settings(server, tmp_path, monkeypatch), tmp_path)

    assert ended.status == "failed"
    assert ended.outcome.startswith(
        "the validator model answered without calling the forced tool `submit_verdict` twice"
    )


def attempts_per_call(server: AnthropicTestServer) -> list[list[dict[str, Any]]]:
    """The requests of each logical call: a faulted request consumes no turn, so a call's
    requests are its failed ones up to and including the one served."""
    calls: list[list[dict[str, Any]]] = [[]]
    for request in server.requests:
        calls[-1].append(request)
        if request["fault"] is None:
            calls.append([])
    return [c for c in calls if c]


@pytest.mark.slow
@MODES
@pytest.mark.parametrize("seed", range(4))
async def test_support_run_completes_under_provider_chaos(
    seed: int, stream: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(rate=CHAOS_RATE, seed=seed, kinds=PROVIDER_FAULTS)
    with AnthropicTestServer(demo_turns_in_call_order(), faults=faults, retry_after_s=0.01) as srv:
        settings = claude_settings(srv, tmp_path, monkeypatch, anthropic_stream=stream)
        ended, _ = await run_support_task(settings, tmp_path)

    assert ended.status == "completed", ended.outcome
    assert srv.turns_left == 0
    assert srv.faults_injected, "this seed injected no fault: choose another"
    calls = attempts_per_call(srv)
    assert len(calls) == 5  # planner, executor twice, validator, responder
    for call in calls:
        assert len(call) <= (MAX_RETRIES + 1) * MODELS_PER_ROLE
        for _, same_model in groupby(call, key=lambda r: r["model"]):
            counts = [int(r["headers"]["x-stainless-retry-count"]) for r in same_model]
            assert counts == list(range(len(counts))) and len(counts) <= MAX_RETRIES + 1


# --- chaos with broken answers: every fault kind, each run completes or fails saying why ---------

CHAOS_RUNS = 20
# Why a run under chaos may fail: a role's model never answered within its attempts, or one of
# its answers ignored tool_choice (twice in a row from one role).
CLEAR_REASONS = re.compile(
    r"^(planner|executor|validator) unavailable: .+ (gave up after \d+ attempts?|tried .+): "
    r"|^the (planner|executor|validator) model answered without calling the forced tool `\w+`"
)


def spare_turns() -> list[Turn]:
    """The demo's turns in call order, with spares for the rounds a re-plan adds (the server
    picks each request's turn by the tool it forces)."""
    planner, executor_1, executor_2, validator, responder = demo_turns_in_call_order()
    spares = [planner, executor_1, executor_2] * 2
    return [planner, executor_1, executor_2, validator, responder, *spares]


@pytest.mark.slow
async def test_support_runs_under_chaos_with_broken_answers_complete_or_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ended_as: list[tuple[str, str]] = []
    drawn: Counter[str] = Counter()
    for seed in range(CHAOS_RUNS):
        faults = Faults(rate=CHAOS_RATE, seed=seed, kinds=FAULT_KINDS)
        with AnthropicTestServer(
            spare_turns(), faults=faults, retry_after_s=0.01, by_tool_choice=True
        ) as srv:
            where = tmp_path / f"run-{seed}"
            settings = claude_settings(srv, where, monkeypatch, anthropic_stream=seed % 2 == 1)
            ended, state = await run_support_task(settings, where)
        ignored = srv.faults_injected.count("no_forced_tool")
        drawn.update(srv.faults_injected)
        ended_as.append((ended.status, ended.outcome))

        assert ended.status in ("completed", "failed"), (seed, ended)
        if ended.status == "failed":
            assert CLEAR_REASONS.match(ended.outcome), (seed, ended.outcome)
        # Only an answer that ignored tool_choice costs a round: whatever else broke was retried
        # within the call. Two in a row from one role end the run.
        assert state["plan_round"] <= 1 + ignored, (seed, state["plan_round"], ignored)
        assert all(n <= 2 for n in state["forced_misses"].values()), (seed, state["forced_misses"])

    failed = [outcome for status, outcome in ended_as if status == "failed"]
    print(
        f"\n{CHAOS_RUNS} runs at a {CHAOS_RATE:.0%} fault rate: "
        f"{CHAOS_RUNS - len(failed)} completed, {len(failed)} failed with a reason, "
        f"{len(tracebacks(caplog))} tracebacks; faults drawn: {dict(drawn.most_common())}"
    )
    for outcome in failed:
        print(f"  failed: {outcome}")
    assert not tracebacks(caplog)
    broken = {"bad_tool_input", "unknown_block", "truncated", "wrong_format", "no_forced_tool"}
    assert broken <= set(drawn), "these seeds did not draw every broken answer: add runs"
