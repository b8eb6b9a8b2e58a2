"""Redaction of secrets and personal data in exported spans and in logs.

The model sees tool results and messages unchanged; only what leaves the process is masked. A
``Redactor`` masks text and JSON-like values, ``RedactingSpanExporter`` wraps any OpenTelemetry
exporter so that every span it sends is a redacted copy, and ``RedactingLogFilter`` masks log
records. Wrapping the exporter (not a span processor) keeps the work off the hot path: behind a
``BatchSpanProcessor`` it runs on the export thread, and the live spans are never touched.

Plugging it in::

    redactor = Redactor(patterns=settings_patterns, secrets=[settings.anthropic_api_key])
    exporter = RedactingSpanExporter(OTLPSpanExporter(endpoint=...), redactor)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    handler.addFilter(RedactingLogFilter(redactor))
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, NamedTuple

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import AnyValue, Attributes
from pydantic import SecretStr

from agentlab.errors import ConfigError

EMAIL = "[email]"
PHONE = "[phone]"
SECRET = "[secret]"
REDACTED = "[redacted]"


class _Rule(NamedTuple):
    """One built-in pattern. It runs only when one of its ``hints`` (lowercase literals, one of
    which every match contains) occurs in the lowercased text; a phone rule (``hints`` empty)
    only when the text holds eight digits close together (``_PHONE_DIGITS``). ``folds``: the
    pattern ignores case, so a non-ASCII letter may stand for an ASCII one (``ſ`` for ``s``) and
    the hints cannot be trusted on non-ASCII text. ``replacement`` may keep a ``keep`` group (a
    header or ``key=``); a phone match is masked only when its digit count lies within
    ``digits``."""

    name: str
    pattern: re.Pattern[str]
    replacement: str
    hints: tuple[str, ...]
    digits: tuple[int, int] | None = None
    folds: bool = False


def _rule(
    name: str,
    regex: str,
    marker: str,
    *,
    hints: tuple[str, ...] = (),
    digits: tuple[int, int] | None = None,
) -> _Rule:
    replacement = rf"\g<keep>{marker}" if "(?P<keep>" in regex else marker
    assert all(h == h.lower() for h in hints), "hints are matched against lowercased text"
    return _Rule(name, re.compile(regex), replacement, hints, digits, "(?i" in regex)


# Speed: each pattern starts with a literal or a small character class and checks what precedes it
# with a look-behind placed *after* that first character. CPython's engine then jumps to candidate
# positions in C instead of trying the pattern at every character, and patterns whose hints are
# absent do not run at all: most span attributes hold none of them and leave after one search of
# ``_ANY_HINT`` and one of ``_PHONE_DIGITS``. One alternation of every pattern would be simpler to
# read but ~10x slower (about 4.5 ms against 0.3 ms for 10 kB of text): the engine does not
# optimise it.
# A phone number may not start right after these characters, nor end before a word, a dash or
# `.5`, `:30`, `/2`: that keeps ids, dates, times, decimals and paths whole.
_NOT_BEFORE_PHONE = r"[\w.\-+/]"
_PHONE_END = r"(?![\w\-]|[.:/]\d)"

_DEFAULT_RULES: tuple[_Rule, ...] = (
    _rule(
        "pem",
        r"-----BEGIN[A-Z ]{0,30}PRIVATE KEY-----[\s\S]{0,10000}?"
        r"-----END[A-Z ]{0,30}PRIVATE KEY-----",
        SECRET,
        hints=("-----begin",),
    ),
    # Anthropic (sk-ant-api03-...) and OpenAI (sk-..., sk-proj-...) keys.
    _rule("sk_key", r"sk-(?<![A-Za-z0-9]sk-)[A-Za-z0-9_\-]{20,}", SECRET, hints=("sk-",)),
    _rule(
        "aws_key_id",
        r"A(?<![A-Z0-9]A)(?:KIA|SIA)[A-Z0-9]{16}(?![A-Z0-9])",
        SECRET,
        hints=("akia", "asia"),
    ),
    _rule(
        "github_token",
        r"g(?<![A-Za-z0-9_]g)(?:h[pousr]_[A-Za-z0-9]{20,255}|ithub_pat_[A-Za-z0-9_]{20,255})",
        SECRET,
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _rule(
        "slack_token",
        r"xox(?<![A-Za-z0-9]xox)[abposr]-[A-Za-z0-9\-]{10,}",
        SECRET,
        hints=("xox",),
    ),
    _rule(
        "stripe_key",
        r"[rs]k_(?:live|test)_(?<![A-Za-z0-9][rs]k_(?:live|test)_)[A-Za-z0-9]{16,}",
        SECRET,
        hints=("k_live_", "k_test_"),
    ),
    _rule("google_key", r"AIza(?<![A-Za-z0-9]AIza)[A-Za-z0-9_\-]{35}", SECRET, hints=("aiza",)),
    _rule(
        "jwt",
        r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        SECRET,
        hints=("eyj",),
    ),
    # `Authorization: Bearer <token>` (any scheme), also as a JSON or escaped-JSON member.
    _rule(
        "authorization",
        r"(?P<keep>[Aa](?i:uthorization)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?"
        r"(?:(?i:bearer|basic|token|digest)[ \t]+)?)[^\s\"'\\,;]{4,}",
        SECRET,
        hints=("authorization",),
    ),
    _rule(
        "bearer",
        r"(?P<keep>[Bb](?<![A-Za-z][Bb])(?i:earer)[ \t]+)[A-Za-z0-9\-._~+/]{8,}=*",
        SECRET,
        hints=("bearer",),
    ),
    # `api_key=...`, `password: ...`, `"client_secret": "..."`: the value, up to its closing quote
    # when quoted, else up to a space or delimiter; a value already masked (`[...]`) stays. The
    # first letter is matched as a class and each keyword checks it with a look-behind (speed).
    _rule(
        "assignment",
        r"(?P<keep>[AaCcPpSsTt](?i:(?<=a)(?:pi[_\-]?keys?|ccess[_\-]?keys?)|(?<=c)redentials?"
        r"|(?<=p)(?:assw(?:or)?ds?|rivate[_\-]?keys?)|(?<=s)ecrets?|(?<=t)oken)"
        r"\\?[\"']?[ \t]*[:=][ \t]*\\?(?P<quote>[\"'])?)"
        r"(?(quote)[^\"'\\\n]{1,500}|[^\s\"'\\,;&)}\]\[<>]{1,500})",
        SECRET,
        # Each keyword spelled out: "key" alone is everywhere (`{"key": ...}`, "keys").
        hints=(
            "api_key",
            "api-key",
            "apikey",
            "access_key",
            "access-key",
            "accesskey",
            "private_key",
            "private-key",
            "privatekey",
            "credential",
            "passw",
            "secret",
            "token",
        ),
    ),
    _rule(
        "email",
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@"
        r"(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
        EMAIL,
        hints=("@",),
    ),
    # +44 20 7946 0958, +1 (415) 555-0123, +14155550123, tel:+33 1 23 45 67 89. The groups are
    # atomic so a long run of digits fails fast instead of backtracking through every split.
    _rule(
        "phone_international",
        rf"\+(?<!{_NOT_BEFORE_PHONE}\+)\d{{1,3}}(?>(?:[ .\-]?(?:\(\d{{1,4}}\)|\d{{1,4}})){{2,6}})"
        + _PHONE_END,
        PHONE,
        digits=(8, 15),
    ),
    # North American: (415) 555-0123, 415-555-0123, 415.555.0123, 1-800-555-0199 (the area code
    # may follow a `1-`).
    _rule(
        "phone_area_code",
        rf"\((?<!{_NOT_BEFORE_PHONE}\()\d{{3}}\)[ ]?\d{{3}}[\-. ]\d{{4}}" + _PHONE_END,
        PHONE,
    ),
    _rule(
        "phone_north_american",
        rf"[0-9](?:(?<!{_NOT_BEFORE_PHONE}[0-9])|(?<=(?<![\w.+/])1[\-. ][0-9]))"
        r"[0-9]{2}(?P<sep>[\-.])[0-9]{3}(?P=sep)[0-9]{4}" + _PHONE_END,
        PHONE,
    ),
    # National numbers with a trunk 0: 020 7946 0958, 07700 900123, 01 23 45 67 89. At least nine
    # digits and one separator throughout, so dates such as 01.02.2024 stay as they are.
    _rule(
        "phone_national",
        rf"0(?<!{_NOT_BEFORE_PHONE}0)\d{{1,4}}(?P<sep>[ .\-])\d{{2,8}}(?:(?P=sep)\d{{2,4}}){{0,3}}"
        + _PHONE_END,
        PHONE,
        digits=(9, 12),
    ),
)


# Every built-in rule's hints, for one search that clears most text at once.
_ANY_HINT = re.compile("|".join(re.escape(h) for rule in _DEFAULT_RULES for h in rule.hints))
# What every phone match holds: eight digits, at most three of ` .-()` between two of them. A
# text without it skips the phone rules (a search that, unlike theirs, has no look-behind).
_PHONE_DIGITS = re.compile(r"\d(?:[ .\-()]{0,3}+\d){7}")


def _rules_for(text: str) -> Sequence[_Rule]:
    """The built-in rules that may match ``text``: those whose hints (or, for phone rules,
    ``_PHONE_DIGITS``) it contains, and on non-ASCII text every case-ignoring rule too.

    Sound for the text the earlier rules leave behind too: a marker (``[secret]``) holds no
    digit, and no rule matches across its brackets, so a rule skipped here could not match
    after a substitution either.
    """
    lowered = text.lower()
    hinted = _ANY_HINT.search(lowered) is not None
    phone = _PHONE_DIGITS.search(text) is not None
    plain = text.isascii()
    if plain and not hinted and not phone:
        return ()
    rules = []
    for rule in _DEFAULT_RULES:
        if rule.hints:
            if (rule.folds and not plain) or (hinted and any(h in lowered for h in rule.hints)):
                rules.append(rule)
        elif phone:
            rules.append(rule)
    return rules


# A key whose value is a secret whatever it looks like: `password`, `client_secret`, `apiKey`,
# `x-api-key`, `Authorization`, `access_token` (not `max_tokens`, not `llm.token_count.prompt`).
_SECRET_KEY_END = (
    r"(?:passw(?:or)?d|secret|token|api[_\-]?key|private[_\-]?key|access[_\-]?key"
    r"|authorization|credentials?|cookie)"
)
_SENSITIVE_KEY = re.compile(_SECRET_KEY_END + "$")
# Such a key as a member of a JSON document without escapes: `"client_secret": ` (lowercased).
_SENSITIVE_JSON_MEMBER = re.compile(_SECRET_KEY_END + r'"\s*:')
# Strings up to this long are remembered with their redacted form (the same system prompt, tool
# schemas and invocation parameters go with every model call), at most this many at a time.
_CACHED_CHARS = 8192
_CACHED_STRINGS = 512
_MISSING = object()


@lru_cache(maxsize=4096)
def _is_sensitive_key(key: str) -> bool:
    """True when a mapping key or span attribute key names a secret (its last dotted part)."""
    return _SENSITIVE_KEY.search(key.rpartition(".")[2].lower()) is not None


@dataclass(frozen=True)
class Redactor:
    """Masks secrets and personal data in text and JSON-like values.

    ``patterns`` are extra regular expressions (from configuration) whose matches become
    ``[redacted]``; ``secrets`` are exact values (a canary, a configured API key, a ``SecretStr``)
    that become ``[secret]`` wherever they appear, also JSON-escaped. The built-in patterns mask
    emails (``[email]``), phone numbers (``[phone]``) and API keys, tokens and ``password=...``
    style assignments (``[secret]``); ``defaults=False`` turns them off. Everything is compiled
    once, here; an invalid pattern raises ``ConfigError``.
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
            for rule in _rules_for(text):
                if rule.digits is None:
                    text = rule.pattern.sub(rule.replacement, text)
                else:
                    text = rule.pattern.sub(partial(_phone, rule), text)
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
        if isinstance(key, str) and _is_sensitive_key(key):
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
            and not (self.defaults and _rules_for(text))
            and _SENSITIVE_JSON_MEMBER.search(text.lower()) is None
        )

    def _redact_bytes(self, data: bytes) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data  # binary: nothing a text pattern could mean
        redacted = self._redact_string(text)
        return data if redacted == text else redacted.encode("utf-8")


