"""Script files and the scripted model, model choice and routing, settings, and pricing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.config import RoleModels, load_settings
from agentlab.domains.support import demo_script_path
from agentlab.errors import (
    ConfigError,
    ModelOverloadedError,
    ModelUnavailableError,
    ScriptError,
)
from agentlab.models.anthropic import ClaudeModel
from agentlab.models.base import CallInfo, ModelRequest, ModelResponse, Role, ToolCall, Usage
from agentlab.models.calls import call_record
from agentlab.models.messages import user
from agentlab.models.pricing import Pricing, cost_usd
from agentlab.models.retry import RetryingModel
from agentlab.models.router import (
    ModelSpec,
    claude_router,
    router_from_spec,
    scripted_router,
)
from agentlab.models.script import load_script, parse_script
from agentlab.models.scripted import ScriptedModel
from agentlab.models.wrappers import FallbackModel

YAML_SCRIPT = """\
version: 1
description: look someone up
roles:
  planner:
    - tool_use: {name: submit_plan, input: {steps: []}}
      usage: {input_tokens: 812, output_tokens: 95}
    - text: nothing left to plan
  executor:
    - tool_use: {name: search_customers, input: {customer_id: 1}, id: call_1}
"""


def request(role: Role = Role.PLANNER, index: int = 0) -> ModelRequest:
    return ModelRequest(
        role=role, system="system", messages=(user("go"),), call=CallInfo(index=index)
    )


def script_error(text: str) -> str:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, source="s.yaml")
    return str(caught.value)


# --- script files --------------------------------------------------------------------------------


def test_valid_yaml_script_loads(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(YAML_SCRIPT)

    script = load_script(path)

    assert script.description == "look someone up"
    assert [len(script.roles[r]) for r in (Role.PLANNER, Role.EXECUTOR)] == [2, 1]
    assert script.roles[Role.EXECUTOR][0].tool_use.input == {"customer_id": 1}


def test_valid_json_script_loads(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"roles": {"validator": [{"text": "done"}]}}))

    assert load_script(path).roles[Role.VALIDATOR][0].text == "done"


def test_missing_script_file_is_a_script_error(tmp_path):
    with pytest.raises(ScriptError, match="script file not found: .*nope.yaml"):
        load_script(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_the_line():
    message = script_error("version: 1\nroles:\n  planner:\n    - text: a: b\n")
    assert message == "s.yaml is not valid YAML/JSON at line 4: fix its syntax"


def test_script_that_is_not_a_mapping_is_a_script_error():
    assert "must be a mapping with a 'roles' key" in script_error("- just\n- a list\n")


def test_roles_given_as_a_list_is_a_script_error():
    message = script_error("roles:\n  - planner\n")
    assert message.startswith("s.yaml is not a valid script: roles:")
    assert "\n" not in message


def test_unknown_role_name_is_a_script_error_naming_it():
    message = script_error("roles:\n  boss:\n    - text: hi\n")
    assert "roles.boss" in message
    assert "'planner', 'executor', 'validator', 'responder', 'summarizer' or 'judge'" in message
    assert "\n" not in message


def test_turn_without_content_is_a_script_error():
    message = script_error("roles:\n  planner:\n    - usage: {input_tokens: 3}\n")
    assert "roles.planner.0" in message
    assert "a turn needs 'text', 'tool_use', 'tool_uses' or 'error'" in message
    assert "\n" not in message


def test_unsupported_version_is_a_script_error():
    assert "version" in script_error("version: 2\nroles: {}\n")


def test_script_errors_hide_the_parser_exception():
    with pytest.raises(ScriptError) as caught:
        parse_script("roles: [", source="s.yaml")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_packaged_demo_script_has_turns_for_every_role_a_single_task_asks():
    script = load_script(demo_script_path())
    assert all(script.roles.get(role) for role in Role if role not in (Role.SUMMARIZER, Role.JUDGE))


# --- the scripted model --------------------------------------------------------------------------


def planner_model() -> ScriptedModel:
    turns = parse_script(YAML_SCRIPT).roles[Role.PLANNER]
    return ScriptedModel(turns, name="scripted-planner", source="s.yaml")


async def test_scripted_model_answers_with_the_turn_of_the_calls_index():
    response = await planner_model().request(request(index=1))
    assert (response.text, response.tool_calls) == ("nothing left to plan", ())


async def test_scripted_model_replays_the_same_turn_for_the_same_index():
    model = planner_model()
    assert await model.request(request(index=0)) == await model.request(request(index=0))


async def test_scripted_tool_use_becomes_a_tool_call():
    response = await planner_model().request(request(index=0))
    assert response.tool_call("submit_plan") == ToolCall(
        id="scripted_planner_0_0", name="submit_plan", arguments={"steps": []}
    )


async def test_scripted_tool_use_keeps_its_given_id():
    turns = parse_script(YAML_SCRIPT).roles[Role.EXECUTOR]
    response = await ScriptedModel(turns).request(request(Role.EXECUTOR))
    assert [c.id for c in response.tool_calls] == ["call_1"]


async def test_scripted_turn_with_text_and_tool_use_gives_both_blocks_in_order():
    turns = parse_script(
        "roles:\n  planner:\n    - text: here\n      tool_use: {name: go, input: {}, id: t1}\n"
    ).roles[Role.PLANNER]
    response = await ScriptedModel(turns).request(request())
    assert response.content == (
        {"type": "text", "text": "here"},
        {"type": "tool_use", "id": "t1", "name": "go", "input": {}},
    )


async def test_scripted_usage_maps_every_token_count():
    turn = parse_script(
        "roles:\n  planner:\n    - text: hi\n      usage: {input_tokens: 10, "
        "output_tokens: 20, cache_read_input_tokens: 30, "
        "cache_creation_input_tokens: 40}\n"
    ).roles[Role.PLANNER]
    assert (await ScriptedModel(turn).request(request())).usage == Usage(10, 20, 30, 40)


async def test_scripted_usage_defaults_to_zero():
    response = await planner_model().request(request(index=1))
    assert response.usage == Usage(0, 0, 0, 0)


async def test_stop_reason_defaults_to_tool_use_or_end_turn():
    model = planner_model()
    assert (await model.request(request(index=0))).stop_reason == "tool_use"
    assert (await model.request(request(index=1))).stop_reason == "end_turn"


async def test_scripted_stop_reason_is_kept():
    turns = parse_script("roles:\n  planner:\n    - {text: cut, stop_reason: max_tokens}\n")
    response = await ScriptedModel(turns.roles[Role.PLANNER]).request(request())
    assert response.stop_reason == "max_tokens"


async def test_scripted_response_names_the_scripted_provider_and_the_model():
    response = await planner_model().request(request())
    assert (response.model, response.provider) == ("scripted-planner", "scripted")


async def test_running_out_of_turns_names_the_role_and_the_count():
    with pytest.raises(ScriptError) as caught:
        await planner_model().request(request(index=2))
    message = str(caught.value)
    assert "s.yaml" in message
    assert "has 2 planner turn(s)" in message
    assert "asked for turn 3" in message


async def test_scripted_error_turn_is_a_script_error():
    turns = parse_script("roles:\n  planner:\n    - error: {status: 529}\n").roles[Role.PLANNER]
    with pytest.raises(ScriptError, match="cannot be errors"):
        await ScriptedModel(turns).request(request())


async def test_assert_complete_passes_once_every_turn_was_answered():
    model = planner_model()
    await model.request(request(index=0))
    await model.request(request(index=1))

    model.assert_complete()


async def test_assert_complete_names_the_unused_turns():
    model = planner_model()
    await model.request(request(index=1))

    with pytest.raises(AssertionError, match=r"scripted-planner: turn\(s\) \[1\] of 2 unused"):
        model.assert_complete()


def test_assert_complete_fails_for_a_model_never_asked():
    with pytest.raises(AssertionError, match=r"\[1, 2\]"):
        planner_model().assert_complete()


async def test_turn_that_failed_does_not_count_as_answered():
    turns = parse_script("roles:\n  planner:\n    - error: {status: 529}\n").roles[Role.PLANNER]
    model = ScriptedModel(turns)
    with pytest.raises(ScriptError):
        await model.request(request())

    with pytest.raises(AssertionError):
        model.assert_complete()


# --- model choice and routing --------------------------------------------------------------------


def test_script_is_chosen_when_given(settings, tmp_path):
    spec = ModelSpec.choose(settings, tmp_path / "s.yaml")
    assert spec == ModelSpec(kind="scripted", script=str((tmp_path / "s.yaml").resolve()))


def test_script_wins_over_an_api_key(monkeypatch, tmp_path):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert ModelSpec.choose(load_settings(), tmp_path / "s.yaml").kind == "scripted"


def test_claude_is_chosen_when_a_key_is_set(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert ModelSpec.choose(load_settings(), None) == ModelSpec(kind="anthropic")


def test_without_key_or_script_the_error_says_what_to_do(settings):
    with pytest.raises(ConfigError) as caught:
        ModelSpec.choose(settings, None)
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    assert "scripted model (a script file)" in str(caught.value)  # the CLI names its flag


async def test_scripted_router_replays_the_script_for_every_role():
    router = scripted_router(parse_script(YAML_SCRIPT))
    assert all(isinstance(m, ScriptedModel) for m in router.models.values())
    executor = await router.for_role(Role.EXECUTOR).request(request(Role.EXECUTOR))
    assert executor.tool_call("search_customers") is not None


async def test_router_call_records_who_answered_the_tokens_and_the_cost():
    router = scripted_router(parse_script(YAML_SCRIPT))

    asked = request(Role.PLANNER, index=0)
    response = await router.request(asked)
    record = call_record(asked, response)

    assert response.tool_call("submit_plan") is not None
    assert record == {
        "role": "planner",
        "index": 0,
        "model": "scripted-planner",
        "provider": "scripted",
        "input_tokens": 812,
        "output_tokens": 95,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 0.0,
        "latency_s": 0.0,
        "fallbacks": [],
    }


def test_call_record_keeps_the_answers_price_and_lists_its_fallbacks():
    usage = Usage(input_tokens=1_000_000)
    response = ModelResponse(
        model="claude-haiku-4-5",
        provider="anthropic",
        usage=usage,
        latency_s=0.5,
        fallbacks=("claude-sonnet-4-6",),
        cost_usd=Pricing.listed("claude-haiku-4-5").cost(usage),
    )

    record = call_record(request(Role.VALIDATOR, index=3), response)

    assert (record["role"], record["index"]) == ("validator", 3)
    assert record["cost_usd"] == pytest.approx(1.0)
    assert (record["latency_s"], record["fallbacks"]) == (0.5, ["claude-sonnet-4-6"])


async def test_role_missing_from_the_script_has_no_turns():
    router = scripted_router(parse_script(YAML_SCRIPT), source="s.yaml")
    with pytest.raises(ScriptError, match="has 0 validator turn"):
        await router.for_role(Role.VALIDATOR).request(request(Role.VALIDATOR))


async def test_router_from_scripted_spec_loads_the_script(settings, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(YAML_SCRIPT)

    router = router_from_spec(ModelSpec.choose(settings, path), settings)

    assert all(isinstance(m, ScriptedModel) for m in router.models.values())
    response = await router.for_role(Role.PLANNER).request(request(index=1))
    assert response.text == "nothing left to plan"


def test_router_from_spec_with_missing_script_is_a_script_error(settings, tmp_path):
    spec = ModelSpec(kind="scripted", script=str(tmp_path / "gone.yaml"))
    with pytest.raises(ScriptError, match="not found"):
        router_from_spec(spec, settings)


def test_claude_router_without_key_is_a_config_error(settings):
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        claude_router(settings)


def test_router_from_anthropic_spec_without_key_is_a_config_error(settings):
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        router_from_spec(ModelSpec(kind="anthropic"), settings)


def claude_of(model: object) -> ClaudeModel:
    """The Claude model inside a role's stack (each one retried on its own)."""
    assert isinstance(model, RetryingModel) and isinstance(model.inner, ClaudeModel)
    return model.inner


