"""How a notebook says what to do about an error: the ``LabRun``'s methods."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from agentlab.errors import AgentlabError, Fix

NOTEBOOK_WORDS: Mapping[Fix, str] = {
    Fix.DECIDE: "answer it with await run.approve() or run.reject()",
    Fix.CONTINUE: "await run.resume() continues it",
    Fix.OFFLINE: "export ANTHROPIC_API_KEY to use Claude, or replay a scripted model offline "
    "(script=...)",
    Fix.ONE_STEP: "say which call, step=...",
    Fix.FORCE: "await run.resume(force=True) takes it over",
    Fix.EACH: "answer each with step=..., or all of them with run.answer(..., every=True)",
    Fix.LOOK: "look at it again (await run.refresh()) and decide on that",
    Fix.AGAIN: "then run the cell again: nothing was lost",
    Fix.RESUME: "then await run.resume() continues the run where it stopped: nothing was lost "
    "and no finished tool call runs again",
    Fix.NEW_SESSION: "start a new session (lab.session(agent) without an id), or continue this "
    "one as principal={principal!r} with its agent",
}


@contextmanager
def in_notebook_words() -> Iterator[None]:
    """Re-raise an ``AgentlabError`` raised in the block with its advice in the notebook's
    words."""
    try:
        yield
    except AgentlabError as exc:
        raise exc.reworded(NOTEBOOK_WORDS) from None
