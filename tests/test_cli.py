"""The ``agentlab`` command: the demo, approvals, resume, bad input. In this process (what users
see: exit codes, output, ``error:`` lines), and as real processes where a terminal, a signal or
another process is the point."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.domains.support import DEMO_TASK, demo_script_path
from tests.cli import AGENTLAB, REPOSITORY, agentlab, agentlab_process

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def run_id_in(text: str) -> str:
    match = re.search(r"run-[0-9a-f]{10}", text)
    assert match, text
    return match.group(0)


def support_db(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["AGENTLAB_DATA_DIR"]) / "support.sqlite")


@pytest.mark.slow
@pytest.mark.integration
def test_demo_shows_plan_approvals_tool_calls_and_completion(env):
    result = agentlab_process(env, "demo")  # a process: nothing is printed at its exit either
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "scripted" in out and "no LLM is called" in out
    assert "Plan 1" in out
    assert out.count("approval needed") == 2 and out.count("approved") >= 2
    for tool in ("search_customers", "send_notification", "delete_customer"):
        assert f"tool {tool}(" in out
    assert "validating → completed" in out
    assert re.search(r"status\s+completed", out)
    assert result.stderr == ""  # no warnings, no "exception ignored" at exit


def test_demo_can_run_again(env):
    assert agentlab(env, "demo").returncode == 0
    assert agentlab(env, "demo").returncode == 0  # the demo database is re-seeded


@pytest.mark.integration
@pytest.mark.parametrize("stdin", ["closed", "a pipe"])
def test_demo_interactive_without_a_terminal_refuses_instead_of_approving(env, stdin):
    given = {"stdin": subprocess.DEVNULL} if stdin == "closed" else {"input": "y\ny\n"}
    result = subprocess.run(
        [*AGENTLAB, "demo", "--interactive"],
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        **given,
    )
    assert result.returncode == 2
    assert "--interactive asks at a terminal, and stdin is not one" in result.stderr
    assert "Traceback" not in result.stderr
    assert "approved" not in result.stdout
    assert not (Path(env["AGENTLAB_DATA_DIR"]) / "runs.sqlite").exists()  # no run was started


def test_run_off_a_terminal_stops_at_the_first_approval_and_says_how_to_resume(env):
    result = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path())
    assert result.returncode == 0, result.stderr
    run_id = run_id_in(result.stdout)
    assert f"agentlab resume {run_id} --approve" in result.stdout
    assert "awaiting_human" in result.stdout
    assert support_db(env).execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 0


def test_run_with_approve_completes(env):
    result = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path(), "--approve")
    assert result.returncode == 0, result.stderr
    assert re.search(r"status\s+completed", result.stdout)
    db = support_db(env)
    assert db.execute("SELECT COUNT(*) FROM customers WHERE id = 1").fetchone()[0] == 0


def test_run_with_reject_replans_and_fails_when_the_script_has_no_second_plan(env):
    result = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path(), "--reject")
    assert result.returncode == 1
    assert "awaiting_human → planning" in result.stdout
    assert "planner unavailable" in result.stdout


def test_reject_and_stop_from_another_process_ends_the_run(env):
    run_id = run_id_in(agentlab(env, "run", DEMO_TASK, "--script", demo_script_path()).stdout)
    result = agentlab(
        env, "resume", run_id, "--reject", "--stop", "--note", "customer changed mind"
    )
    assert result.returncode == 3  # stopped by a human: not a failure of the run itself
    assert re.search(r"status\s+failed", result.stdout)
    assert "customer changed mind" in result.stdout


def test_runs_and_show_describe_a_run(env):
    run_id = run_id_in(agentlab(env, "run", DEMO_TASK, "--script", demo_script_path()).stdout)
    listing = agentlab(env, "runs")
    assert run_id in listing.stdout and "awaiting_human" in listing.stdout
    shown = agentlab(env, "show", run_id)
    assert shown.returncode == 0
    assert "send_notification" in shown.stdout and "Transitions" in shown.stdout
    assert f"agentlab resume {run_id} --approve" in shown.stdout


class Terminal:
    """agentlab at a pseudo-terminal, as a person runs it: read the screen, type answers."""

    def __init__(self, env: dict[str, str], *args: str | Path) -> None:
        self._fd, secondary = pty.openpty()
        self.proc = subprocess.Popen(
            [*AGENTLAB, *map(str, args)],
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env=env,
            start_new_session=True,
        )
        os.close(secondary)
        self.screen = ""

    def _read(self, wait: float) -> bool:
        """Read what is there within ``wait`` seconds; False once the terminal is closed."""
        if not select.select([self._fd], [], [], wait)[0]:
            return True
        try:
            chunk = os.read(self._fd, 65536)
        except OSError:  # the process exited and the terminal closed
            return False
        self.screen += ANSI.sub("", chunk.decode(errors="replace"))
        return bool(chunk)

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.screen.count(text) < count:
            assert time.monotonic() < deadline, f"no {text!r} on screen:\n{self.screen}"
            assert self._read(0.5), f"exited before {text!r}:\n{self.screen}"

    def type(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())

    def finish(self, timeout: float = 60) -> int:
        """Read until the process exits and its terminal closes; return its exit code."""
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            assert time.monotonic() < deadline, f"agentlab did not finish:\n{self.screen}"
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._fd)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for t in opened:
        t.close()


@pytest.mark.slow
@pytest.mark.integration
def test_resume_at_a_terminal_asks_for_each_decision(env, terminals):
    run_id = run_id_in(agentlab(env, "run", DEMO_TASK, "--script", demo_script_path()).stdout)
    term = Terminal(env, "resume", run_id)
    terminals.append(term)
    for n in (1, 2):
        term.wait_for("Approve this call?", count=n)
        term.type("y")
    assert term.finish() == 0, term.screen
    assert re.search(r"status\s+completed", term.screen)


@pytest.mark.slow
@pytest.mark.integration
def test_resume_after_the_process_was_killed_while_awaiting_approval(env, terminals):
    """A run waits at an interactive prompt; its process is killed; another process approves."""
    term = Terminal(env, "run", DEMO_TASK, "--script", demo_script_path())
    terminals.append(term)
    term.wait_for("Approve this call?")
    term.proc.kill()
    assert term.proc.wait(timeout=30) == -9
    run_id = run_id_in(term.screen)

    first = agentlab(env, "resume", run_id, "--approve")  # sends the email, pauses at delete
    assert first.returncode == 0, first.stderr
    assert "approval needed" in first.stdout and "delete_customer" in first.stdout
    second = agentlab(env, "resume", run_id, "--approve")
    assert second.returncode == 0, second.stderr
    assert re.search(r"status\s+completed", second.stdout)

    db = support_db(env)
    assert db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM customers WHERE id = 1").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "run-0000000000"], "no run 'run-0000000000'"),
        (["resume", "run-0000000000", "--approve"], "no run 'run-0000000000'"),
        (["--config", "missing.toml", "runs"], "config file not found: missing.toml"),
        (["run", "close an account"], "no ANTHROPIC_API_KEY is set"),
        (["run", "close an account"], "or replay a scripted model (--script FILE)"),
        (["run", "x", "--script", "nowhere.yaml"], "script file not found: /"),
        (
            ["run", "x", "--agent", "billing", "--script", str(demo_script_path())],
            "agent reference 'billing' is not 'package.module:attr' or 'path/to/file.py:attr'",
        ),
        (
            [
                "run",
                "x",
                "--agent",
                "no_such_pkg.agents:agent",
                "--script",
                str(demo_script_path()),
            ],
            "cannot import 'no_such_pkg.agents'",
        ),
        (
            ["run", "x", "--agent", "agentlab.domains.support:nobody"],
            "agentlab.domains.support has no attribute 'nobody'",
        ),
        (["run", "x", "--agent", "nowhere/agent.py:agent"], "no such file /"),
        (["agents", "--graphs", "nowhere.json"], "no nowhere.json here"),
        (
            ["run", "x", "--agent", "json:dumps", "--script", str(demo_script_path())],
            "json:dumps is a function, not an agentlab Agent",
        ),
        (["run", " ", "--script", str(demo_script_path())], "the task is empty"),
    ],
)
def test_bad_input_gets_one_line_error_and_no_traceback(env, args, message):
    result = agentlab(env, *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {result.stderr.strip()[7:]}"]
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("roles: [", "is not valid YAML/JSON at line"),
        ("roles: {planner: [{bogus: 1}]}", "is not a valid script: roles.planner.0"),
        ("- just a list", "must be a mapping with a 'roles' key"),
    ],
)
def test_broken_script_file_gets_one_line_error(env, tmp_path, content, message):
    broken = tmp_path / "broken.yaml"
    broken.write_text(content)
    result = agentlab(env, "run", "x", "--script", broken)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_invalid_config_value_gets_one_line_error(env, tmp_path):
    config = tmp_path / "agentlab.toml"
    config.write_text("max_iterations = 0\n")
    result = agentlab(env, "--config", config, "runs")
    assert result.returncode == 2
    assert "invalid setting max_iterations" in result.stderr


def test_resuming_an_ended_run_is_refused(env):
    run_id = run_id_in(
        agentlab(env, "run", DEMO_TASK, "--script", demo_script_path(), "--approve").stdout
    )
    result = agentlab(env, "resume", run_id)
    assert result.returncode == 2
    assert f"run {run_id} has ended (completed)" in result.stderr
    decided = agentlab(env, "resume", run_id, "--approve")
    assert decided.returncode == 2
    assert f"run {run_id} has ended (completed)" in decided.stderr


def test_a_waiting_run_resumed_off_a_terminal_without_a_decision_says_how_to_decide(env):
    run_id = run_id_in(agentlab(env, "run", DEMO_TASK, "--script", demo_script_path()).stdout)
    result = agentlab(env, "resume", run_id)
    assert result.returncode == 2
    assert f"run {run_id} is waiting for a decision on send_notification(user_id=1" in (
        result.stderr
    )
    assert "(step 1.2): resume it with --approve or --reject" in result.stderr
    assert support_db(env).execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 0


def test_resume_approves_only_the_request_it_shows(env):
    """--approve binds to the request it reads and prints; --step refuses another step, and
    --happened answers only a call of unknown effect."""
    run_id = run_id_in(agentlab(env, "run", DEMO_TASK, "--script", demo_script_path()).stdout)
    other_step = agentlab(env, "resume", run_id, "--approve", "--step", "1.3")
    assert other_step.returncode == 2
    assert f"run {run_id} is waiting on step 1.2 (send_notification), not step 1.3" in (
        other_step.stderr
    )
    happened = agentlab(env, "resume", run_id, "--happened")
    assert happened.returncode == 2
    assert "'happened' answers a call of unknown effect" in happened.stderr
    assert support_db(env).execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 0

    approved = agentlab(env, "resume", run_id, "--approve", "--step", "1.2")
    assert approved.returncode == 0, approved.stderr
    shown, _, after = approved.stdout.partition("approved send_notification (step 1.2)")
    assert "approval needed" in shown and "request: 1.2/approval (call " in shown
    assert "request: 1.3/approval" in after  # it pauses again, at the next request
    assert support_db(env).execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 1


def test_iteration_cap_beyond_the_limit_is_a_usage_error(env):
    result = agentlab(env, "run", "x", "--max-iterations", "200000", "--script", demo_script_path())
    assert result.returncode == 2
    assert "--max-iterations" in result.stderr and "Traceback" not in result.stderr


def test_conflicting_flags_are_a_usage_error(env):
    result = agentlab(env, "run", "x", "--approve", "--reject", "--script", demo_script_path())
    assert result.returncode == 2
    assert "choose one of --approve and --reject" in result.stderr
    assert "Traceback" not in result.stderr


AGENT_MODULE = """
from pathlib import Path
from typing import Annotated

