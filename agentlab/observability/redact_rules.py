"""What redaction masks: the built-in rules (emails, phone numbers, API keys, tokens, private
keys, ``password=...`` assignments), the markers they leave, and the keys whose value is a secret
whatever it looks like. ``redact.Redactor`` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import NamedTuple

EMAIL = "[email]"
PHONE = "[phone]"
SECRET = "[secret]"
REDACTED = "[redacted]"


class Rule(NamedTuple):
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

    def sub(self, text: str) -> str:
        """``text`` with this rule's matches masked."""
        if self.digits is None:
            return self.pattern.sub(self.replacement, text)
        return self.pattern.sub(partial(_phone, self), text)


def _rule(
    name: str,
    regex: str,
    marker: str,
    *,
    hints: tuple[str, ...] = (),
    digits: tuple[int, int] | None = None,
) -> Rule:
    replacement = rf"\g<keep>{marker}" if "(?P<keep>" in regex else marker
    assert all(h == h.lower() for h in hints), "hints are matched against lowercased text"
    return Rule(name, re.compile(regex), replacement, hints, digits, "(?i" in regex)


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

DEFAULT_RULES: tuple[Rule, ...] = (
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
_ANY_HINT = re.compile("|".join(re.escape(h) for rule in DEFAULT_RULES for h in rule.hints))
# What every phone match holds: eight digits, at most three of ` .-()` between two of them. A
# text without it skips the phone rules (a search that, unlike theirs, has no look-behind).
_PHONE_DIGITS = re.compile(r"\d(?:[ .\-()]{0,3}+\d){7}")


def rules_for(text: str) -> Sequence[Rule]:
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
    for rule in DEFAULT_RULES:
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
SENSITIVE_JSON_MEMBER = re.compile(_SECRET_KEY_END + r'"\s*:')


@lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """True when a mapping key or span attribute key names a secret (its last dotted part)."""
    return _SENSITIVE_KEY.search(key.rpartition(".")[2].lower()) is not None


def _phone(rule: Rule, match: re.Match[str]) -> str:
    """The phone marker, or the match unchanged when it has too few or too many digits for a
    phone number (a time zone offset, a short code, a long id)."""
    assert rule.digits is not None
    low, high = rule.digits
    digits = sum(c.isdigit() for c in match.group())
    return rule.replacement if low <= digits <= high else match.group()
