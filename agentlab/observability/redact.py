"""Redaction of secrets and personal data in exported spans and in logs.

The model sees tool results and messages unchanged; only what leaves the process is masked. A
``Redactor`` masks text and JSON-like values (with the built-in rules of ``redact_rules``, the
configured patterns and the known secrets); ``redact_spans.RedactingSpanExporter`` wraps any
OpenTelemetry exporter so that every span it sends is a redacted (and bounded) copy, and
``RedactingLogFilter`` masks log records. Redaction is by pattern: what no rule, pattern or known
secret describes (an encoded or split copy of a secret) passes.

Plugging it in::

    redactor = Redactor(patterns=settings_patterns, secrets=[settings.anthropic_api_key])
    handler.addFilter(RedactingLogFilter(redactor))
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.util.types import AnyValue, Attributes
from pydantic import SecretStr

from agentlab.errors import ConfigError
from agentlab.observability.redact_rules import (
    REDACTED,
    SECRET,
    SENSITIVE_JSON_MEMBER,
    is_sensitive_key,
    rules_for,
)

# Strings up to this long are remembered with their redacted form (the same system prompt, tool
# schemas and invocation parameters go with every model call), at most this many at a time.
_CACHED_CHARS = 8192
_CACHED_STRINGS = 512
_MISSING = object()


@dataclass(frozen=True)
class Redactor:
    """Masks secrets and personal data in text and JSON-like values.

    ``patterns`` are extra regular expressions (from configuration) whose matches become
    ``[redacted]``; ``secrets`` are exact values (a canary, a configured API key, a ``SecretStr``)
    that become ``[secret]`` wherever they appear, also JSON-escaped. The built-in patterns mask
    emails (``[email]``), phone numbers (``[phone]``), payment card numbers (``[card]``) and API
    keys, tokens and ``password=...`` style assignments (``[secret]``); ``defaults=False`` turns
    them off. Everything is compiled once, here; an invalid pattern raises ``ConfigError``.
    """

    patterns: Sequence[str] = ()
    secrets: Sequence[str | SecretStr] = field(default=(), repr=False)
    defaults: bool = True
    _secret_rx: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _custom: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    # Recent strings and their redacted form (``None``: unchanged); cleared when full.
    _seen: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = tuple(self.patterns)
        secrets = tuple(
            s.get_secret_value() if isinstance(s, SecretStr) else s for s in self.secrets
        )
        object.__setattr__(self, "patterns", patterns)
        object.__setattr__(self, "secrets", secrets)
        object.__setattr__(self, "_custom", tuple(_compile_pattern(p) for p in patterns))
        object.__setattr__(self, "_secret_rx", _literal_regex(secrets))
        object.__setattr__(self, "_seen", {})

    def redact_text(self, text: str) -> str:
        """The text with every match masked.

        Known secrets go first, so no other pattern can split one and leave part of it behind;
        then the configured patterns, then the built-in ones, most specific first.
        """
        if self._secret_rx is not None:
            text = self._secret_rx.sub(SECRET, text)
        for pattern in self._custom:
            text = pattern.sub(REDACTED, text)
        if self.defaults:
            for rule in rules_for(text):
                text = rule.sub(text)
        return text

    def redact_value(self, value: Any) -> Any:
        """A redacted copy of JSON-like data; the value itself is never changed.

        Strings are masked (a string holding a JSON document is parsed, redacted and dumped
        again); dict keys are masked too, and the value of a key named like a secret
        (``password``, ``api_key``, ``authorization``, ``*_token``...) is replaced whole. Lists
        and tuples keep their type; other values are returned as they are.
        """
        if isinstance(value, str):
            return self._redact_string(value)
        if isinstance(value, Mapping):
            return {
                self.redact_text(k) if isinstance(k, str) else k: self._redact_member(k, v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.redact_value(v) for v in value)
        return value

    def redact_attributes(self, attributes: Attributes) -> dict[str, AnyValue]:
        """Redacted copies of OpenTelemetry attributes: keys stay (they are semantic-convention
        names), values are redacted like ``redact_value``, bytes holding UTF-8 text included."""
        if not attributes:
            return {}
        return {key: self._redact_member(key, value) for key, value in attributes.items()}

    def _redact_member(self, key: object, value: Any) -> Any:
        """``value`` under ``key``, redacted; the very same object when nothing was masked in a
        string, bytes or tuple (what span attributes hold), so a caller can tell by identity."""
        if isinstance(key, str) and is_sensitive_key(key):
            if isinstance(value, list | tuple):
                # Same shape: semantic conventions make HTTP headers arrays of strings.
                return type(value)(SECRET for _ in value)
            if value is not None and not isinstance(value, bool):
                return SECRET
        if isinstance(value, str):
            return self._redact_string(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, bytes):
            return self._redact_bytes(value)
        if isinstance(value, tuple):
            redacted = tuple(self.redact_value(v) for v in value)
            return value if all(a is b for a, b in zip(redacted, value, strict=True)) else redacted
        return self.redact_value(value)

    def _redact_string(self, text: str) -> str:
        """``_masked(text)``, remembered for strings that are not too long: ``text`` itself when
        unchanged."""
        if len(text) > _CACHED_CHARS:
            return self._masked(text)
        seen = self._seen.get(text, _MISSING)
        if seen is None:
            return text
        if seen is not _MISSING:
            return seen  # type: ignore[return-value]
        redacted = self._masked(text)
        if len(self._seen) >= _CACHED_STRINGS:
            self._seen.clear()
        self._seen[text] = None if redacted == text else redacted
        return text if redacted == text else redacted

    def _masked(self, text: str) -> str:
        # OpenInference puts whole JSON documents in attributes (input.value, output.value, tool
        # parameters): parsing them lets secret-named keys be masked inside.
        head = text.lstrip()[:1]
        if head in ("{", "["):
            if self._plain_json(text):
                return text
            try:
                document = json.loads(text)
            except ValueError:
                pass
            else:
                redacted = self.redact_value(document)
                if redacted == document:
                    return text
                return json.dumps(redacted, ensure_ascii=False)
        return self.redact_text(text)

    def _plain_json(self, text: str) -> bool:
        """True when parsing the JSON ``text`` could not change it: without escapes, each of its
        keys and strings is a piece of ``text`` as written, so when no secret, built-in rule or
        secret-named member can be found in the whole, none is in any piece. Configured
        patterns may anchor (``^...$``): with any, the document is parsed."""
        return (
            "\\" not in text
            and not self._custom
            and (self._secret_rx is None or self._secret_rx.search(text) is None)
            and not (self.defaults and rules_for(text))
            and SENSITIVE_JSON_MEMBER.search(text.lower()) is None
        )

    def _redact_bytes(self, data: bytes) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data  # binary: nothing a text pattern could mean
        redacted = self._redact_string(text)
        return data if redacted == text else redacted.encode("utf-8")


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    """A configured pattern, compiled, or a ``ConfigError`` naming it and what is wrong."""
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"redaction pattern {pattern!r} must be a non-empty regular expression")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f'redaction pattern "{pattern}" is not a valid regular expression: {exc}; '
            "fix or remove it in the redaction settings"
        ) from None
    if compiled.match(""):
        raise ConfigError(
            f'redaction pattern "{pattern}" matches the empty string, so it would put a marker '
            "between every two characters; make it match at least one character"
        )
    return compiled


def _literal_regex(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for the exact secrets, longest first, with their JSON-escaped spellings."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.add(secret)
            forms.add(json.dumps(secret)[1:-1])
            forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


class RedactingLogFilter(logging.Filter):
    """Masks a log record's formatted message, exception and stack text; never drops a record.

    Install it on handlers (a logger's own filters do not see records propagated from child
    loggers). The record is changed in place, so every handler after it sees the masked text;
    the exception's traceback is rendered here, once, and ``exc_info`` cleared so that no
    handler renders the original.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor.redact_text
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: logging reports them, so mask them too
            record.msg = redact(str(record.msg))
            record.args = self.redactor.redact_value(record.args)
        else:
            record.msg = redact(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