from pydantic import Field

from agentlab import Agent, FunctionToolset, Risk, ToolContext, tool

EFFECTS = Path(__file__).with_name("effects.log")


@tool
def find_document(title: Annotated[str, Field(min_length=1)]) -> dict:
    \"\"\"Find a document by its title.\"\"\"
    return {"title": title, "pages": 3}


@tool(risk=Risk.DESTRUCTIVE)
def shred(ctx: ToolContext, title: str) -> dict:
    \"\"\"Shred a document for good.\"\"\"
    with EFFECTS.open("a") as log:
        log.write(f"shred {title} {ctx.idempotency_key} for {ctx.principal}\\n")
    return {"shredded": title}


agent = Agent(
    name="shredder",
    purpose="an office assistant that finds and shreds documents",
    toolsets=[FunctionToolset([find_document, shred])],
)
"""

SHRED_SCRIPT = json.dumps(
    {
        "roles": {
            "planner": [
                {
                    "tool_use": {
                        "name": "submit_plan",
                        "input": {
                            "steps": [
                                {
                                    "description": "find the memo",
                                    "tool": "find_document",
                                    "arguments": {"title": "memo"},
                                },
                                {
                                    "description": "shred the memo",
                                    "tool": "shred",
                                    "arguments": {"title": "memo"},
                                },
                            ]
                        },
                    }
                }
            ],
            "validator": [
                {
                    "tool_use": {
                        "name": "submit_verdict",
                        "input": {"complete": True, "reason": "shredded"},
                    }
                }
            ],
        }
    }
)


@pytest.fixture
def user_agent(tmp_path: Path) -> Path:
    """A project of the user's, outside the package: an agent module and a script."""
    project = tmp_path / "project"
    (project / "office").mkdir(parents=True)
    (project / "office" / "__init__.py").write_text("")
    (project / "office" / "agents.py").write_text(AGENT_MODULE)
    (project / "script.json").write_text(SHRED_SCRIPT)
    return project