def _phone(rule: _Rule, match: re.Match[str]) -> str:
    """The phone marker, or the match unchanged when it has too few or too many digits for a
    phone number (a time zone offset, a short code, a long id)."""
    assert rule.digits is not None
    low, high = rule.digits
    digits = sum(c.isdigit() for c in match.group())
    return rule.replacement if low <= digits <= high else match.group()


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


def redact_span(
    span: ReadableSpan, redactor: Redactor, resource: Resource | None = None
) -> ReadableSpan:
    """A copy of a finished span with its name, attributes, events, links, status description
    and resource redacted; ids, times, kind and scope are kept. ``resource``: the span's
    resource, already redacted (``redact_resource``; an exporter keeps it). A span with nothing
    to mask is returned as it is (it is finished: nothing changes it any more)."""
    if resource is None:
        resource = redact_resource(span.resource, redactor)
    name = redactor.redact_text(span.name)
    attributes, changed = _redacted(span.attributes, redactor)
    changed = changed or name is not span.name or resource is not span.resource
    status = span.status
    if status.description:
        description = redactor.redact_text(status.description)
        if description is not status.description:
            status, changed = Status(status.status_code, description), True
    events = []
    for event in span.events:
        event_name = redactor.redact_text(event.name)
        event_attributes, event_changed = _redacted(event.attributes, redactor)
        if event_changed or event_name is not event.name:
            changed = True
            event = Event(
                event_name,
                _bounded(event_attributes, event.dropped_attributes),
                timestamp=event.timestamp,
            )
        events.append(event)
    links = []
    for link in span.links:
        link_attributes, link_changed = _redacted(link.attributes, redactor)
        if link_changed:
            changed = True
            link = Link(link.context, _bounded(link_attributes, link.dropped_attributes))
        links.append(link)
    if not changed:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=_bounded(attributes, span.dropped_attributes),
        events=_counted(events, span.dropped_events),
        links=_counted(links, span.dropped_links),
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redact_resource(resource: Resource, redactor: Redactor) -> Resource:
    """``resource`` with its attributes redacted: the same object when nothing was masked."""
    attributes, changed = _redacted(resource.attributes, redactor)
    return Resource(attributes, resource.schema_url) if changed else resource


