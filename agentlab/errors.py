"""The errors agentlab raises for mistakes a user can fix.

Each message says what was wrong and what to do. The CLI prints the message and exits non-zero
without a traceback; anything that is not an ``AgentlabError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class AgentlabError(Exception):
    """Base class of errors caused by input or environment the user controls."""


class ConfigError(AgentlabError):
    """The configuration is missing, unreadable or invalid."""


class ScriptError(AgentlabError):
    """A scripted-model file is missing, malformed, or has no turn left for a request."""


class RunNotFoundError(AgentlabError):
    """No run with the given id exists in the data directory."""


class RunStateError(AgentlabError):
    """The run exists but cannot do what was asked in its current status."""


class ModelUnavailableError(AgentlabError):
    """A model provider failed after retries and fallbacks (overloaded, unreachable, refused)."""


class ModelOverloadedError(ModelUnavailableError):
    """A model could not answer for now (overloaded, rate limited, unreachable): another might."""


class AgentNotFoundError(AgentlabError):
    """An agent reference (``module:attr`` or ``path.py:attr``) does not lead to an agent."""


class RunBusyError(RunStateError):
    """Another process holds the run's lease: it is advancing the run right now."""


class DamagedDataError(AgentlabError):
    """A database file, a run's row or its checkpoint cannot be read."""
