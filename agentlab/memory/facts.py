"""User facts: what an agent was told about its principal, or about a customer it serves, kept
as versions (valid from, valid to, the run that stated it) in LangGraph's ``BaseStore``.

Isolation is the storage's, not the model's: a fact lives in the namespace of its agent and
principal (current versions in ``("facts", agent, principal, subject)``, superseded ones in
``("fact_history", agent, principal, subject)``), and every read and write names both, so no
query reaches another principal's namespace whatever it asks. A fact that contradicts the
current one supersedes it: the old version moves to history with its ``valid_to``; nothing is
deleted but by ``forget``.

``open_facts`` opens the store the settings name: the SQLite file ``data_dir/memory.sqlite``
(private, WAL, deleted rows overwritten) or the PostgreSQL server of ``database_url``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import unquote

from agentlab.errors import AgentlabError

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore, Item

    from agentlab.config import Settings

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
"""A fact's key: ``preferred_channel``, ``timezone``."""
SUBJECT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Whom a fact is about: ``self`` (the principal) or a customer the agent serves."""
VALUE_MAX_CHARS = 500
SELF = "self"

Source = Literal["principal", "tool"]
"""Where a fact came from: the principal said it, or a tool's output did (untrusted content)."""
ChangeKind = Literal["new", "unchanged", "superseded"]

_CURRENT = "facts"
_HISTORY = "fact_history"
_KINDS = (_CURRENT, _HISTORY)
_PAGE = 500
_PLAIN = re.compile(r"[A-Za-z0-9_-]")


