"""The errors agentlab raises for mistakes a user can fix.

Each message says what was wrong and what to do. The CLI prints the message and exits non-zero
without a traceback; anything that is not an ``AgentlabError`` is a bug and keeps its traceback.

What to do is often said differently where the user stands: the API calls it a decision, the
command line a flag, a notebook a method. Such an error carries a ``Fix`` (with what it needs:
the run's id...) instead of fixed words; ``str(error)`` words it for the API, and each front end
words it its own way (``AgentlabError.worded``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar


class Fix(StrEnum):
    """What a user can do about an error, named once; each front end says it in its own words
    (format fields: the error's ``details``, such as ``run_id``)."""

    DECIDE = "decide"
    """Answer the request the run waits for: approve or reject it."""
    CONTINUE = "continue"
    """Resume the run without a decision: it goes on from where it stopped."""
    OFFLINE = "offline"
    """Replay a scripted model instead of calling Claude."""
    DATA_DIR = "data_dir"
    """Use a data directory that can be written."""
    ONE_STEP = "one_step"
    """Several calls wait: answer about one of them, named by its step."""
    FORCE = "force"
    """A stopped or hung process still holds the run: take it over anyway."""
    EACH = "each"
    """Several calls of unknown effect wait: answer each by its step, or all of them, saying so."""
    LOOK = "look"
    """The run moved on since it was read: read it again, and decide on what it asks now."""
    AGAIN = "again"
    """Once the storage works again, do again what failed: nothing was lost."""
    RESUME = "resume"
    """Once the storage works again, resume the run: it goes on from where it stopped."""
    NEW_SESSION = "new_session"
    """The session is another principal's or agent's: start a new one, or continue it as them."""


API_WORDS: Mapping[Fix, str] = {
    Fix.DECIDE: "resume it with a decision (approve or reject)",
    Fix.CONTINUE: "resume it without a decision to continue it",
    Fix.OFFLINE: "export ANTHROPIC_API_KEY to use Claude, or replay a scripted model "
    "(a script file) offline",
    Fix.DATA_DIR: "set data_dir (AGENTLAB_DATA_DIR) to a writable directory",
    Fix.ONE_STEP: "say which call, by its step",
    Fix.FORCE: "Runner.resume(run_id, force=True) takes it over",
    Fix.EACH: "answer each by its step (step=...), or all of them with Runner.decide(..., "
    "every=True)",
    Fix.LOOK: "read it again (Runner.get) and decide on that",
    Fix.AGAIN: "then try again: nothing was lost",
    Fix.RESUME: "then resume run {run_id} (Runner.resume): it continues where it stopped, "
    "nothing was lost and no finished tool call runs again",
    Fix.NEW_SESSION: "start a new session (another session id), or continue this one as "
    "principal {principal} with agent {agent_name}",
}
"""How the API (and so ``str(error)``) says each fix."""


class AgentlabError(Exception):
    """Base class of errors caused by input or environment the user controls.

    ``message`` says what was wrong; ``fix`` (with ``details``) what to do, when a front end says
    that in its own words."""

    joint: ClassVar[str] = ": "
    """What stands between the message and the fix's words."""

    def __init__(self, message: str, *, fix: Fix | None = None, **details: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.details = details

    def worded(self, words: Mapping[Fix, str]) -> str:
        """The message, with the fix in ``words`` (the API's where they lack it)."""
        if self.fix is None:
            return self.message
        said = words.get(self.fix, API_WORDS[self.fix])
        return f"{self.message}{self.joint}{said.format(**self.details)}"

    def reworded(self, words: Mapping[Fix, str]) -> AgentlabError:
        """The same error, its advice in ``words`` (a front end re-raises it so)."""
        if self.fix is None:
            return self
        again = copy.copy(self)
        again.message, again.fix = self.worded(words), None
        again.args = (again.message,)
        return again

    def __str__(self) -> str:
        return self.worded(API_WORDS)


class ConfigError(AgentlabError):
    """The configuration is missing, unreadable or invalid."""


class ScriptError(AgentlabError):
    """A scripted-model file is missing, malformed, or has no turn left for a request."""


class JudgeError(AgentlabError):
    """An eval's judge could not give a verdict: it has no model to ask, or its model answered
    without a usable judgement."""


class RunNotFoundError(AgentlabError):
    """No run with the given id exists in the data directory."""


class SessionError(AgentlabError):
    """A conversation session cannot be used as asked: it is another principal's or agent's."""


class SessionNotFoundError(SessionError):
    """No conversation session with the given id exists in the runs database."""


class RunStateError(AgentlabError):
    """The run exists but cannot do what was asked in its current status."""


class ModelUnavailableError(AgentlabError):
    """A model provider failed after retries and fallbacks (overloaded, unreachable, refused)."""


class ModelOverloadedError(ModelUnavailableError):
    """A model could not answer for now (overloaded, rate limited, unreachable): another might."""


class AgentNotFoundError(AgentlabError):
    """An agent reference (``module:attr`` or ``path.py:attr``) does not lead to an agent."""


class UntrustedAgentError(AgentNotFoundError):
    """An agent reference read back from storage names code outside the trusted places (the
    ``agent_paths`` setting, ``langgraph.json``, the built-in agents): it is not imported."""


class RunBusyError(RunStateError):
    """Another process holds the run's lease: it is advancing the run right now."""


class DamagedDataError(AgentlabError):
    """A database file, a run's row or its checkpoint cannot be read."""


class StorageError(AgentlabError):
    """The runs database could not be written (or opened) for a reason of where it is kept: a
    full disk, a read-only file system, missing permissions, a lock held too long. What it holds
    is intact: once the storage works again, what failed can be done again (``fix``)."""

    joint = ", "

    def for_run(self, run_id: str) -> StorageError:
        """The same error met while run ``run_id`` advanced: its fix resumes that run."""
        again = copy.copy(self)
        again.fix, again.details = Fix.RESUME, {**self.details, "run_id": run_id}
        return again


class DiskFullError(StorageError):
    """The disk (or the file system's quota) holding the runs database is full."""


class ReadOnlyStorageError(StorageError):
    """The runs database lies on a file system mounted read-only."""


class StoragePermissionError(StorageError):
    """This user may not write the runs database or its directory."""


class DatabaseLockedError(StorageError):
    """Another process held the runs database's lock for longer than the busy timeout."""
