"""`agentlab promote` without --project finds the project upwards (the first directory holding
langgraph.json), so a notebook's kernel, which runs in notebooks/, promotes as the notebook says:
``!agentlab promote 02_build_a_graph.ipynb --name refunds``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_promote import DEFINITION, cli, notebook

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "graphs").mkdir(parents=True)
    (root / "langgraph.json").write_text(json.dumps({"graphs": {}}))
    return root


def test_promote_in_a_notebooks_directory_writes_into_the_project_above(project):
    here = project / "notebooks"
    here.mkdir()
    notebook(here / "counter.ipynb", (DEFINITION.replace("WORDS", "6"), ["export"]))

    promoted = cli(here, "promote", "counter.ipynb", "--name", "counter")

    assert promoted.returncode == 0, promoted.stderr
    assert "wrote ../graphs/counter.py from 1 cell(s)" in promoted.stdout
    assert "registered graph 'counter' in ../langgraph.json" in promoted.stdout
    assert "run it: agentlab run --agent ../graphs/counter.py:agent" in promoted.stdout
    assert "# Source: notebooks/counter.ipynb" in (project / "graphs" / "counter.py").read_text()
    assert json.loads((project / "langgraph.json").read_text())["graphs"]["counter"] == (
        "./graphs/counter.py:make_graph"
    )
    assert not (here / "graphs").exists() and not (here / "langgraph.json").exists()


def test_the_build_a_graph_notebooks_promote_line_works_from_its_kernels_directory(tmp_path):
    copy = tmp_path / "repo"
    (copy / "notebooks").mkdir(parents=True)
    shutil.copytree(REPOSITORY / "graphs", copy / "graphs")
    shutil.copy(REPOSITORY / "notebooks" / "02_build_a_graph.ipynb", copy / "notebooks")
    shutil.copy(REPOSITORY / "langgraph.json", copy / "langgraph.json")
    (copy / "graphs" / "refunds.py").unlink()
    markdown = json.loads((copy / "notebooks" / "02_build_a_graph.ipynb").read_text())["cells"]
    assert any(
        "!agentlab promote 02_build_a_graph.ipynb --name refunds" in "".join(cell["source"])
        for cell in markdown
    ), "the notebook no longer shows the line this test runs"

    promoted = cli(copy / "notebooks", "promote", "02_build_a_graph.ipynb", "--name", "refunds")

    assert promoted.returncode == 0, promoted.stderr
    assert "graph 'refunds' was already registered in ../langgraph.json" in promoted.stdout
    assert (copy / "graphs" / "refunds.py").read_text() == (
        REPOSITORY / "graphs" / "refunds.py"
    ).read_text()


def test_promote_outside_any_project_says_where_it_looked(tmp_path):
    lost = tmp_path / "no" / "project" / "here"
    lost.mkdir(parents=True)
    notebook(lost / "n.ipynb", (DEFINITION, ["export"]))

    promoted = cli(lost, "promote", "n.ipynb", "--name", "counter")

    assert promoted.returncode == 2
    assert f"no langgraph.json in {lost.resolve()} or any directory above it" in promoted.stderr
    assert "Traceback" not in promoted.stderr