def _redacted(attributes: Attributes, redactor: Redactor) -> tuple[dict[str, AnyValue], bool]:
    """The redacted attributes, and whether any value was masked."""
    redacted: dict[str, AnyValue] = {}
    changed = False
    if attributes:
        for key, value in attributes.items():
            redacted[key] = masked = redactor._redact_member(key, value)
            changed = changed or masked is not value
    return redacted, changed


def _bounded(attributes: dict[str, AnyValue], dropped: int) -> Attributes:
    """The attributes, carrying the original's count of dropped attributes for the exporter."""
    if not dropped:
        return attributes
    bounded = BoundedAttributes(attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


def _counted(items: list[Any], dropped: int) -> Sequence[Any]:
    """The events or links, carrying the original's count of dropped ones for the exporter."""
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


class RedactingSpanExporter(SpanExporter):
    """Exports redacted copies of spans through another exporter (OTLP, console, in-memory).

    Put it behind a ``BatchSpanProcessor`` so redaction runs on the export thread; the spans the
    application holds are not changed.
    """

    def __init__(self, inner: SpanExporter, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor
        # A provider's spans share one resource: redacted once, and the same object for all of
        # them, as the encoder groups spans by resource. Keyed by id, the original kept alive.
        self._resources: dict[int, tuple[Resource, Resource]] = {}

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export(
            [redact_span(span, self.redactor, self._resource(span.resource)) for span in spans]
        )

    def _resource(self, resource: Resource) -> Resource:
        known = self._resources.get(id(resource))
        if known is None or known[0] is not resource:
            if len(self._resources) >= 64:  # resources made on the fly: keep a few
                self._resources.clear()
            known = (resource, redact_resource(resource, self.redactor))
            self._resources[id(resource)] = known
        return known[1]

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


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
