"""Text as a person reads it: what the policy's string conditions (and the egress check) compare.

Two strings a person would read as the same must not get different verdicts, so a value is
normalised before it is compared: Unicode NFKC (fullwidth ``ｅｖｉｌ`` is ``evil``), invisible
format characters removed (category Cf: zero-width spaces and joiners, soft hyphens, direction
marks), common Cyrillic and Greek look-alikes of Latin letters read as those letters (``е``,
U+0435, is ``e``: NFKC keeps it), case-folded, white space collapsed and trimmed, and the
trailing dot of a domain name dropped (``evil.com.`` is ``evil.com``, the same host). The
look-alike table is short and covers the letters of those two scripts that are drawn like Latin
ones; it is not Unicode's full confusables list (UTS #39), so a value in another script can
still look like a Latin one.

For ``equals``, ``in`` and ``not_in`` a leading ``#`` or ``@`` is not part of the name either
(``#general`` is the channel ``general``, ``@alice`` the handle ``alice``): see ``bare``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# Upper and lower case: mapped before case folding, since some capitals fold to letters drawn
# differently (Greek Eta, drawn H, folds to eta, drawn n).
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic capitals, then small letters
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D",
        "Ԛ": "Q", "Ԝ": "W", "Ү": "Y", "Ӏ": "I", "Ԍ": "G", "Ꙅ": "S",
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ү": "y", "ӏ": "l", "һ": "h", "ь": "b", "ѵ": "v", "ё": "e",
        "ї": "i", "г": "r", "п": "n", "ꙅ": "s",
        # Greek capitals, then small letters
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
        "α": "a", "β": "b", "γ": "y", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "η": "n", "ϲ": "c", "ϳ": "j",
        # Latin letters drawn like others
        "ı": "i", "ȷ": "j", "ɡ": "g", "ɑ": "a", "ʏ": "y", "ꞵ": "b",
        # Armenian
        "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n",
    }
)  # fmt: skip
_WHITESPACE = re.compile(r"\s+")
_DOMAIN_END = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+\.+(?=$|[/:?#])")
"""A host name ending with the root's dot (``evil.com.``, ``evil.com./x``)."""
_SIGILS = "#@"


def _visible(text: str) -> str:
    """``text`` in NFKC, without format characters, look-alikes read as Latin letters."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.translate(_LOOKALIKES)


def normalised(text: str) -> str:
    """``text`` as a person reads it (see the module's docstring)."""
    return _short(text) if len(text) <= 256 else _normalised(text)


@lru_cache(maxsize=4096)
def _short(text: str) -> str:  # names, channels, addresses: the same few again and again
    return _normalised(text)


def _normalised(text: str) -> str:
    text = _WHITESPACE.sub(" ", _visible(text).casefold()).strip()
    return _DOMAIN_END.sub(lambda m: m.group().rstrip("."), text)


def bare(text: str) -> str:
    """``text`` normalised, without a leading ``#`` or ``@`` (a channel's or a handle's sigil):
    the name ``equals``, ``in`` and ``not_in`` compare."""
    return normalised(text).lstrip(_SIGILS).lstrip()


@lru_cache(maxsize=256)
def pattern(regex: str) -> re.Pattern[str]:
    """``regex`` as it is searched in normalised text: its letters read as the value's are
    (NFKC, look-alikes as Latin letters; its syntax untouched), matched ignoring case."""
    return re.compile(_visible(regex), re.IGNORECASE)


def comparable(value: Any) -> Any:
    """``value`` with each string in it ``bare``: what ``equals``, ``in`` and ``not_in``
    compare."""
    if isinstance(value, str):
        return bare(value)
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: comparable(v) for k, v in value.items()}
    return value
