"""MCP servers this project did not write, consumed as toolsets: the reference filesystem server
(npm, run with npx, on a tmp directory) and the git server (``mcp-server-git`` from PyPI, on a tmp
repository). Their tools are listed with risk from their annotations, read calls run through the
one executor, a write waits for a human until a policy file says otherwise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentlab.tools import (
    CallRequest,
    CallScope,
    DefaultPolicy,
    MCPServer,
    MCPToolset,
    Policy,
    Risk,
    Tool,
    ToolExecutor,
    ToolOutcome,
    ToolRegistry,
)
from agentlab.tools.rules import parse_policy

# The version is pinned: a test of what a server's annotations say must not change under it.
FILESYSTEM_SERVER = "@modelcontextprotocol/server-filesystem@2026.8.31"
SCOPE = CallScope(run_id="run-1", principal="alice")

shared_loop = pytest.mark.asyncio(loop_scope="module")
pytestmark = [pytest.mark.slow, pytest.mark.integration]  # npm's and PyPI's servers, started


async def call(
    toolset: MCPToolset,
    name: str,
    arguments: dict[str, Any],
    policy: Policy | None = None,
    approved: bool = False,
) -> ToolOutcome:
    executor = ToolExecutor(ToolRegistry([toolset]), policy or DefaultPolicy())
    request = CallRequest(call_id="1.1", tool=name, arguments=arguments)
    return await executor.call(request, SCOPE, lambda event: None, approved=approved)


def effects(tool: Tool) -> tuple[Risk, bool, bool]:
    return tool.risk, tool.idempotent, tool.egress


# The filesystem server (npm).


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one directory the filesystem server may touch."""
    return tmp_path_factory.mktemp("files").resolve()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def filesystem(files: Path) -> AsyncIterator[MCPToolset]:
    if shutil.which("npx") is None:
        pytest.skip("npx is not installed: the filesystem MCP server is an npm package (Node.js)")
    # The first start may download the package from the npm registry.
    server = MCPServer.stdio("npx", ["-y", FILESYSTEM_SERVER, str(files)], timeout_s=120)
    toolset = MCPToolset(server)
    yield toolset
    await toolset.aclose()


@shared_loop
async def test_the_filesystem_servers_tools_carry_risk_from_their_annotations(filesystem):
    tools = {t.name: t for t in await filesystem.list_tools()}

    assert {"read_text_file", "list_directory", "write_file", "move_file"} <= set(tools)
    # readOnlyHint; destructiveHint (overwrites) with idempotentHint; destructiveHint alone.
    assert effects(tools["read_text_file"]) == (Risk.READ, True, False)
    assert effects(tools["write_file"]) == (Risk.DESTRUCTIVE, True, False)
    assert effects(tools["move_file"]) == (Risk.DESTRUCTIVE, False, False)
    assert effects(tools["create_directory"]) == (Risk.WRITE, True, False)


@shared_loop
async def test_a_file_is_read_through_the_executor(filesystem, files):
    (files / "notes.txt").write_text("the answer is 42\n")

    outcome = await call(filesystem, "read_text_file", {"path": str(files / "notes.txt")})

    assert outcome["ok"], outcome
    assert outcome["output"] == {"content": "the answer is 42\n"}


@shared_loop
async def test_a_path_outside_its_directory_is_the_servers_error_result(filesystem):
    outcome = await call(filesystem, "read_text_file", {"path": "/etc/hostname"})

    assert not outcome["ok"]
    assert "outside allowed directories" in outcome["error"]


@shared_loop
async def test_the_write_tool_waits_for_a_human_and_writes_once_approved(filesystem, files):
    target = files / "draft.txt"
    arguments = {"path": str(target), "content": "hello"}

    refused = await call(filesystem, "write_file", arguments)
    assert refused["error"] == (
        "write_file needs a human's approval (destructive) and was not approved"
    )
    assert not target.exists()

    written = await call(filesystem, "write_file", arguments, approved=True)
    assert written["ok"], written
    assert target.read_text() == "hello"


@shared_loop
async def test_a_policy_file_replaces_the_write_tools_hints(filesystem, files):
    policy = parse_policy("tools:\n  write_file: {risk: write, idempotent: false}\n")
    executor = ToolExecutor(ToolRegistry([filesystem]), policy)
    target = files / "scratch.txt"

    write_file = await executor.tools.get("write_file")
    outcome = await call(filesystem, "write_file", {"path": str(target), "content": "x"}, policy)

    assert write_file is not None and effects(write_file) == (Risk.WRITE, False, False)
    assert outcome["ok"], outcome  # a write the policy allows: no human needed
    assert target.read_text() == "x"


# The git server (PyPI).


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("repo").resolve()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "Test")
    (repo / "README.md").write_text("# A repository\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "Write the README")
    return repo


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def git_server(repo: Path) -> AsyncIterator[MCPToolset]:
    pytest.importorskip("mcp_server_git", reason="mcp-server-git is in the dev extra")
    server = MCPServer.stdio(
        sys.executable, ["-m", "mcp_server_git", "--repository", str(repo)], timeout_s=30
    )
    toolset = MCPToolset(server)
    yield toolset
    await toolset.aclose()


@shared_loop
async def test_the_git_servers_tools_carry_risk_from_their_annotations(git_server):
    tools = {t.name: t for t in await git_server.list_tools()}

    assert effects(tools["git_status"]) == (Risk.READ, True, False)
    assert effects(tools["git_log"]) == (Risk.READ, True, False)
    assert effects(tools["git_commit"]) == (Risk.WRITE, False, False)
    assert effects(tools["git_reset"]) == (Risk.DESTRUCTIVE, True, False)


@shared_loop
async def test_git_status_of_a_repository_shows_an_untracked_file(git_server, repo):
    (repo / "todo.txt").write_text("ship it\n")

    outcome = await call(git_server, "git_status", {"repo_path": str(repo)})

    assert outcome["ok"], outcome
    assert "Repository status" in outcome["output"]
    assert "todo.txt" in outcome["output"]


@shared_loop
async def test_git_log_of_a_repository_shows_its_commit(git_server, repo):
    outcome = await call(git_server, "git_log", {"repo_path": str(repo), "max_count": 5})

    assert outcome["ok"], outcome
    assert "Write the README" in outcome["output"]


@shared_loop
async def test_a_repository_outside_the_servers_is_its_error_result(git_server, tmp_path):
    outcome = await call(git_server, "git_status", {"repo_path": str(tmp_path)})

    assert not outcome["ok"]
    assert "is outside the allowed repository" in outcome["error"]
