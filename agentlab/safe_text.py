"""Text from outside made safe to show a person: at a terminal, in Rich markup, in HTML.

Tool outputs and errors, tool descriptions, plans, arguments, replies and tasks may come from
anyone. A terminal obeys the control characters in what it prints (an escape sequence moves the
cursor, clears the screen, hides text), Rich obeys markup (``[link=...]``), a browser obeys HTML,
and bidi overrides or zero-width characters make text read other than it is. ``visible`` is the
one place that turns such text into characters that are only shown: every C0 and C1 control
character (ESC among them, so no escape sequence survives), DEL, and every invisible format
character (Unicode ``Cf``: zero-width, bidi embeddings, overrides and isolates, tag characters;
line and paragraph separators; lone surrogates) is written as Python writes it in a string
literal: ``\\x1b``, ``\\x9b``, ``\\u202e``, ``\\r``. Newlines (and tabs) are kept in text laid out
in lines; ``lines=False`` shows them too, for what must stay on one line (a table cell, an event
line), so that data cannot draw lines of its own. ``markup``, ``rich_text`` and ``html_text``
apply it and then the escaping of their medium.

Not made visible: look-alike letters (a Cyrillic ``е``), combining marks, variation selectors,
and letters that draw as blanks; a literal backslash in the data reads like an escape.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# Unicode's control (Cc), format (Cf), line/paragraph separator (Zl, Zp) and surrogate (Cs)
# characters, as of Unicode 16 (tests/test_safe_text.py checks this Python's tables against it).
_HIDDEN_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_IN_LINES = re.compile(f"[{_HIDDEN_CLASS}]")
_ON_ONE_LINE = re.compile(f"[{_HIDDEN_CLASS}\t\n]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def visible(value: object, *, lines: bool = True) -> str:
    """``value`` as text a terminal only shows: control, escape and invisible format characters
    written as ``\\x1b``, ``\\u202e``, ``\\r`` (see the module's text). ``lines``: keep newlines
    and tabs (a CR LF pair is a newline); otherwise show them as ``\\n`` and ``\\t`` too."""
    text = value if isinstance(value, str) else str(value)
    if lines:
        return _IN_LINES.sub(_escaped, text.replace("\r\n", "\n"))
    return _ON_ONE_LINE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def markup(value: object, *, lines: bool = True) -> str:
    """``visible(value)`` to put into a Rich markup string: its ``[`` tags escaped, printed as
    written."""
    from rich.markup import escape

    return escape(visible(value, lines=lines))


def rich_text(value: object, style: str = "", *, lines: bool = True) -> Text:
    """``visible(value)`` as a Rich ``Text`` (never read as markup), in ``style``."""
    from rich.text import Text

    return Text(visible(value, lines=lines), style=style)


def html_text(value: object, *, lines: bool = True) -> str:
    """``visible(value)`` escaped for HTML (``<``, ``>``, ``&`` and quotes)."""
    return html.escape(visible(value, lines=lines))