class FactError(AgentlabError):
    """A fact that cannot be stored as given: a malformed key or subject, an empty or too long
    value, no principal."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One version of a fact: current while ``valid_to`` is ``None``."""

    agent: str
    principal: str
    subject: str
    key: str
    value: str
    valid_from: datetime
    valid_to: datetime | None
    run_id: str
    source: Source = "principal"
    version: int = 1
    """1 for the first value of the key, one more for each that superseded it."""

    def as_json(self) -> dict[str, Any]:
        """The fact as JSON data (times in ISO 8601, UTC)."""
        return {
            "agent": self.agent,
            "principal": self.principal,
            "subject": self.subject,
            "key": self.key,
            "value": self.value,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "run_id": self.run_id,
            "source": self.source,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class FactChange:
    """What ``remember`` did: ``new`` (no current value), ``unchanged`` (the same value, nothing
    written) or ``superseded`` (``previous``, now in history with its ``valid_to``, gave way to
    ``fact``)."""

    kind: ChangeKind
    fact: Fact
    """The current version after the call."""
    previous: Fact | None = None


Failure = Callable[[Exception], AgentlabError | None]
"""Names a storage failure (a full disk, a lock held too long...), ``None`` for any other."""


class FactStore:
    """Facts per agent and principal over a LangGraph ``BaseStore``.

    ``failure`` turns the backend's errors into the ``AgentlabError`` naming them; ``scrub``
    runs after ``forget`` removed something (SQLite: truncate the write-ahead log, so the
    deleted rows leave no copy behind)."""

    def __init__(
        self,
        store: BaseStore,
        *,
        failure: Failure | None = None,
        scrub: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self._failure = failure
        self._scrub = scrub
        # One ``remember`` at a time: it reads the current version, then writes the next.
        self._writing = asyncio.Lock()

    async def remember(
        self,
        agent: str,
        principal: str,
        key: str,
        value: str,
        *,
        subject: str = SELF,
        run_id: str,
        source: Source = "principal",
        now: datetime | None = None,
    ) -> FactChange:
        """Make ``value`` the current value of ``subject.key``: idempotent (the same value again
        writes nothing); a different value supersedes the current version, which moves to
        history valid until ``now``."""
        value = _checked(key=key, subject=subject, value=value, source=source)
        when = _utc(now)
        here = _namespace(_CURRENT, agent, principal, subject)
        async with self._writing, self._guard():
            item = await self.store.aget(here, key)
            old = None if item is None else _fact(item)
            if old is not None and old.value == value:
                return FactChange("unchanged", old)
            ended = None
            if old is not None:
                when = max(when, old.valid_from)  # a clock that went back: no negative interval
                ended = replace(old, valid_to=when)
                # History first: a crash before the next write leaves the old version current,
                # and writing it again (same version, same key) duplicates nothing.
                there = _namespace(_HISTORY, agent, principal, subject)
                await self.store.aput(there, _version_key(old), _stored(ended), index=False)
            version = 1 if old is None else old.version + 1
            fact = Fact(agent, principal, subject, key, value, when, None, run_id, source, version)
            await self.store.aput(here, key, _stored(fact), index=False)
        return FactChange("new" if ended is None else "superseded", fact, ended)

    async def current(self, agent: str, principal: str, subject: str | None = None) -> list[Fact]:
        """The principal's current facts for ``agent`` (about ``subject`` only, if given): the
        principal's own first, then by subject and key."""
        async with self._guard():
            return sorted(await self._read(_CURRENT, agent, principal, subject), key=_order)

    async def history(
        self, agent: str, principal: str, key: str | None = None, subject: str | None = None
    ) -> list[Fact]:
        """Every version of the principal's facts for ``agent`` (of ``key``, about ``subject``,
        if given), the current ones included: by subject and key, oldest version first."""
        if key is not None:
            _checked(key=key)
        async with self._guard():
            found = await self._read(_HISTORY, agent, principal, subject)
            found += await self._read(_CURRENT, agent, principal, subject)
        return sorted((f for f in found if key in (None, f.key)), key=_order)

    async def forget(self, principal: str, agent: str | None = None) -> int:
        """Delete every fact and every past version of ``principal`` (for ``agent`` only, if
        given; else for all agents); how many entries were removed."""
        removed = 0
        async with self._writing, self._guard():
            for kind in _KINDS:
                for space in await self._spaces(kind, agent=agent, principal=principal):
                    keys = [item.key for item in await self._items(space)]
                    await asyncio.gather(*(self.store.adelete(space, k) for k in keys))
                    removed += len(keys)
            if removed and self._scrub is not None:
                await self._scrub()
        return removed

    async def principals(self, agent: str | None = None) -> list[str]:
        """The principals with facts or past versions stored (for ``agent``, if given)."""
        return await self._names(2, agent=agent)

    async def agents(self, principal: str | None = None) -> list[str]:
        """The agents with facts or past versions stored (of ``principal``, if given)."""
        return await self._names(1, principal=principal)

    async def count(self, agent: str | None = None, principal: str | None = None) -> int:
        """How many current facts are stored (for ``agent``, of ``principal``, if given)."""
        async with self._guard():
            spaces = await self._spaces(_CURRENT, agent=agent, principal=principal)
            return sum([len(await self._items(space)) for space in spaces])

    async def _read(self, kind: str, agent: str, principal: str, subject: str | None) -> list[Fact]:
        if subject is not None:
            _checked(subject=subject)
        prefix = _namespace(kind, agent, principal, subject)
        items = await self._items(prefix)
        stray = [item.namespace for item in items if item.namespace[: len(prefix)] != prefix]
        if stray:  # the storage layer broke its promise: say so, never show the fact
            raise RuntimeError(f"the store returned {stray[0]} for a search of {prefix}")
        return [_fact(item) for item in items]

    async def _items(self, prefix: tuple[str, ...]) -> list[Item]:
        """Every item under ``prefix``, page by page."""
        found: list[Item] = []
        while True:
            page = await self.store.asearch(prefix, limit=_PAGE, offset=len(found))
            found += page
            if len(page) < _PAGE:
                return found

    async def _spaces(
        self, kind: str, *, agent: str | None = None, principal: str | None = None
    ) -> list[tuple[str, ...]]:
        """The subjects' namespaces of ``kind``, of ``agent`` and ``principal`` where given."""
        prefix = (
            kind,
            "*" if agent is None else _label("agent", agent),  # labels never hold "*"
            "*" if principal is None else _label("principal", principal),
        )
        found: list[tuple[str, ...]] = []
        while True:
            page = await self.store.alist_namespaces(prefix=prefix, limit=_PAGE, offset=len(found))
            found += page
            if len(page) < _PAGE:
                return [space for space in found if len(space) == 4]

    async def _names(
        self, position: int, *, agent: str | None = None, principal: str | None = None
    ) -> list[str]:
        """The names at ``position`` (1: agent, 2: principal) of the namespaces holding facts
        (of ``agent`` and ``principal``, where given)."""
        async with self._guard():
            found = {
                decode_label(space[position])
                for kind in _KINDS
                for space in await self._spaces(kind, agent=agent, principal=principal)
            }
        return sorted(found)

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """The backend's failures as the errors naming them."""
        try:
            yield
        except AgentlabError:
            raise
        except Exception as exc:
            named = None if self._failure is None else self._failure(exc)
            if named is None:
                raise
            raise named from None


@asynccontextmanager
async def open_facts(settings: Settings) -> AsyncIterator[FactStore]:
    """The facts store ``settings`` name (``keyvalue.py``: SQLite in the data directory, or
    PostgreSQL), its tables created; closed on exit."""
    from agentlab.memory.keyvalue import open_store

    async with open_store(settings) as opened:
        yield FactStore(opened.store, failure=opened.failure, scrub=opened.scrub)


def facts_text(facts: Iterable[Fact]) -> str:
    """The current ``facts`` for a model's context, one line each:
    ``subject.key: value (since DATE)``, marked where the fact came from a tool's output."""
    lines = []
    for fact in facts:
        if fact.valid_to is not None:
            continue
        said = " ".join(fact.value.split())  # one line per fact, whatever the value holds
        origin = ", from tool output" if fact.source == "tool" else ""
        since = fact.valid_from.date().isoformat()
        lines.append(f"{fact.subject}.{fact.key}: {said} (since {since}{origin})")
    return "\n".join(lines)


def encode_label(text: str) -> str:
    """``text`` as a LangGraph namespace label (no dot, not empty): letters, digits, ``_`` and
    ``-`` kept, every other character as ``~XX`` per byte of its UTF-8 (``decode_label``
    reverses it; ``ada@example.com`` is ``ada~40example~2ecom``)."""
    if not text:
        raise ValueError("a namespace label cannot be empty")
    return "".join(
        ch
        if _PLAIN.fullmatch(ch)
        else "".join(f"~{b:02x}" for b in ch.encode(errors="surrogatepass"))
        for ch in text
    )


def decode_label(label: str) -> str:
    """The text ``encode_label`` made ``label`` of."""
    return unquote(label.replace("~", "%"), errors="surrogatepass")


def _label(what: str, text: str) -> str:
    if not isinstance(text, str) or not text:
        raise FactError(f"facts need a {what}: got {text!r}")
    return encode_label(text)


def _namespace(kind: str, agent: str, principal: str, subject: str | None) -> tuple[str, ...]:
    space = (kind, _label("agent", agent), _label("principal", principal))
    return space if subject is None else (*space, subject)


def _checked(
    *,
    key: str | None = None,
    subject: str | None = None,
    value: str | None = None,
    source: str | None = None,
) -> str:
    """``value`` stripped, once ``key``, ``subject``, ``value`` and ``source`` (those given)
    are found well formed; else a ``FactError`` saying what is wrong."""
    if key is not None and not (isinstance(key, str) and re.fullmatch(KEY_PATTERN, key)):
        raise FactError(
            f"a fact's key is lowercase letters, digits and _ (starting with a letter, at most "
            f"64): not {key!r}"
        )
    if subject is not None and not (
        isinstance(subject, str) and re.fullmatch(SUBJECT_PATTERN, subject)
    ):
        raise FactError(
            f"a fact's subject is 'self' or a customer's id (letters, digits, _ and -, at most "
            f"64): not {subject!r}"
        )
    if source is not None and source not in get_args(Source):
        raise FactError(f"a fact's source is 'principal' or 'tool', not {source!r}")
    if value is None:
        return ""
    stripped = value.strip() if isinstance(value, str) else ""
    if not stripped or len(stripped) > VALUE_MAX_CHARS:
        raise FactError(f"a fact's value is text of 1 to {VALUE_MAX_CHARS} characters")
    return stripped


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _version_key(fact: Fact) -> str:
    """A past version's key in history: the fact's key and version (``timezone@3``)."""
    return f"{fact.key}@{fact.version}"


def _order(fact: Fact) -> tuple[bool, str, str, int]:
    return (fact.subject != SELF, fact.subject, fact.key, fact.version)


def _stored(fact: Fact) -> dict[str, Any]:
    """What the store keeps of ``fact`` (its agent and principal are its namespace's)."""
    kept = fact.as_json()
    del kept["agent"], kept["principal"]
    return kept


def _fact(item: Item) -> Fact:
    v = item.value
    valid_to = v.get("valid_to")
    return Fact(
        agent=decode_label(item.namespace[1]),
        principal=decode_label(item.namespace[2]),
        subject=v["subject"],
        key=v["key"],
        value=v["value"],
        valid_from=datetime.fromisoformat(v["valid_from"]),
        valid_to=None if valid_to is None else datetime.fromisoformat(valid_to),
        run_id=v["run_id"],
        source=v.get("source", "principal"),
        version=int(v.get("version", 1)),
    )
