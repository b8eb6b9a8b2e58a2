"""Each role's system prompt as a template: a version of the prompts, read from a directory.

A version is a directory holding a file per role it changes (``planner.md``, ``executor.md``,
``validator.md``, ``responder.md``, ``summarizer.md``; a role without one keeps the built-in
prompt) and, optionally, ``VERSION``: one line, the version's name (default: the directory's
name). A file is the role's system prompt with ``{placeholders}`` for what a run fills in
(``PLACEHOLDERS``); ``{{`` and ``}}`` are literal braces; trailing newlines are dropped. The
built-in prompts are such a version, ``builtin`` (``BUILTIN_DIR``): copy it to start another.

A role's system prompt is the same on every call of a run, so the provider caches it.
"""

from __future__ import annotations

import difflib
import hashlib
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from agentlab.errors import ConfigError
from agentlab.models.base import Role

BUILTIN = "builtin"
"""The name of the version shipped with agentlab."""

BUILTIN_DIR = Path(__file__).parent / "prompt_files" / BUILTIN
"""The built-in prompts as files: copy the directory to start a version of your own."""

PLACEHOLDERS: Mapping[Role, tuple[str, ...]] = {
    Role.PLANNER: ("name", "purpose", "tools"),
    Role.EXECUTOR: (),
    Role.VALIDATOR: (),
    Role.RESPONDER: ("name", "purpose"),
    Role.SUMMARIZER: ("name", "words"),
}
"""What each role's template may name: the agent's ``name`` and ``purpose``, the planner's
``tools`` (the catalog: each tool, its risk, what the policy says of it, its arguments' schema),
the summary's length in ``words``."""

_FILES = {f"{role.value}.md": role for role in Role if role is not Role.JUDGE}
"""A run's roles' prompts (the judge grades evals: its prompt is ``agentlab/evals/judge.py``'s)."""


@dataclass(frozen=True, eq=False)
class PromptBook:
    """A version of the roles' system prompts: its name and a template per role (a role left
    out keeps the built-in template)."""

    version: str
    templates: Mapping[Role, str]

    def __post_init__(self) -> None:
        given = dict(self.templates)
        if set(_FILES.values()) - set(given):
            given = {**_builtin().templates, **given}
        object.__setattr__(self, "templates", MappingProxyType(given))

    @classmethod
    def builtin(cls) -> PromptBook:
        """The prompts agentlab ships (version ``builtin``)."""
        return _builtin()

    @property
    def key(self) -> str:
        """Tells versions apart by name and text (two directories may share a name)."""
        text = "\0".join([self.version, *(self.templates[role] for role in _FILES.values())])
        return f"{self.version}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def system(self, role: Role, **values: object) -> str:
        """``role``'s system prompt, its placeholders filled in with ``values``."""
        return self.templates[role].format_map(values)


def load_prompts(directory: Path) -> PromptBook:
    """The version of the prompts in ``directory``, the built-in prompt for each role it has no
    file for. Raises ``ConfigError`` naming the file at fault and what to do about it."""
    directory = Path(directory).expanduser()
    version, templates = _read(directory)
    book = PromptBook(version, templates)
    if version == BUILTIN and book.templates != PromptBook.builtin().templates:
        raise ConfigError(
            f"the prompt directory {directory} is named {BUILTIN!r} but its prompts differ from "
            "the built-in ones: give its version a name of its own (rename the directory, or "
            "write the name in a VERSION file in it)"
        )
    return book


@cache
def _builtin() -> PromptBook:
    version, templates = _read(BUILTIN_DIR)
    assert set(templates) == set(_FILES.values()), f"{BUILTIN_DIR} lacks a role's prompt"
    return PromptBook(version, templates)


def _read(directory: Path) -> tuple[str, dict[Role, str]]:
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise ConfigError(
            f"the prompt directory {directory} {what}: give a directory holding a file per role "
            f"it changes ({', '.join(_FILES)}); copy {BUILTIN_DIR} to start one"
        )
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError as exc:
        raise ConfigError(f"cannot list the prompt directory {directory}: {exc.strerror}") from None
    templates: dict[Role, str] = {}
    for name in names:
        if name.endswith(".md") and name != "README.md":  # a version may say what it is
            role = _role_of(directory / name)
            templates[role] = _template(directory / name, role)
    if not templates:
        raise ConfigError(
            f"the prompt directory {directory} holds no prompt file: put in it a file per role "
            f"the version changes ({', '.join(_FILES)}); copy {BUILTIN_DIR} to start one"
        )
    version = _version(directory / "VERSION") if "VERSION" in names else None
    return version or directory.resolve().name, templates


def _role_of(path: Path) -> Role:
    if path.name in _FILES:
        return _FILES[path.name]
    close = difflib.get_close_matches(path.name, list(_FILES), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(
        f"unknown prompt file {path}: a prompt file is named after its role "
        f"({', '.join(_FILES)}); rename it{hint}, or move it out of the directory"
    )


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ConfigError(f"prompt file {path} is not UTF-8 text: save it as UTF-8") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read prompt file {path}: {reason}: make it readable") from None


def _template(path: Path, role: Role) -> str:
    text = _text(path)
    if not text.strip():
        raise ConfigError(
            f"prompt file {path} is empty: write the {role.value}'s system prompt in it, or "
            "delete it to keep the built-in one"
        )
    allowed = PLACEHOLDERS[role]
    named = ", ".join("{" + p + "}" for p in allowed) or "none"
    try:
        fields = [(f, c, s) for _, f, s, c in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ConfigError(
            f"prompt file {path} is not a valid template ({exc}): write a literal brace as "
            "{{ or }}"
        ) from None
    for field, conversion, spec in fields:
        if field not in allowed or conversion or spec:  # plain names only: {name}, not {name!r}
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ConfigError(
                f"unknown placeholder {{{shown}}} in prompt file {path}: the {role.value}'s "
                f"prompt may name {named} (write a literal brace as {{{{ or }}}})"
            )
    return text


def _version(path: Path) -> str:
    lines = [line.strip() for line in _text(path).splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].isprintable():
        raise ConfigError(
            f"the VERSION file {path} must hold one line, the version's name: write it there, "
            "or delete the file to name the version after its directory"
        )
    return lines[0]
