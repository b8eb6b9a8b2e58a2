"""How the command line says what to do about an error: its flags, where the API has calls."""

from __future__ import annotations

from collections.abc import Mapping

from agentlab.errors import Fix

CLI_WORDS: Mapping[Fix, str] = {
    Fix.DECIDE: "resume it with --approve or --reject",
    Fix.CONTINUE: "'agentlab resume {run_id}' without --approve/--reject continues it",
    Fix.OFFLINE: "export ANTHROPIC_API_KEY to use Claude, or replay a scripted model "
    "(--script FILE) offline",
    Fix.DATA_DIR: "pass --data-dir (or set AGENTLAB_DATA_DIR) to a writable directory",
    Fix.ONE_STEP: "choose one with --step",
    Fix.FORCE: "'agentlab resume {run_id} --force' takes it over",
    Fix.EACH: "answer each with --step STEP, or all of them at once with --all",
    Fix.LOOK: "look at it ('agentlab show {run_id}') and decide on that",
    Fix.AGAIN: "then run the command again: nothing was lost",
    Fix.RESUME: "then 'agentlab resume {run_id}' continues the run where it stopped: nothing "
    "was lost and no finished tool call runs again",
    Fix.NEW_SESSION: "start a new session (another --session ID), or continue this one with "
    "--as {principal} and its agent",
}