def effects(project: Path) -> list[str]:
    log = project / "office" / "effects.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("reference", ["office/agents.py:agent", "office.agents:agent"])
def test_user_agent_runs_pauses_and_is_approved_and_finished_by_another_process(
    env, user_agent, reference
):
    env = {**env, "PYTHONPATH": str(user_agent)}
    started = agentlab_process(
        env,
        "run",
        "Shred the memo",
        "--agent",
        reference,
        "--script",
        "script.json",
        "--as",
        "alice",
        cwd=user_agent,
    )
    assert started.returncode == 0, started.stderr
    assert "approval needed" in started.stdout and "shred" in started.stdout
    assert effects(user_agent) == []
    run_id = run_id_in(started.stdout)

    # Another process, started elsewhere, rebuilds the agent from the run's stored reference.
    finished = agentlab_process(env, "resume", run_id, "--approve")
    assert finished.returncode == 0, finished.stderr
    assert re.search(r"status\s+completed", finished.stdout)
    assert effects(user_agent) == [f"shred memo {run_id}:1.2 for alice"]
    shown = agentlab_process(env, "show", run_id)  # the module is on this PYTHONPATH only
    assert "shredder" in shown.stdout and "alice" in shown.stdout


def test_agents_lists_each_agent_of_langgraph_json_with_its_tools(env, user_agent):
    config = user_agent / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"office": "./office/agents.py:agent"}}))
    result = agentlab(env, "agents", "--graphs", config)
    assert result.returncode == 0, result.stderr
    for text in ("office", "shredder", "find_document", "shred", "destructive", "ask"):
        assert text in result.stdout


