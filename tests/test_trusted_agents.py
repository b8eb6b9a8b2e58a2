"""A run's agent reference, read back from the runs database, is imported only from trusted
places: the ``agent_paths`` setting, the project's ``langgraph.json``, the built-in agents. Whoever
can write that database must not choose the code an operator's ``resume`` runs: a tampered record
is refused (or, for ``show``, ``runs`` and ``kill``, served from the record) without importing it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from agentlab.config import load_settings
from agentlab.domains.support import DEMO_TASK, demo_script_path
from agentlab.errors import UntrustedAgentError
from agentlab.orchestration import SyncRunner, trusted_reference
from tests.cli import agentlab, agentlab_process

# Importing this module leaves a mark: a test passes only if it is never imported.
UNTRUSTED = """
from pathlib import Path

(Path(__file__).parent / "imported").write_text("untrusted code ran")
from agentlab.domains.support import agent
"""

# An agent of the user's own (the support agent, under another reference).
OWN = "from agentlab.domains.support import agent\n"


def run_id_in(text: str) -> str:
    match = re.search(r"run-[0-9a-f]{10}", text)
    assert match, text
    return match.group(0)


def trusting(env: dict[str, str], *paths: Path) -> dict[str, str]:
    """``env`` whose ``agent_paths`` are ``paths`` (none: only langgraph.json and built-ins)."""
    return {**env, "AGENTLAB_AGENT_PATHS": json.dumps([str(p) for p in paths])}


def runs_db(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["AGENTLAB_DATA_DIR"]) / "runs.sqlite")


def tamper(env: dict[str, str], run_id: str, reference: str) -> None:
    """Rewrite the run's stored agent reference, as whoever can write the database could."""
    with runs_db(env) as db:
        db.execute(
            "UPDATE agentlab_run_records SET agent = ? WHERE run_id = ?", (reference, run_id)
        )


