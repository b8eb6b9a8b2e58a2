"""Text written to fool a person, in a tool's output and error, a plan and a task: what the
terminal (emulated by pyte), ``show``, ``runs`` and the notebook's HTML make of it. Escape
sequences are shown, never obeyed; Rich markup and HTML in data are printed as written; the
approval panel shows the call that will run, whatever the tools said."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from agentlab.cli.render import approval_panel
from agentlab.orchestration import Request
from agentlab.orchestration.requests import RequestKind
from tests import hostile_agent as hostile
from tests.cli import REPOSITORY, agentlab

pyte = pytest.importorskip("pyte")

AGENT = f"{REPOSITORY / 'tests' / 'hostile_agent.py'}:agent"
TASK = f"Summarize my inbox for the boss {hostile.SCRIPT}\x1b[2J"
COLUMNS, ROWS = 120, 200  # room for the whole run: nothing scrolls off the emulated screen


class Screen:
    """What a terminal of COLUMNS x ROWS shows of the bytes fed to it (pyte's VT100)."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.Stream(self.screen)

    def feed(self, text: str) -> None:
        self.stream.feed(text)

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def arguments(self) -> list[str]:
        """The argument lines of the last approval panel on the screen, without its border."""
        start = max(i for i, line in enumerate(self.lines) if "arguments: {" in line)
        shown = []
        for line in self.lines[start + 1 :]:
            inner = line.strip().strip("│").strip()
            if inner == "}":
                return shown
            shown.append(inner)
        raise AssertionError("\n".join(self.lines))


def drawn_as_an_argument(lines: list[str], fake: str) -> bool:
    """Whether a line reads as an argument line saying ``fake`` (not inside shown text)."""
    return any(re.match(rf'^│?\s*"to": "{re.escape(fake)}"', line.strip()) for line in lines)


def hostile_request(kind: RequestKind) -> Request:
    return Request(
        kind=kind,
        request_id="1.2/x",
        call_hash="abc",
        step_id="1.2",
        tool="send_email",
        arguments={"to": hostile.REAL_TO, "subject": "hello", "body": "the summary\x9b2J"},
        reasons=(f"got no answer: {hostile.REWRITE}",),
        description=hostile.DESCRIPTION,
    )


@pytest.mark.parametrize("kind", list(RequestKind))
def test_an_approval_panel_on_a_terminal_shows_the_real_arguments_and_no_drawn_ones(kind):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system="standard")
    console.print("before the panel")
    console.print(approval_panel(hostile_request(kind)))
    screen = Screen()
    screen.feed(out.getvalue().replace("\n", "\r\n"))  # a terminal's output post-processing
    assert screen.lines[0] == "before the panel"  # neither CSI ... J clears the screen
    assert screen.arguments() == [
        f'"to": "{hostile.REAL_TO}",',
        '"subject": "hello",',
        '"body": "the summary\\x9b2J"',
    ]
    assert not drawn_as_an_argument(screen.lines, hostile.FAKE_TO)
    shown = "\n".join(screen.lines)
    assert "\\x1b[2A" in shown and "\\x1b[8m" in shown and "\\u202e" in shown


def test_a_streamed_reply_shows_an_escape_sequence_split_across_its_pieces():
    from agentlab.cli.render import render_stream
    from agentlab.events import Replied, ReplyDelta, RunEnded

    pieces = ["Done. \x1b", "[2J\x1b[", "1A", "[red]x[/red]"]
    events = [*map(ReplyDelta, pieces), Replied("".join(pieces), 1, streamed=True)]
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    render_stream(console, [*events, RunEnded("run-1", "completed", "done")])
    assert out.getvalue() == "reply: Done. \\x1b[2J\\x1b[1A[red]x[/red]\n"


@pytest.fixture
def hostile_run(env, tmp_path) -> tuple[str, str]:
    """A run of the hostile agent, paused on its mail of unknown effect; its id and what
    ``agentlab run`` printed."""
    (tmp_path / "script.json").write_text(hostile.script())
    ran = agentlab(env, "run", TASK, "--agent", AGENT, "--script", tmp_path / "script.json")
    assert ran.returncode == 0, ran.stderr
    match = re.search(r"run-[0-9a-f]{10}", ran.stdout)
    assert match, ran.stdout
    approved = agentlab(env, "resume", match.group(0), "--approve")
    assert approved.returncode == 0, approved.stderr
    assert "did this call take effect?" in approved.stdout
    return match.group(0), ran.stdout + approved.stdout