def test_agents_lists_the_support_agent_of_the_repository(env):
    result = agentlab(env, "agents", cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    for tool_name in ("search_customers", "send_notification", "delete_customer"):
        assert tool_name in result.stdout
    assert "the default agent" in result.stdout


# --- what a newcomer meets -------------------------------------------------------------------


@pytest.mark.integration
def test_version_and_short_help_flags(env):
    version = agentlab_process(env, "--version")  # the entry point itself, as a process
    assert version.returncode == 0 and re.fullmatch(r"agentlab \d+\.\d+\.\d+\n", version.stdout)
    short = agentlab(env, "run", "-h")
    assert short.returncode == 0 and "Usage: agentlab run" in short.stdout


def test_bare_agentlab_prints_its_help_and_succeeds(env):
    result = agentlab(env)
    assert result.returncode == 0
    assert "Usage: agentlab" in result.stdout and "Commands:" in result.stdout


def test_help_shows_no_type_noise_on_flags(env):
    assert "<bool>" not in agentlab(env, "resume", "--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "error: Missing argument 'TASK'; see 'agentlab run --help'"),
        (["run", "x", "--bogus"], "error: No such option: --bogus; see 'agentlab run --help'"),
        (["frobnicate"], "error: No such command 'frobnicate'"),
    ],
)
def test_usage_errors_are_one_error_line_like_other_errors(env, args, message):
    result = agentlab(env, *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message)