@pytest.fixture
def untrusted(tmp_path: Path) -> Path:
    """A module outside every trusted place; ``imported`` appears beside it if it is imported."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "evil.py").write_text(UNTRUSTED)
    return folder / "evil.py"


@pytest.fixture
def waiting(env: dict[str, str], tmp_path: Path, untrusted: Path) -> tuple[dict[str, str], str]:
    """A run of the support agent waiting for an approval, its record then pointed at the
    untrusted module; the environment trusts only ``agents/``."""
    env = trusting(env, tmp_path / "agents")
    result = agentlab(env, "run", DEMO_TASK, "--script", demo_script_path())
    run_id = run_id_in(result.stdout)
    tamper(env, run_id, f"{untrusted}:agent")
    return env, run_id


def test_resume_refuses_a_run_whose_stored_agent_is_untrusted_without_importing_it(
    waiting, untrusted
):
    env, run_id = waiting
    result = agentlab_process(env, "resume", run_id, "--approve")
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(f"error: run {run_id}'s agent {untrusted}:agent is not loaded")
    assert "add its directory to agent_paths" in result.stderr
    assert "Traceback" not in result.stderr
    assert not untrusted.with_name("imported").exists()


def test_show_and_runs_read_a_run_whose_stored_agent_is_untrusted_without_importing_it(
    waiting, untrusted
):
    env, run_id = waiting
    listed = agentlab_process(env, "runs")
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout
    shown = agentlab_process(env, "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "send_notification" in shown.stdout and f"agentlab resume {run_id}" in shown.stdout
    assert not untrusted.with_name("imported").exists()


def test_kill_ends_a_waiting_run_whose_stored_agent_is_untrusted_without_importing_it(
    waiting, untrusted
):
    env, run_id = waiting
    result = agentlab_process(env, "kill", run_id)
    assert result.returncode == 0, result.stderr
    assert f"killed run {run_id}: it ended failed (killed)" in result.stdout
    assert not untrusted.with_name("imported").exists()


def test_a_session_whose_stored_agent_is_untrusted_takes_no_turn(env, tmp_path, untrusted):
    env = trusting(env, tmp_path / "agents")
    script = demo_script_path()
    first = agentlab(env, "run", "--session", "s1", DEMO_TASK, "--script", script, "--approve")
    assert first.returncode == 0, first.stderr
    with runs_db(env) as db:
        db.execute("UPDATE agentlab_sessions SET agent = ?", (f"{untrusted}:agent",))
    result = agentlab_process(env, "run", "--session", "s1", "And again", "--script", script)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(f"error: session s1's agent {untrusted}:agent is not loaded")
    assert not untrusted.with_name("imported").exists()


def test_an_agent_named_on_the_command_line_is_trusted_for_that_invocation_only(env, tmp_path):
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "mine.py").write_text(OWN)
    env = trusting(env, tmp_path / "other")
    started = agentlab(env, "run", DEMO_TASK, "--agent", agents / "mine.py:agent", "--script",
                       demo_script_path())  # fmt: skip
    assert started.returncode == 0, started.stderr
    run_id = run_id_in(started.stdout)
    refused = agentlab_process(env, "resume", run_id, "--approve")
    assert refused.returncode == 2 and "is not loaded" in refused.stderr
    resumed = agentlab_process(trusting(env, agents), "resume", run_id, "--approve")
    assert resumed.returncode == 0, resumed.stderr
    assert "tool send_notification(" in resumed.stdout  # the approved call ran


def test_a_graph_of_the_projects_langgraph_json_resumes_from_the_project(env, tmp_path):
    project = tmp_path / "project"
    (project / "graphs").mkdir(parents=True)
    (project / "graphs" / "mine.py").write_text(OWN)
    graphs = {"graphs": {"mine": "./graphs/mine.py:agent"}}
    (project / "langgraph.json").write_text(json.dumps(graphs))
    env = trusting(env)
    started = agentlab(env, "run", DEMO_TASK, "--agent", "graphs/mine.py:agent", "--script",
                       demo_script_path(), cwd=project)  # fmt: skip
    run_id = run_id_in(started.stdout)
    outside = agentlab_process(env, "resume", run_id, "--approve", cwd=tmp_path)
    assert outside.returncode == 2 and "is not loaded" in outside.stderr
    inside = agentlab_process(env, "resume", run_id, "--approve", cwd=project)
    assert inside.returncode == 0, inside.stderr
    assert "tool send_notification(" in inside.stdout


def resume_in_process(env: dict[str, str], run_id: str, agents: Path) -> None:
    settings = load_settings(data_dir=env["AGENTLAB_DATA_DIR"], agent_paths=[agents])
    with SyncRunner(settings) as runner:
        list(runner.resume(run_id))


def test_a_path_climbing_out_of_agent_paths_is_refused(waiting, tmp_path, untrusted):
    env, run_id = waiting
    agents = tmp_path / "agents"
    agents.mkdir()
    tamper(env, run_id, f"{agents}/../elsewhere/evil.py:agent")
    with pytest.raises(UntrustedAgentError, match="is not loaded"):
        resume_in_process(env, run_id, agents)
    assert not untrusted.with_name("imported").exists()


def test_a_symlink_out_of_agent_paths_is_refused(waiting, tmp_path, untrusted):
    env, run_id = waiting
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "link.py").symlink_to(untrusted)
    (agents / "linked").symlink_to(untrusted.parent, target_is_directory=True)
    for reference in (f"{agents}/link.py:agent", f"{agents}/linked/evil.py:agent"):
        tamper(env, run_id, reference)
        with pytest.raises(UntrustedAgentError, match="is not loaded"):
            resume_in_process(env, run_id, agents)
    assert not untrusted.with_name("imported").exists()


def test_a_module_is_judged_by_its_packages_files_without_importing_them(tmp_path, monkeypatch):
    package = tmp_path / "elsewhere" / "vendor"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(UNTRUSTED)  # runs when vendor.office is imported
    (package / "office.py").write_text(OWN)
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    only_the_module = load_settings(agent_paths=[package / "office.py"])
    with pytest.raises(UntrustedAgentError, match="vendor.office:agent is not loaded"):
        trusted_reference("vendor.office:agent", only_the_module)
    assert not (package / "imported").exists()
    whole_package = load_settings(agent_paths=[package])
    assert trusted_reference("vendor.office:agent", whole_package) == "vendor.office:agent"
    assert "vendor" not in sys.modules and not (package / "imported").exists()


def test_built_in_agents_and_the_default_agent_are_trusted(tmp_path):
    settings = load_settings(agent_paths=[], default_agent=f"{tmp_path / 'mine.py'}:agent")
    built_in = "agentlab.domains.support:agent"
    assert trusted_reference(built_in, settings) == built_in
    assert trusted_reference(f"{tmp_path / 'mine.py'}:agent", settings).endswith("mine.py:agent")
    with pytest.raises(UntrustedAgentError):
        trusted_reference("agentlab.cli.app:main", settings)  # agentlab, but not an agent
