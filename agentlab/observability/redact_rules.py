"""What redaction masks: the built-in rules (emails, phone numbers, payment card numbers, API keys,
tokens, AWS keys, private keys, credentials in URLs, ``password=...`` assignments), the markers
they leave, and the keys whose value is a secret whatever it looks like. ``redact.Redactor``
applies them.

Every rule is a pattern: a secret that is encoded (base64, hex, URL-encoded), split, reversed
or written in words is not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache, partial
from itertools import groupby
from typing import NamedTuple

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
SECRET = "[secret]"
REDACTED = "[redacted]"


class Rule(NamedTuple):
    """One built-in pattern. It runs only when one of its ``hints`` (lowercase literals, one of
    which every match contains) occurs in the lowercased text; a rule without hints (phone and
    card numbers) only when the text holds eight digits close together (``_PHONE_DIGITS``).
    ``folds``: the pattern ignores case, so a non-ASCII letter may stand for an ASCII one (``ſ``
    for ``s``) and the hints cannot be trusted on non-ASCII text. ``replacement`` may keep a
    ``keep`` group (a header or ``key=``); with a ``judge``, each match is what it returns for
    it instead (the marker, or the match itself when it is not what the rule is after)."""

    name: str
    pattern: re.Pattern[str]
    replacement: str
    hints: tuple[str, ...]
    judge: Callable[[re.Match[str]], str] | None = None
    folds: bool = False

    def sub(self, text: str) -> str:
        """``text`` with this rule's matches masked."""
        return self.pattern.sub(self.judge or self.replacement, text)


def _rule(
    name: str,
    regex: str,
    marker: str,
    *,
    hints: tuple[str, ...] = (),
    judge: Callable[[str, re.Match[str]], str] | None = None,
) -> Rule:
    replacement = rf"\g<keep>{marker}" if "(?P<keep>" in regex else marker
    assert all(h == h.lower() for h in hints), "hints are matched against lowercased text"
    judged = None if judge is None else partial(judge, marker)
    return Rule(name, re.compile(regex), replacement, hints, judged, "(?i" in regex)


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


def _phone(digits: tuple[int, int], marker: str, match: re.Match[str]) -> str:
    """The phone marker, or the match unchanged when it has too few or too many digits for a
    phone number (a time zone offset, a short code, a long id)."""
    low, high = digits
    count = sum(c.isdigit() for c in match.group())
    return marker if low <= count <= high else match.group()


_CARD_GROUPS = re.compile(r"([ \-])")
_CARD_FIRST_DIGITS = "23456"  # Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6


def _card(marker: str, match: re.Match[str]) -> str:
    """A run of digit groups with each payment card number in it masked: 13 to 19 digits, as
    one group or as consecutive groups of three to six, starting with 2-6 and passing the Luhn
    check. Other numbers of the run stay, as do runs that hold no card number."""
    text = match.group()
    if text.isdigit():
        return marker if _luhn(text) else text
    pieces = _CARD_GROUPS.split(text)
    groups, separators = pieces[0::2], pieces[1::2]
    out: list[str] = []
    start = 0
    while start < len(groups):
        end = _card_end(groups, start)
        out.append(groups[start] if end is None else marker)
        start = start + 1 if end is None else end
        if start < len(groups):
            out.append(separators[start - 1])
    return "".join(out)


def _card_end(groups: Sequence[str], start: int) -> int | None:
    """Where the longest card number made of ``groups`` from ``start`` ends (exclusive)."""
    if groups[start][0] not in _CARD_FIRST_DIGITS:
        return None
    found = None
    digits = ""
    for end in range(start + 1, len(groups) + 1):
        group = groups[end - 1]
        if end - start > 1 and not (3 <= len(group) <= 6 and 3 <= len(groups[start]) <= 6):
            break
        digits += group
        if len(digits) > 19:
            break
        if len(digits) >= 13 and _luhn(digits):
            found = end
    return found


_DOUBLED = str.maketrans("0123456789", "0246813579")  # a digit doubled, less 9 past 9