def model_names(model) -> list[str]:
    """The Claude models a role tries, in order."""
    if isinstance(model, FallbackModel):
        return [claude_of(m).name for m in model.models]
    return [claude_of(model).name]


def test_claude_router_uses_the_configured_model_per_role_then_the_fallbacks(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("AGENTLAB_MODELS__EXECUTOR", "claude-sonnet-4-6")

    router = claude_router(load_settings())

    assert not any(isinstance(m, ScriptedModel) for m in router.models.values())
    assert {r: router.for_role(r).name for r in Role} == {
        Role.PLANNER: "claude-sonnet-4-6",
        Role.EXECUTOR: "claude-sonnet-4-6",
        Role.VALIDATOR: "claude-haiku-4-5",
        Role.RESPONDER: "claude-haiku-4-5",  # the cheap model writes replies and summaries
        Role.SUMMARIZER: "claude-haiku-4-5",
        Role.JUDGE: "claude-sonnet-4-6",  # grading needs the stronger model
    }
    assert {r: model_names(router.for_role(r)) for r in Role} == {
        Role.PLANNER: ["claude-sonnet-4-6", "claude-haiku-4-5"],
        Role.EXECUTOR: ["claude-sonnet-4-6", "claude-haiku-4-5"],
        Role.VALIDATOR: ["claude-haiku-4-5", "claude-sonnet-4-6"],
        Role.RESPONDER: ["claude-haiku-4-5", "claude-sonnet-4-6"],
        Role.SUMMARIZER: ["claude-haiku-4-5", "claude-sonnet-4-6"],
        Role.JUDGE: ["claude-sonnet-4-6", "claude-haiku-4-5"],
    }


def test_claude_router_does_not_repeat_a_fallback_equal_to_the_primary(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    roles = RoleModels(
        planner="claude-opus-4-6",
        fallbacks=["claude-opus-4-6", "claude-haiku-4-5", "claude-haiku-4-5"],
    )

    router = claude_router(load_settings(), roles)

    assert model_names(router.for_role(Role.PLANNER)) == ["claude-opus-4-6", "claude-haiku-4-5"]


def test_claude_router_role_without_other_models_is_a_plain_claude_model(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    roles = RoleModels(planner="claude-haiku-4-5", fallbacks=["claude-haiku-4-5"])

    router = claude_router(load_settings(), roles)

    assert claude_of(router.for_role(Role.PLANNER)).name == "claude-haiku-4-5"
    assert claude_of(router.for_role(Role.EXECUTOR)).name == "claude-haiku-4-5"


def test_claude_router_names_the_endpoint_and_the_models(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")

    source = claude_router(load_settings()).source

    assert "http://127.0.0.1:9" in source
    assert "planner=claude-sonnet-4-6" in source


# --- the fallback wrapper ------------------------------------------------------------------------


class Refusing:
    """A model that refuses every request (as Claude does for a bad key or a bad request)."""

    name = "refusing"

    def __init__(self) -> None:
        self.asked = 0

    async def request(self, request: ModelRequest) -> ModelResponse:
        self.asked += 1
        raise ModelUnavailableError("refused: check ANTHROPIC_API_KEY")


class Answering:
    """A model that always answers."""

    name = "answering"

    def __init__(self) -> None:
        self.asked = 0

    async def request(self, request: ModelRequest) -> ModelResponse:
        self.asked += 1
        return ModelResponse(model=self.name, provider="fake")


async def test_fallback_model_does_not_fall_back_on_a_refusal():
    first, second = Refusing(), Answering()

    with pytest.raises(ModelUnavailableError, match="refused") as caught:
        await FallbackModel([first, second]).request(request())

    assert not isinstance(caught.value, ModelOverloadedError)
    assert (first.asked, second.asked) == (1, 0)


def test_fallback_model_is_named_after_its_primary_and_needs_a_model():
    assert FallbackModel([Answering(), Refusing()]).name == "answering"
    with pytest.raises(ValueError, match="at least one model"):
        FallbackModel([])


# --- settings ------------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agentlab.toml"
    path.write_text(
        'max_iterations = 7\n\n[models]\nplanner = "file-planner"\nexecutor = "file-executor"\n'
    )
    return path


def test_defaults_apply_without_file_env_or_overrides():
    settings = load_settings()
    assert (settings.max_iterations, settings.models.planner) == (10, "claude-sonnet-4-6")


def test_config_file_values_are_used(config):
    settings = load_settings(config)
    assert (settings.max_iterations, settings.models.executor) == (7, "file-executor")


def test_environment_beats_the_config_file(config, monkeypatch):
    monkeypatch.setenv("AGENTLAB_MAX_ITERATIONS", "8")
    assert load_settings(config).max_iterations == 8


def test_nested_environment_value_overrides_only_that_field(config, monkeypatch):
    monkeypatch.setenv("AGENTLAB_MODELS__PLANNER", "env-planner")
    models = load_settings(config).models
    assert (models.planner, models.executor) == ("env-planner", "file-executor")


def test_overrides_beat_environment_and_file(config, monkeypatch):
    monkeypatch.setenv("AGENTLAB_MAX_ITERATIONS", "8")
    assert load_settings(config, max_iterations=9).max_iterations == 9


def test_none_override_leaves_the_value_from_below(config):
    assert load_settings(config, max_iterations=None).max_iterations == 7


def test_data_dir_comes_from_the_environment(tmp_path):
    assert load_settings().data_dir == tmp_path / "data"


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*absent.toml"):
        load_settings(tmp_path / "absent.toml")


def test_invalid_toml_is_a_config_error_with_its_position(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("max_iterations = = 3\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 1"):
        load_settings(path)


def test_invalid_value_in_config_file_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "zero.toml"
    path.write_text("max_iterations = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith("invalid setting max_iterations in ")
    assert "zero.toml" in str(caught.value)


def test_invalid_override_is_a_config_error():
    with pytest.raises(ConfigError, match="invalid setting max_iterations"):
        load_settings(max_iterations=0)


def test_unknown_setting_in_config_file_is_a_config_error(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("max_iteration = 3\n")
    with pytest.raises(ConfigError, match="max_iteration"):
        load_settings(path)


def test_invalid_environment_value_is_not_blamed_on_the_config_file(config, monkeypatch):
    monkeypatch.setenv("AGENTLAB_MAX_ITERATIONS", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "AGENTLAB_MAX_ITERATIONS" in str(caught.value)


def test_anthropic_base_url_can_be_set_in_the_config_file(tmp_path):
    path = tmp_path / "endpoint.toml"
    path.write_text('anthropic_base_url = "http://127.0.0.1:8080"\n')
    assert load_settings(path).anthropic_base_url == "http://127.0.0.1:8080"


def test_no_api_key_means_no_anthropic_key():
    assert load_settings().has_anthropic_key is False


def test_anthropic_api_key_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    settings = load_settings()
    assert settings.has_anthropic_key is True
    assert settings.anthropic_api_key.get_secret_value() == "sk-test"


def test_agentlab_prefixed_api_key_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("AGENTLAB_ANTHROPIC_API_KEY", "sk-test")
    assert load_settings().has_anthropic_key is True


def test_empty_api_key_does_not_count(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    assert load_settings().has_anthropic_key is False


def test_api_key_is_not_shown_in_settings_repr(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    assert "sk-secret" not in repr(load_settings())


# --- pricing -------------------------------------------------------------------------------------

MILLION = 1_000_000


def test_scripted_calls_cost_nothing():
    assert cost_usd("scripted-planner", Usage(MILLION, MILLION), provider="scripted") == 0.0


def test_scripted_provider_costs_nothing_even_for_a_priced_model_name():
    assert cost_usd("claude-opus-4-6", Usage(MILLION, MILLION), provider="scripted") == 0.0


def test_unknown_model_has_unknown_cost():
    assert cost_usd("gpt-4o", Usage(MILLION, MILLION)) is None


def test_input_and_output_tokens_are_priced_per_million():
    assert cost_usd("claude-haiku-4-5", Usage(MILLION, MILLION)) == pytest.approx(1.0 + 5.0)


def test_dated_model_id_is_priced_like_its_family():
    usage = Usage(1234, 567, 89, 10)
    assert cost_usd("claude-sonnet-4-5-20250929", usage) == cost_usd("claude-sonnet-4-5", usage)
    assert cost_usd("claude-sonnet-4-5-20250929", Usage(MILLION)) == pytest.approx(3.0)


def test_dated_snapshot_prices_as_its_own_model_id():
    assert cost_usd("claude-opus-4-5-20251101", Usage(MILLION)) == pytest.approx(5.0)
    assert cost_usd("claude-opus-4-20250514", Usage(MILLION)) == pytest.approx(15.0)


def test_cache_reads_cost_a_tenth_of_input():
    assert cost_usd("claude-sonnet-4-6", Usage(cache_read_tokens=MILLION)) == pytest.approx(0.3)


def test_cache_writes_cost_a_quarter_more_than_input():
    assert cost_usd("claude-sonnet-4-6", Usage(cache_write_tokens=MILLION)) == pytest.approx(3.75)


def test_unlisted_version_of_a_listed_family_has_unknown_cost():
    assert cost_usd("claude-opus-4-9", Usage(MILLION)) is None


def test_the_config_file_named_by_agentlab_config_is_read_by_default(tmp_path, monkeypatch):
    config = tmp_path / "agentlab.toml"
    config.write_text(f'data_dir = "{tmp_path / "elsewhere"}"\nmax_iterations = 7\n')
    monkeypatch.delenv("AGENTLAB_DATA_DIR")
    monkeypatch.setenv("AGENTLAB_CONFIG", str(config))
    settings = load_settings()
    assert settings.max_iterations == 7 and settings.data_dir == tmp_path / "elsewhere"


async def test_a_script_with_latency_takes_that_long_per_call_without_blocking_others():
    import asyncio
    import time

    from agentlab.models import ModelRequest, Role
    from agentlab.models.base import CallInfo
    from agentlab.models.messages import user
    from agentlab.models.router import scripted_router
    from agentlab.models.script import parse_script

    script = parse_script(
        "latency_s: 0.2\nroles:\n  planner: [{text: a}]\n  executor: [{text: b}]\n"
        "  validator: [{text: c}]\n"
    )
    router = scripted_router(script)

    def ask(role: Role) -> ModelRequest:
        return ModelRequest(role=role, system="", messages=(user("x"),), call=CallInfo())

    started = time.perf_counter()
    roles = (Role.PLANNER, Role.EXECUTOR, Role.VALIDATOR)
    await asyncio.gather(*(router.request(ask(r)) for r in roles))
    took = time.perf_counter() - started
    assert 0.2 <= took < 0.55  # each took 0.2 s, side by side (one after another: 0.6 s)
