"""Durable runs: listing, inspecting, approving from another runner, resuming after a crash, and
the run context (principal, session, run id, limits) reaching tools and the runs table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentlab.config import Settings
from agentlab.domains import support
from agentlab.errors import (
    AgentNotFoundError,
    RunBusyError,
    RunNotFoundError,
    RunStateError,
    ScriptError,
)
from agentlab.models.router import ModelSpec
from agentlab.orchestration import (
    Agent,
    ApprovalDecided,
    ApprovalRequested,
    Limits,
    RunEnded,
    Runner,
    StatusChanged,
    SyncRunner,
    ToolCalled,
    decision_for,
    summarize,
)
from agentlab.orchestration.approvals import DecisionRefused
from agentlab.tools import FunctionToolset, Risk, Tool, ToolContext, tool
from tests.conftest import Ledger, decide, decide_sync, toy_tools, waiting
from tests.scripts import plan, script, step, verdict


def write_script(tmp_path: Path, text: str) -> ModelSpec:
    path = tmp_path / "script.json"
    path.write_text(text)
    return ModelSpec(kind="scripted", script=str(path))


def toy_agent(ledger: Ledger, *extra: Tool) -> Agent:
    """The toy agent as an object: runnable and resumable in the runner it is given to."""
    return Agent("toy", "a test agent", toolsets=[toy_tools(ledger), FunctionToolset(extra)])


async def drain(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]


APPROVAL_SCRIPT = script(
    planner=[plan(step("store", key="a", value=1), step("wipe", key="a"))],
    validator=[verdict(True, "wiped")],
)

# An agent defined in a user's own module, outside the package. Its tools record what they do in
# a file beside it, and `build` records each time the definition is built, so a test can see the
# side effects of every runner that loads the module.
AGENT_MODULE = '''
import json
from pathlib import Path

from agentlab import Agent, FunctionToolset, Risk, tool

HERE = Path(__file__).parent


def _record(name: str, **arguments) -> None:
    with (HERE / "ledger.jsonl").open("a") as f:
        f.write(json.dumps([name, arguments]) + "\\n")


@tool(risk=Risk.WRITE)
def store(key: str, value: int) -> dict:
    """Store a value under a key."""
    _record("store", key=key, value=value)
    return {"stored": key}


@tool(risk=Risk.DESTRUCTIVE)
def wipe(key: str) -> dict:
    """Delete a key for good."""
    _record("wipe", key=key)
    return {"wiped": key}


def build() -> Agent:
    with (HERE / "builds.txt").open("a") as f:
        f.write("built\\n")
    return Agent("mine", "a user's own agent", toolsets=[FunctionToolset([store, wipe])])


agent = Agent("mine", "a user's own agent", toolsets=[FunctionToolset([store, wipe])])
'''


def agent_module(tmp_path: Path) -> Path:
    folder = tmp_path / "user_agents"
    folder.mkdir(exist_ok=True)
    path = folder / "my_agent.py"
    path.write_text(AGENT_MODULE)
    return path


def ledger_of(module: Path) -> list[str]:
    path = module.with_name("ledger.jsonl")
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)[0] for line in lines]


def builds_of(module: Path) -> int:
    path = module.with_name("builds.txt")
    return len(path.read_text().splitlines()) if path.exists() else 0


async def test_started_run_is_listed_with_its_status(settings: Settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger), "wipe a", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        ended = (await drain(events))[-1]
        assert ended == RunEnded(run_id, "awaiting_human", "")
        [record] = await runner.list()
    assert (record.run_id, record.status, record.task) == (run_id, "awaiting_human", "wipe a")


async def test_events_report_tool_calls_transitions_and_the_pause(settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        _, events = await runner.start(
            toy_agent(ledger), "wipe a", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        kinds = [type(e).__name__ for e in await drain(events)]
    assert kinds.index("PlanMade") < kinds.index("ToolCalled") < kinds.index("ApprovalRequested")
    assert kinds.count("StatusChanged") == 2 and kinds[-1] == "RunEnded"


async def test_a_second_runner_approves_a_paused_run(settings, tmp_path):
    module = agent_module(tmp_path)
    spec = write_script(tmp_path, APPROVAL_SCRIPT)
    async with Runner(settings) as first:
        run_id, events = await first.start(f"{module}:agent", "wipe a", models=spec)
        await drain(events)
    assert ledger_of(module) == ["store"]
    async with Runner(settings) as second:
        view = await second.get(run_id)
        assert view.record.agent == f"{module.resolve()}:agent"
        assert waiting(view) is not None and waiting(view)["tool"] == "wipe"
        events = await drain(await second.resume(run_id, decision_for(waiting(view), approve=True)))
        assert isinstance(events[0], ApprovalDecided) and events[0].approved
        assert isinstance(events[1], StatusChanged)
        assert events[-1].status == "completed"
        assert (await second.store.get_run(run_id)).status == "completed"
    assert ledger_of(module) == ["store", "wipe"]


async def test_a_run_given_as_a_relative_file_reference_is_found_from_elsewhere(
    settings, tmp_path, monkeypatch
):
    module = agent_module(tmp_path)
    monkeypatch.chdir(tmp_path)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            "user_agents/my_agent.py:agent",
            "wipe a",
            models=write_script(tmp_path, APPROVAL_SCRIPT),
        )
        await drain(events)
    monkeypatch.chdir(module.parent)
    async with Runner(settings) as other:
        approval = await decide(other, run_id, approve=True)
        ended = (await drain(await other.resume(run_id, approval)))[-1]
    assert ended.status == "completed"


async def test_a_run_builds_its_agent_once_per_runner(settings, tmp_path):
    module = agent_module(tmp_path)
    spec = write_script(tmp_path, APPROVAL_SCRIPT)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(f"{module}:build", "t", models=spec)
        await drain(events)
        approval = await decide(runner, run_id, approve=True)  # reads the run: no new build
        await drain(await runner.resume(run_id, approval))
        assert (await runner.get(run_id)).status == "completed"
    assert builds_of(module) == 1
    async with Runner(settings) as other:  # reading a run imports none of its agent's code
        await other.get(run_id)
    assert builds_of(module) == 1


async def test_a_run_of_an_agent_object_cannot_be_resumed_by_another_runner(
    settings, tmp_path, ledger
):
    async with Runner(settings) as first:
        run_id, events = await first.start(
            toy_agent(ledger), "wipe a", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        await drain(events)
    async with Runner(settings) as second:
        with pytest.raises(AgentNotFoundError, match="start runs with a reference"):
            await second.resume(run_id, {"approve": True})


async def test_runs_stop_after_ten_iterations_by_default(settings, tmp_path, ledger):
    forever = script(
        planner=[plan(step("lookup", key="a"))] * 30, validator=[verdict(False, "not yet")] * 30
    )
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger), "t", models=write_script(tmp_path, forever)
        )
        ended = (await drain(events))[-1]
        state = (await runner.get(run_id)).state
    assert ended.status == "failed" and "10 of 10 iterations" in ended.outcome
    assert state["iterations"] == 10


async def test_limits_given_to_a_run_are_kept_when_it_resumes(settings, tmp_path, ledger):
    text = script(
        planner=[plan(step("wipe", key="a"), step("lookup", key="b"), step("lookup", key="c"))],
        validator=[verdict(True)],
    )
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger),
            "t",
            models=write_script(tmp_path, text),
            limits=Limits(max_iterations=3),
        )
        await drain(events)
        approval = await decide(runner, run_id, approve=True)
        ended = (await drain(await runner.resume(run_id, approval)))[-1]
        view = await runner.get(run_id)
    assert view.limits == Limits(max_iterations=3)
    assert ended.status == "failed" and "3 of 3 iterations" in ended.outcome


async def test_waiting_run_needs_a_decision_to_resume(settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger), "t", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        await drain(events)
        with pytest.raises(
            RunStateError, match="waiting for a decision on wipe\\(key='a'\\) \\(step 1.2\\)"
        ):
            await runner.resume(run_id)


async def test_ended_run_cannot_be_resumed(settings, tmp_path, ledger):
    text = script(planner=[plan(step("lookup", key="a"))], validator=[verdict(True)])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger), "t", models=write_script(tmp_path, text)
        )
        await drain(events)
        with pytest.raises(RunStateError, match="has ended \\(completed\\)"):
            await runner.resume(run_id)
        with pytest.raises(RunStateError, match="has ended \\(completed\\)"):
            await runner.resume(run_id, {"approve": True})


async def test_unknown_run_id_says_how_to_find_runs(settings):
    async with Runner(settings) as runner:
        with pytest.raises(RunNotFoundError, match="agentlab runs"):
            await runner.get("run-missing")


async def test_broken_script_fails_before_a_run_is_recorded(settings, tmp_path, ledger):
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles: [")
    async with Runner(settings) as runner:
        with pytest.raises(ScriptError):
            await runner.start(
                toy_agent(ledger), "t", models=ModelSpec(kind="scripted", script=str(bad))
            )
        assert await runner.list() == []


async def test_empty_task_is_refused(settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        with pytest.raises(Exception, match="empty"):
            await runner.start(
                toy_agent(ledger), "  ", models=write_script(tmp_path, APPROVAL_SCRIPT)
            )


class Crash(BaseException):
    """The process dying mid-step: not an error a tool reports, so nothing catches it."""


async def test_run_crashed_mid_step_resumes_from_its_last_checkpoint(settings, tmp_path, ledger):
    crashes = {"left": 1}

    @tool(idempotent=True)
    def flaky(key: str) -> dict:
        """Crashes the first time, like a process dying in the middle of a step."""
        if crashes["left"]:
            crashes["left"] -= 1
            raise Crash("process died")
        ledger.calls.append(("flaky", {"key": key}))
        return {"ok": key}

    text = script(
        planner=[plan(step("store", key="a", value=1), step("flaky", key="a"))],
        validator=[verdict(True)],
    )
    spec = write_script(tmp_path, text)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(toy_agent(ledger, flaky), "t", models=spec)
        with pytest.raises(Crash, match="process died"):
            await drain(events)
        with pytest.raises(
            RunStateError, match="not waiting for a decision \\(status executing\\)"
        ):
            await runner.resume(run_id, {"approve": True})
        resumed = await drain(await runner.resume(run_id))
    assert resumed[-1].status == "completed"
    assert ledger.names() == ["store", "flaky"]  # the step before the crash did not run again
    # The crashed call left no outcome; its tool is idempotent, so it simply ran again.
    [called] = [e for e in resumed if isinstance(e, ToolCalled)]
    assert (called.result["tool"], called.result["journal"]) == ("flaky", "rerun")


@pytest.mark.parametrize(
    ("choice", "effects_after", "journal", "output"),
    [
        ({"happened": True, "result": {"charged": "a", "by": "hand"}}, ["a"], "recorded", "hand"),
        ({"approve": True}, ["a", "a"], "rerun", None),
    ],
    ids=["it-happened", "run-it-again"],
)
async def test_a_write_killed_mid_call_waits_for_a_human_to_say_whether_it_happened(
    settings, tmp_path, ledger, choice, effects_after, journal, output
):
    """Exactly once: a non-idempotent call that started and left no outcome is not run again on
    resume; the run asks a person, whose answer says what the journal records."""
    effects: list[str] = []
    crashes = {"left": 1}

    @tool(risk=Risk.WRITE)
    def charge(key: str) -> dict:
        """Charge a card: it takes effect, then the first time the process dies."""
        effects.append(key)
        if crashes["left"]:
            crashes["left"] -= 1
            raise Crash("process died")
        return {"charged": key}

    text = script(
        planner=[plan(step("store", key="a", value=1), step("charge", key="a"))],
        validator=[verdict(True)],
    )
    spec = write_script(tmp_path, text)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(toy_agent(ledger, charge), "t", models=spec)
        with pytest.raises(Crash, match="process died"):
            await drain(events)
        paused = await drain(await runner.resume(run_id))
        assert paused[-1] == RunEnded(run_id, "awaiting_human", "")
        request = waiting(await runner.get(run_id))
        assert request is not None
        assert (request["kind"], request["tool"], request["step_id"]) == (
            "unknown_side_effect",
            "charge",
            "1.2",
        )
        assert request["reasons"][0].startswith("unknown_side_effect: charge (step 1.2, attempt 1)")
        assert effects == ["a"]  # not run again before a person said so
        approve = choice.pop("approve", False)
        decision = decision_for(request, approve=approve, **choice)
        ended = await drain(await runner.resume(run_id, decision))
        state = (await runner.get(run_id)).state
    assert ended[-1].status == "completed"
    assert effects == effects_after
    assert ledger.names() == ["store"]  # the step before the crash did not run again
    [called] = [e for e in ended if isinstance(e, ToolCalled)]
    assert called.result["journal"] == journal
    charged = state["results"][-1]["outcome"]
    assert charged["ok"] and charged["output"] == (
        {"charged": "a", "by": output} if output else {"charged": "a"}
    )


async def test_summary_figures_follow_the_run(settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger), "t", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        await drain(events)
        rejection = await decide(runner, run_id, approve=False, stop=True)
        await drain(await runner.resume(run_id, rejection))
        s = summarize((await runner.get(run_id)).state)
    assert (s.status, s.steps_ok, s.approved, s.rejected, s.model_calls) == ("failed", 1, 0, 1, 1)
    assert s.cost_usd == 0.0 and s.scripted


async def test_tool_events_carry_outcomes(settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        _, events = await runner.start(
            toy_agent(ledger), "t", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        evs = await drain(events)
    [called] = [e for e in evs if isinstance(e, ToolCalled)]
    [paused] = [e for e in evs if isinstance(e, ApprovalRequested)]
    assert called.result["outcome"] == {"ok": True, "output": {"stored": "a"}, "error": None}
    assert paused.request["reasons"] == ["destructive"]


# --- the run context ---------------------------------------------------------------------------


async def test_tools_receive_the_runs_principal_session_and_id(settings, tmp_path, ledger):
    seen: list[ToolContext] = []

    @tool
    def whoami(ctx: ToolContext, key: str) -> dict:
        """Say who the call is made for."""
        seen.append(ctx)
        return {"principal": ctx.principal}

    text = script(planner=[plan(step("whoami", key="a"))], validator=[verdict(True)])
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger, whoami),
            "t",
            models=write_script(tmp_path, text),
            principal="alice",
            session="chat-7",
        )
        await drain(events)
    [ctx] = seen
    assert (ctx.principal, ctx.session, ctx.run_id) == ("alice", "chat-7", run_id)
    assert ctx.idempotency_key == f"{run_id}:1.1"


async def test_runs_table_records_principal_session_and_limits(settings, tmp_path, ledger):
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger),
            "wipe a",
            models=write_script(tmp_path, APPROVAL_SCRIPT),
            principal="alice",
            session="chat-7",
            limits=Limits(max_iterations=7),
        )
        await drain(events)
    async with Runner(settings) as other:  # what another process reads back
        record = await other.store.get_run(run_id)
    assert (record.principal, record.session) == ("alice", "chat-7")
    assert Limits.model_validate(record.limits) == Limits(max_iterations=7)
    assert record.agent_name == "toy"


async def test_principal_defaults_to_the_os_user(settings, tmp_path, ledger, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            toy_agent(ledger), "t", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        await drain(events)
        assert (await runner.store.get_run(run_id)).principal == "os-user"


# --- the sync facade ---------------------------------------------------------------------------


def test_sync_runner_pauses_and_is_approved_by_a_second_sync_runner(settings, tmp_path):
    module = agent_module(tmp_path)
    spec = write_script(tmp_path, APPROVAL_SCRIPT)
    with SyncRunner(settings) as first:
        run_id, events = first.start(f"{module}:agent", "wipe a", models=spec)
        paused = list(events)[-1]
        assert paused == RunEnded(run_id, "awaiting_human", "")
        assert [r.run_id for r in first.list()] == [run_id]
    with SyncRunner(settings) as second:
        assert waiting(second.get(run_id))["tool"] == "wipe"
        events = list(second.resume(run_id, decide_sync(second, run_id, approve=True)))
        assert isinstance(events[0], ApprovalDecided) and events[0].approved
        assert isinstance(events[1], StatusChanged) and events[-1].status == "completed"
        assert second.get(run_id).record.status == "completed"
    assert ledger_of(module) == ["store", "wipe"]


async def test_a_run_whose_driver_stopped_listening_at_the_pause_can_be_resumed(settings, tmp_path):
    """The driver leaves the event stream at ApprovalRequested (the pausing node's writes are
    saved, the next checkpoint is not): another runner still finds the run and its pause."""
    demo = ModelSpec(kind="scripted", script=str(support.demo_script_path()))
    options = {"db_path": str(tmp_path / "customers.sqlite")}
    async with Runner(settings) as first:
        run_id, events = await first.start(None, support.DEMO_TASK, models=demo, options=options)
        async for event in events:
            if isinstance(event, ApprovalRequested):
                break
        await events.aclose()
    async with Runner(settings) as second:
        ended = [e async for e in await second.resume(run_id)][-1]
        assert ended == RunEnded(run_id, "awaiting_human", "")
        asked = waiting(await second.get(run_id))
        assert asked is not None and asked["tool"] == "send_notification"


class Handle:
    """A connection-like deps object that records being closed."""

    def __init__(self, options: Any) -> None:
        self.options = dict(options)
        self.closed = False

    def close(self) -> None:
        self.closed = True


async def test_deps_are_opened_once_per_options_and_closed_with_the_runner(settings, tmp_path):
    opened: list[Handle] = []
    seen: list[Any] = []

    def open_handle(data_dir: Path, options: Any) -> Handle:
        opened.append(Handle(options))
        return opened[-1]

    @tool
    def peek(ctx: ToolContext) -> str:
        """Look at the deps."""
        seen.append(ctx.deps)
        return "ok"

    agent = Agent("peeker", "peeks", toolsets=[FunctionToolset([peek])], deps=open_handle)
    spec = write_script(tmp_path, script(planner=[plan(step("peek"))], validator=[verdict(True)]))
    async with Runner(settings) as runner:
        for db in ("a", "a", "b"):
            _, events = await runner.start(agent, "peek", models=spec, options={"db": db})
            assert (await drain(events))[-1].status == "completed"
        assert [h.options for h in opened] == [{"db": "a"}, {"db": "b"}]
        assert seen == [opened[0], opened[0], opened[1]]
        assert not any(h.closed for h in opened)
    assert all(h.closed for h in opened)


def make_database_as_an_earlier_agentlab_left_it(path: Path) -> None:
    """Rewind a runs database to an earlier agentlab's: its runs table with the ``holder`` column
    (one row holding a stale value), and no leases or tool journal tables."""
    import sqlite3

    old = sqlite3.connect(path)
    old.execute("DROP TABLE agentlab_run_leases")
    old.execute("DROP TABLE agentlab_tool_journal")
    old.execute("ALTER TABLE agentlab_run_records ADD COLUMN holder TEXT")
    old.execute(
        "INSERT INTO agentlab_run_records VALUES ('run-old', 'a:b', 'b', 't', 'completed', '', "
        "'null', '{}', '{}', 'ann', NULL, '2026-01-01', '2026-01-01', 'gone-host:1')"
    )
    old.commit()
    old.close()


async def test_a_runs_table_from_an_earlier_agentlab_opens_lists_and_resumes(settings, tmp_path):
    module = agent_module(tmp_path)
    async with Runner(settings) as first:
        run_id, events = await first.start(
            f"{module}:agent", "wipe a", models=write_script(tmp_path, APPROVAL_SCRIPT)
        )
        assert (await drain(events))[-1].status == "awaiting_human"
    make_database_as_an_earlier_agentlab_left_it(settings.checkpoint_path)
    async with Runner(settings) as runner:
        listed = {r.run_id: r for r in await runner.list()}
        assert set(listed) == {run_id, "run-old"}
        old = listed["run-old"]
        # The old holder column is ignored: who holds a run is read from its lease (none here).
        assert (old.status, old.principal, old.holder, old.interrupted) == (
            "completed",
            "ann",
            None,
            False,
        )
        assert (listed[run_id].status, listed[run_id].holder) == ("awaiting_human", None)
        approval = await decide(runner, run_id, approve=True)
        ended = (await drain(await runner.resume(run_id, approval)))[-1]
        assert ended == RunEnded(run_id, "completed", "wiped")
        assert (await runner.store.get_run(run_id)).status == "completed"
    assert ledger_of(module) == ["store", "wipe"]


async def test_a_stale_or_unbound_decision_is_refused_before_the_run_moves(settings, tmp_path):
    text = script(
        planner=[plan(step("wipe", key="a"), step("wipe", key="b"))],
        validator=[verdict(True, "wiped")],
    )
    module = agent_module(tmp_path)
    async with Runner(settings) as runner:
        run_id, events = await runner.start(
            f"{module}:agent", "wipe a and b", models=write_script(tmp_path, text)
        )
        await drain(events)
        first = waiting(await runner.get(run_id))
        with pytest.raises(DecisionRefused, match="must name the request it answers"):
            await runner.resume(run_id, {"approve": True})
        await drain(await runner.resume(run_id, decision_for(first, approve=True)))
        second = waiting(await runner.get(run_id))
        assert (first["step_id"], second["step_id"]) == ("1.1", "1.2")
        # Another person approved what they were shown earlier: it does not answer this request.
        with pytest.raises(
            DecisionRefused, match="answers request 1.1/approval .* wipe\\(key='b'\\)"
        ):
            await runner.resume(run_id, decision_for(first, approve=True))
        assert ledger_of(module) == ["wipe"]
        assert waiting(await runner.get(run_id)) == second  # still waiting, unchanged
        ended = (await drain(await runner.resume(run_id, decision_for(second, approve=True))))[-1]
    assert ended.status == "completed"
    assert ledger_of(module) == ["wipe", "wipe"]


async def test_a_run_another_runner_is_advancing_is_busy(settings, tmp_path):
    """One writer per run: while a runner streams a run, another cannot resume it; once that
    stream is closed, it can."""
    demo = ModelSpec(kind="scripted", script=str(support.demo_script_path()))
    options = {"db_path": str(tmp_path / "customers.sqlite")}
    async with Runner(settings) as first, Runner(settings) as second:
        run_id, events = await first.start(None, support.DEMO_TASK, models=demo, options=options)
        await anext(events)  # the run is under way in the first runner
        with pytest.raises(RunBusyError, match=f"run {run_id} is being advanced by process"):
            await second.resume(run_id)
        await events.aclose()
        ended = [e async for e in await second.resume(run_id)][-1]
    assert ended == RunEnded(run_id, "awaiting_human", "")