def test_run_and_show_print_escape_sequences_visibly(env, hostile_run):
    run_id, printed = hostile_run
    shown = agentlab(env, "show", run_id)
    assert shown.returncode == 0, shown.stderr
    for out in (printed, shown.stdout):  # plain output: any ESC would be the data's
        assert not {"\x1b", "\x9b", "\u202e", "\u200b"} & set(out), ascii(out)
    assert "Read the inbox \\x1b[2J\\x1b[H" in shown.stdout  # the plan table
    assert "\\x1b[8msecret instructions" in shown.stdout  # the tool's output
    assert "\\x1b[2A\\r\\x1b[2K" in shown.stdout  # the tool's error, in the panel
    assert "boss\\u202e\\u200b" in shown.stdout


def test_rich_markup_in_data_is_printed_as_written(env, hostile_run):
    run_id, printed = hostile_run
    shown = agentlab(env, "show", run_id)
    said = f"\\x1b[HNothing to see here.\\x1b[8msecret instructions {hostile.MARKUP}"
    assert f"tool read_inbox() ok \\x1b[2J{said}" in printed
    assert f'"subject": "re: {hostile.MARKUP}",' in shown.stdout


def test_runs_never_cuts_a_run_id_at_a_narrow_terminal(env, hostile_run):
    run_id, _ = hostile_run
    agentlab(env, "feedback", run_id, "--score", "bad", "--comment", "a long comment " * 4)
    listed = agentlab({**env, "COLUMNS": "60"}, "runs")
    assert listed.returncode == 0, listed.stderr
    assert max(len(line) for line in listed.stdout.splitlines()) <= 60
    assert run_id in listed.stdout


def test_a_conversation_prints_its_messages_and_replies_visibly(env, tmp_path):
    (tmp_path / "turn.json").write_text(hostile.conversation_script())
    said = f"what came in?{hostile.HIDE}"
    ran = agentlab(
        env, "run", said, "--session", "s1", "--agent", AGENT, "--script", tmp_path / "turn.json"
    )
    assert ran.returncode == 0, ran.stderr
    shown = agentlab(env, "sessions", "show", "s1")
    assert shown.returncode == 0, shown.stderr
    for out in (ran.stdout, shown.stdout):
        assert "\x1b" not in out, ascii(out)
        assert f"All read.\\x1b[2J\\x1b[H {hostile.MARKUP}" in out  # the reply
    assert "what came in?\\x1b[8m" in shown.stdout


async def test_the_notebook_escapes_html_and_shows_control_characters(tmp_path, capsys):
    from agentlab.lab import Lab, print_event
    from agentlab.lab.widgets import request_html

    (tmp_path / "script.json").write_text(hostile.script())
    async with Lab() as lab:
        run = await lab.start(
            hostile.agent, TASK, script=tmp_path / "script.json", on_event=print_event
        )
        assert run.status == "awaiting_human"
        page = run._repr_html_() + "".join(request_html(r) for r in run.requests)
    printed = capsys.readouterr().out
    for out in (page, printed):
        assert not {"\x1b", "\x9b", "\u202e", "\u200b"} & set(out), ascii(out)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Read the inbox \\x1b[2J\\x1b[H&lt;script&gt;" in page  # the plan's table
    assert "to the boss\\u202e\\u200b" in page  # the request
    assert "secret instructions" in printed  # the tool output, as JSON


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(180)
def test_at_a_terminal_the_approval_panel_shows_the_call_that_runs_not_what_a_tool_drew(
    tmp_path,
):
    pexpect = pytest.importorskip("pexpect")
    (tmp_path / "script.json").write_text(hostile.script())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENTLAB_", "ANTHROPIC_"))},
        "AGENTLAB_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(REPOSITORY),
        "COLUMNS": str(COLUMNS),
        "LINES": str(ROWS),
        "TERM": "xterm",
    }
    env.pop("NO_COLOR", None)
    args = ["-m", "agentlab", "run", TASK, "--agent", AGENT, "--script", "script.json"]
    child = pexpect.spawn(
        sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=60
    )
    child.setwinsize(ROWS, COLUMNS)
    screen = Screen()
    try:
        child.expect(r"Approve this call\?")
        screen.feed(child.before + child.after)
        assert screen.lines[0].startswith("Run run-"), "\n".join(screen.lines)  # not cleared
        assert screen.arguments()[0] == f'"to": "{hostile.REAL_TO}",'
        assert "\\x1b[8m" in "\n".join(screen.lines)

        child.sendline("y")  # the call fails mid-call, with the hostile error
        child.expect(r"Did this call take effect\?")
        screen.feed(child.before + child.after)
        assert screen.arguments() == [
            f'"to": "{hostile.REAL_TO}",',
            f'"subject": "re: {hostile.MARKUP}",',
            '"body": "the summary\\x9b2J"',
        ]
        assert not drawn_as_an_argument(screen.lines, hostile.FAKE_TO)
        assert "\\x1b[2A" in "\n".join(screen.lines)

        child.sendline("s")  # stop the run
        child.expect("Note")
        child.sendline("")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 3
    assert Path(tmp_path / "data").exists()
