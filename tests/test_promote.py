"""`agentlab promote`: a notebook's cells tagged 'export' become graphs/NAME.py, registered in
langgraph.json, and the promoted agent runs through the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from agentlab.lab import promote
from agentlab.lab.promote import MARKER, PromotionError
from tests.cli import MEMORY_OFF, agentlab

DEFINITION = '''
from agentlab import Agent, FunctionToolset, tool
from agentlab.models import parse_script, scripted_router

SCRIPT = """
roles:
  planner:
    - tool_use: {name: submit_plan, input: {steps: [{description: count, tool: count_words,
                                                     arguments: {text: to be or not to be}}]}}
  validator:
    - tool_use: {name: submit_verdict, input: {complete: true, reason: WORDS words}}
"""


@tool
def count_words(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


agent = Agent(
    name="counter",
    purpose="counts words",
    toolsets=[FunctionToolset([count_words])],
    models=scripted_router(parse_script(SCRIPT)),
)
'''


def notebook(path: Path, *cells: tuple[str, list[str]]) -> Path:
    """Write a notebook of code cells given as (source, tags)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# An agent")] + [
        nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "graphs").mkdir(parents=True)
    (root / "langgraph.json").write_text(json.dumps({"graphs": {"support": "./graphs/s.py:g"}}))
    return root


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    env.update(AGENTLAB_DATA_DIR=str(project / "data"), COLUMNS="200", **MEMORY_OFF)
    return agentlab(env, *args, cwd=project)


def test_promoted_agent_is_registered_and_runs_through_the_cli(project):
    notebook(
        project / "counter.ipynb",
        ('print("scratch work, not exported")', []),
        (DEFINITION.replace("WORDS", "6"), ["export"]),
    )
    promoted = cli(project, "promote", "counter.ipynb", "--name", "counter")
    assert promoted.returncode == 0, promoted.stderr
    assert "wrote graphs/counter.py from 1 cell(s)" in promoted.stdout
    module = (project / "graphs" / "counter.py").read_text()
    assert module.startswith(MARKER) and "scratch work" not in module
    config = json.loads((project / "langgraph.json").read_text())
    assert config["graphs"] == {
        "support": "./graphs/s.py:g",
        "counter": "./graphs/counter.py:make_graph",
    }

    ran = cli(project, "run", "How many words?", "--agent", "graphs/counter.py:agent")
    assert ran.returncode == 0, ran.stderr
    assert "count_words" in ran.stdout and "completed" in ran.stdout


def test_promoting_again_updates_the_module_in_place(project):
    path = notebook(project / "n.ipynb", (DEFINITION.replace("WORDS", "6"), ["export"]))
    promote(path, "counter", project=project)
    notebook(path, (DEFINITION.replace("WORDS", "six"), ["export"]))
    again = promote(path, "counter", project=project)
    assert again.updated and not again.registered
    assert "six words" in (project / "graphs" / "counter.py").read_text()
    assert list(json.loads((project / "langgraph.json").read_text())["graphs"]) == [
        "support",
        "counter",
    ]


def test_a_module_promote_did_not_write_is_never_overwritten(project):
    mine = project / "graphs" / "counter.py"
    mine.write_text("# my own code\n")
    path = notebook(project / "n.ipynb", (DEFINITION, ["export"]))
    with pytest.raises(PromotionError, match="was not written by 'agentlab promote'"):
        promote(path, "counter", project=project)
    assert mine.read_text() == "# my own code\n"


def test_a_notebook_with_nothing_tagged_is_reported(project):
    result = cli(
        project,
        "promote",
        str(notebook(project / "n.ipynb", (DEFINITION, []))),
        "--name",
        "counter",
    )
    assert result.returncode == 2
    assert "has no code cell tagged 'export'" in result.stderr
    assert not (project / "graphs" / "counter.py").exists()


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("%pip install x\n" + DEFINITION, "uses IPython magics"),
        ("x = 1", "must define `agent = Agent(...)`"),
        ("import no_such_module_anywhere", "do not run as a module (ModuleNotFoundError"),
    ],
)
def test_exported_cells_that_cannot_be_a_module_are_refused(project, source, problem):
    path = notebook(project / "n.ipynb", (source, ["export"]))
    with pytest.raises(PromotionError, match=re.escape(problem)):
        promote(path, "counter", project=project)
    assert not (project / "graphs" / "counter.py").exists()
    assert "counter" not in json.loads((project / "langgraph.json").read_text())["graphs"]


def test_a_name_taken_in_langgraph_json_is_refused(project):
    path = notebook(project / "n.ipynb", (DEFINITION, ["export"]))
    with pytest.raises(PromotionError, match="already has a graph 'support'"):
        promote(path, "support", project=project)


def test_the_build_a_graph_notebook_promotes_into_a_copy_of_the_repo_and_runs(tmp_path):
    root = Path(__file__).resolve().parents[1]
    copy = tmp_path / "repo"
    (copy / "notebooks").mkdir(parents=True)
    shutil.copytree(root / "graphs", copy / "graphs")
    shutil.copy(root / "notebooks" / "02_build_a_graph.ipynb", copy / "notebooks")
    config = json.loads((root / "langgraph.json").read_text())
    config["graphs"].pop("refunds", None)
    (copy / "langgraph.json").write_text(json.dumps(config))
    (copy / "graphs" / "refunds.py").unlink(missing_ok=True)

    promoted = cli(copy, "promote", "notebooks/02_build_a_graph.ipynb", "--name", "refunds")
    assert promoted.returncode == 0, promoted.stderr
    assert (copy / "graphs" / "refunds.py").read_text() == (
        root / "graphs" / "refunds.py"
    ).read_text(), "graphs/refunds.py in the repo is not what promoting the notebook writes"
    ran = cli(
        copy, "run", "Refund order 1001 in full", "--agent", "graphs/refunds.py:agent", "--approve"
    )
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"status\s+completed", ran.stdout)
    assert "refunded and recorded" in ran.stdout


def test_promoted_files_are_readable_like_any_source_file(project):
    path = notebook(project / "n.ipynb", (DEFINITION, ["export"]))
    (project / "langgraph.json").chmod(0o664)
    promote(path, "counter", project=project)
    assert (project / "graphs" / "counter.py").stat().st_mode & 0o777 == 0o644
    assert (project / "langgraph.json").stat().st_mode & 0o777 == 0o664


def test_a_directory_in_the_way_is_refused(project):
    (project / "graphs" / "counter.py").mkdir()
    path = notebook(project / "n.ipynb", (DEFINITION, ["export"]))
    with pytest.raises(PromotionError, match="exists and is not a file"):
        promote(path, "counter", project=project)


@pytest.mark.parametrize("name", ["nl\n", "counter\n", "ok\nx"])
def test_a_name_is_matched_whole_so_a_newline_in_it_is_refused(project, name):
    path = notebook(project / "n.ipynb", (DEFINITION, ["export"]))
    result = cli(project, "promote", str(path), "--name", name)
    assert result.returncode == 2
    assert "is not a module name" in result.stderr and "Traceback" not in result.stderr
    assert list((project / "graphs").iterdir()) == []
    assert list(json.loads((project / "langgraph.json").read_text())["graphs"]) == ["support"]