def _luhn(digits: str) -> bool:
    """The Luhn checksum every payment card number passes (and 1 in 10 other numbers)."""
    # Summed as bytes, each digit's code point 48 more than its value.
    kept, doubled = digits[-1::-2], digits[-2::-2].translate(_DOUBLED)
    return (sum(kept.encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0


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
    # An AWS secret access key: 40 characters of base64 with both cases (not a hex digest),
    # at most 40 characters after `aws`, `secret` or an access key id on the same line
    # (`aws_secret_access_key = `, `"SecretAccessKey": "`, `AKIA...,` in a credentials CSV).
    # Before `aws_key_id`, which would mask the id that says what follows it.
    _rule(
        "aws_secret_key",
        r"(?P<keep>[AaSs](?:(?i:(?<=a)ws|(?<=s)ecret)|(?<=A)(?:KIA|SIA)[A-Z0-9]{16})[^\n]{0,40}?)"
        r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
        r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
        SECRET,
        hints=("aws", "secret", "akia", "asia"),
    ),
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
        r"x(?<![A-Za-z0-9]x)(?:ox[abposr]|app)-[A-Za-z0-9\-]{10,}",
        SECRET,
        hints=("xox", "xapp-"),
    ),
    _rule(
        "stripe_key",
        r"[rs]k_(?:live|test)_(?<![A-Za-z0-9][rs]k_(?:live|test)_)[A-Za-z0-9]{16,}",
        SECRET,
        hints=("k_live_", "k_test_"),
    ),
    _rule("google_key", r"AIza(?<![A-Za-z0-9]AIza)[A-Za-z0-9_\-]{35}", SECRET, hints=("aiza",)),
    _rule("google_oauth", r"ya29\.(?<![A-Za-z0-9]ya29\.)[\w\-]{20,}", SECRET, hints=("ya29.",)),
    _rule("gitlab_token", r"glpat-(?<![A-Za-z0-9]glpat-)[\w\-]{20,}", SECRET, hints=("glpat-",)),
    _rule("npm_token", r"npm_(?<![A-Za-z0-9]npm_)[A-Za-z0-9]{36}", SECRET, hints=("npm_",)),
    _rule("huggingface_token", r"hf_(?<![A-Za-z0-9]hf_)[A-Za-z]{34}", SECRET, hints=("hf_",)),
    _rule(
        "pypi_token",
        r"pypi-(?<![A-Za-z0-9]pypi-)AgE[\w\-]{50,}",
        SECRET,
        hints=("pypi-age",),
    ),
    _rule(
        "sendgrid_key",
        r"SG\.(?<![A-Za-z0-9]SG\.)[\w\-]{22}\.[\w\-]{43}",
        SECRET,
        hints=("sg.",),
    ),
    # Slack's incoming webhooks: the URL is the credential.
    _rule(
        "slack_webhook",
        r"(?P<keep>hooks\.slack\.com/(?:services|workflows|triggers)/)[\w/\-]{20,}",
        SECRET,
        hints=("hooks.slack.com",),
    ),
    _rule(
        "jwt",
        r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        SECRET,
        hints=("eyj",),
    ),
    # A password in a URL's user part: postgresql://user:[secret]@host/db, redis://:[secret]@h.
    _rule(
        "url_password",
        r"(?P<keep>://[^\s:/?#@\[\]\"'<>]{0,256}:)[^\s/?#@\"'<>]{1,256}(?=@)",
        SECRET,
        hints=("@",),
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
        r"(?P<keep>[AaCcPpSsTt](?i:(?<=a)(?:pi|ccess|ccount)[_\-]?keys?|(?<=c)redentials?"
        r"|(?<=p)(?:assw(?:or)?ds?|wd|rivate[_\-]?keys?)|(?<=s)ecrets?|(?<=t)oken)"
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
            "account_key",
            "account-key",
            "accountkey",
            "private_key",
            "private-key",
            "privatekey",
            "credential",
            "passw",
            "pwd",
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
    # Payment card numbers, before the phone rules (a card's groups look like a phone's): 13 to
    # 19 digits, or three to six groups of them split by a space or a dash, from a 2-6; ``_card``
    # finds the card number in such a run, if there is one.
    _rule(
        "card",
        rf"[2-6](?<!{_NOT_BEFORE_PHONE}[2-6])"
        r"(?:[0-9]{12,18}|[0-9]{2,5}(?:[ \-][0-9]{3,6}){2,5}+)" + _PHONE_END,
        CARD,
        judge=_card,
    ),
    # +44 20 7946 0958, +1 (415) 555-0123, +14155550123, tel:+33 1 23 45 67 89. The groups are
    # atomic so a long run of digits fails fast instead of backtracking through every split.
    _rule(
        "phone_international",
        rf"\+(?<!{_NOT_BEFORE_PHONE}\+)\d{{1,3}}(?>(?:[ .\-]?(?:\(\d{{1,4}}\)|\d{{1,4}})){{2,6}})"
        + _PHONE_END,
        PHONE,
        judge=partial(_phone, (8, 15)),
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
        judge=partial(_phone, (9, 12)),
    ),
)


def _any_of(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, factored by their first characters (``a(?:ws|kia)``
    for ``aws|akia``): CPython's engine tries the branches of an alternation one by one at each
    position, so with one branch per first character a search takes half the time."""
    words = sorted(set(words))
    branches = [
        re.escape(first) + _any_of(w[1:] for w in group)
        for first, group in groupby((w for w in words if w), key=lambda w: w[0])
    ]
    if "" in words:
        return f"(?:{'|'.join(branches)})?" if branches else ""
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


# Every built-in rule's hints, for one search that clears most text at once.
_ANY_HINT = re.compile(_any_of(h for rule in DEFAULT_RULES for h in rule.hints))
# What every phone or card match holds: eight digits, at most three of ` .-()` between two of
# them. A text without it skips those rules (a search that, unlike theirs, has no look-behind).
_PHONE_DIGITS = re.compile(r"\d(?:[ .\-()]{0,3}+\d){7}")


def rules_for(text: str) -> Sequence[Rule]:
    """The built-in rules that may match ``text``: those whose hints (or, for rules without hints,
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
    r"(?:passw(?:or)?d|pwd|secret|token|(?:api|private|access|account)[_\-]?key"
    r"|authorization|credentials?|cookie)"
)
_SENSITIVE_KEY = re.compile(_SECRET_KEY_END + "$")
# Such a key as a member of a JSON document without escapes: `"client_secret": ` (lowercased).
SENSITIVE_JSON_MEMBER = re.compile(_SECRET_KEY_END + r'"\s*:')


@lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """True when a mapping key or span attribute key names a secret (its last dotted part)."""
    return _SENSITIVE_KEY.search(key.rpartition(".")[2].lower()) is not None