def test_approval_panel_shows_every_argument_in_full(env):
    result = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path())
    message = (
        "Hello Ada, as you asked, we are closing your account today. Thank you for being a "
        "customer."
    )
    panel = result.stdout[result.stdout.index("approval needed") :]
    assert message in " ".join(line.strip(" │") for line in panel.splitlines())


def test_demo_reset_reseeds_the_customers_a_run_deleted(env):
    agentlab(env, "run", DEMO_TASK, "--script", demo_script_path(), "--approve")
    assert support_db(env).execute("SELECT COUNT(*) FROM customers WHERE id = 1").fetchone()[0] == 0
    result = agentlab(env, "demo", "--reset")
    assert result.returncode == 0 and "re-seeded" in result.stdout
    assert support_db(env).execute("SELECT COUNT(*) FROM customers WHERE id = 1").fetchone()[0] == 1


def test_misspelled_environment_variable_is_reported_like_a_config_typo(env):
    result = agentlab({**env, "AGENTLAB_MAX_ITERATONS": "3"}, "runs")
    assert result.returncode == 2
    assert result.stderr == (
        "error: unknown setting in the environment variable AGENTLAB_MAX_ITERATONS: did you mean "
        "AGENTLAB_MAX_ITERATIONS?\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],
        ["show", "run-0000000000"],
        ["demo"],
        ["run", "x", "--script", str(demo_script_path())],
        ["resume", "run-0000000000"],
    ],
)
def test_unwritable_data_directory_is_an_error_line_in_every_command(env, tmp_path, args):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    result = agentlab({**env, "AGENTLAB_DATA_DIR": str(blocked / "data")}, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: cannot ") and "data-dir" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_ctrl_c_at_the_approval_prompt_names_the_saved_run(env, terminals):
    term = Terminal(env, "run", DEMO_TASK, "--script", demo_script_path())
    terminals.append(term)
    term.wait_for("Approve this call?")
    term.proc.send_signal(signal.SIGINT)  # what Ctrl-C at its terminal sends
    assert term.finish() == 130
    run_id = run_id_in(term.screen)
    assert f"interrupted: run {run_id} is saved; 'agentlab resume {run_id}' continues it" in (
        term.screen.replace("\r", "")
    )


SLOW_MODULE = """
import time
from pathlib import Path

from agentlab import Agent, FunctionToolset, tool

HERE = Path(__file__).parent


@tool
def slow_step(name: str) -> str:
    '''A step that takes a while: it waits until it is released.'''
    (HERE / "started").touch()
    deadline = time.monotonic() + 60
    while not (HERE / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return name


agent = Agent("slow", "does slow things", toolsets=[FunctionToolset([slow_step])])
"""


@pytest.mark.slow
@pytest.mark.integration
def test_runs_tells_an_interrupted_run_from_a_live_one(env, tmp_path):
    project = tmp_path / "slow"
    project.mkdir()
    (project / "slow_agent.py").write_text(SLOW_MODULE)
    (project / "script.json").write_text(
        json.dumps(
            {
                "roles": {
                    "planner": [
                        {
                            "tool_use": {
                                "name": "submit_plan",
                                "input": {
                                    "steps": [
                                        {
                                            "description": "wait",
                                            "tool": "slow_step",
                                            "arguments": {"name": "a"},
                                        }
                                    ]
                                },
                            }
                        }
                    ],
                    "validator": [
                        {
                            "tool_use": {
                                "name": "submit_verdict",
                                "input": {"complete": True, "reason": "done"},
                            }
                        }
                    ],
                }
            }
        )
    )
    proc = subprocess.Popen(
        [
            *AGENTLAB,
            "run",
            "wait",
            "--agent",
            str(project / "slow_agent.py:agent"),
            "--script",
            str(project / "script.json"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (project / "started").exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.05)
        live = agentlab(env, "runs").stdout
        assert "executing" in live and "interrupted" not in live
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    listing = agentlab(env, "runs").stdout
    assert "executing (interrupted)" in listing
    (project / "release").touch()
    resumed = agentlab(env, "resume", run_id_in(listing))
    assert resumed.returncode == 0, resumed.stderr
    assert "completed" in agentlab(env, "runs").stdout


def test_an_agent_module_with_a_syntax_error_is_an_error_line(env, tmp_path):
    broken = tmp_path / "broken_agent.py"
    broken.write_text("agent = Agent(\n")
    result = agentlab(env, "run", "x", "--agent", f"{broken}:agent")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken} has a syntax error at line 1")


def test_show_reads_a_claude_run_without_an_api_key(env):
    from agentlab.models.script import load_script
    from agentlab.testing import AnthropicTestServer

    roles = load_script(demo_script_path()).roles
    with AnthropicTestServer([roles["planner"][0], roles["executor"][0]]) as server:
        claude = {**env, "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": server.base_url}
        started = agentlab(claude, "run", DEMO_TASK)
    assert started.returncode == 0, started.stderr
    run_id = run_id_in(started.stdout)

    shown = agentlab(env, "show", run_id)  # no key, no server: it only reads
    assert shown.returncode == 0, shown.stderr
    assert "send_notification" in shown.stdout and "awaiting_human" in shown.stdout


HELPER_AGENT = '''from agentlab.orchestration import Agent
from agentlab.tools import FunctionToolset, Tool, tool


@tool
def lookup(topic: str) -> str:
    """Look a topic up. Use it for any question about a topic."""
    return topic


def _tag(arguments):
    return arguments


tag = Tool.from_schema("tag", "Tag a thing. Use it to label things.", {"type": "object"}, _tag)
agent = Agent("helper", "helps", toolsets=[FunctionToolset([lookup, tag])])
'''


def test_tools_list_shows_the_file_each_tool_is_written_in(env, tmp_path):
    (tmp_path / "helper.py").write_text(HELPER_AGENT)
    listed = agentlab(env, "tools", "list", "--agent", "helper.py:agent", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    cells = [line.split("│") for line in listed.stdout.splitlines() if line.count("│") == 5]
    sources = {c[1].strip(): c[3].strip() for c in cells if c[1].strip() in ("lookup", "tag")}
    lines = HELPER_AGENT.splitlines()
    assert sources == {
        "lookup": f"helper.py:{lines.index('@tool') + 1}",
        "tag": f"helper.py:{lines.index('def _tag(arguments):') + 1}",
    }
    assert "agentlab_agents" not in listed.stdout  # the module name agentlab gives the file
