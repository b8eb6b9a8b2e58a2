"""``safe_text``: what a terminal, Rich or a browser would obey in untrusted text is only shown."""

from __future__ import annotations

import io
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from agentlab.safe_text import html_text, markup, rich_text, visible

HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def hidden(char: str) -> bool:
    return unicodedata.category(char) in HIDDEN_CATEGORIES


@given(st.text(alphabet=st.characters(codec=None)), st.booleans())
def test_what_visible_returns_has_no_control_or_format_character(text, lines):
    shown = visible(text, lines=lines)
    allowed = {"\n", "\t"} if lines else set()
    assert "\x1b" not in shown and "\x9b" not in shown
    assert all(c in allowed or not hidden(c) for c in shown), ascii(shown)


@given(st.text(alphabet=st.characters(codec=None, exclude_characters="\r")))
def test_visible_changes_nothing_else_and_keeps_lines(text):
    shown = visible(text)
    if not any(hidden(c) for c in text if c not in "\n\t"):
        assert shown == text
    assert shown.count("\n") == text.count("\n")


def test_every_control_and_format_character_of_this_python_is_made_visible():
    # The character class is written out (fast to import); this checks it against Unicode's
    # tables as this Python has them, so a newer Unicode's format characters are not missed.
    every = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if hidden(chr(cp)))
    missed = [f"U+{ord(c):04X}" for c in visible(every, lines=False) if hidden(c)]
    assert missed == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("\x1b[8mhidden", "\\x1b[8mhidden"),
        ("\x9b2J", "\\x9b2J"),  # C1's one-byte CSI
        ("\x1b]8;;http://evil\x1b\\link", "\\x1b]8;;http://evil\\x1b\\link"),  # OSC 8
        ("a\x7fb\x00c\x07", "a\\x7fb\\x00c\\x07"),
        ("line\rover", "line\\rover"),
        ("crlf\r\nkept", "crlf\nkept"),
        ("gen\u200beral", "gen\\u200beral"),
        ("abc\u202edef", "abc\\u202edef"),  # right-to-left override
        ("\U000e0041tag", "\\U000e0041tag"),  # a tag character (hidden ASCII)
        ("ok: héllo 世界 🙂", "ok: héllo 世界 🙂"),
    ],
)
def test_visible_writes_controls_as_python_escapes(text, shown):
    assert visible(text) == shown


def test_one_line_text_shows_its_newlines_and_tabs():
    assert visible("a\nb\tc", lines=False) == "a\\nb\\tc"
    assert visible("a\nb\tc") == "a\nb\tc"


def test_markup_in_data_prints_as_written():
    out = io.StringIO()
    console = Console(
        file=out, force_terminal=True, width=200, color_system="standard", highlight=False
    )
    data = "[red]x[/red] [link=https://attacker.example]click[/link] [bold]\\"
    console.print(f"[dim]said: {markup(data)}[/]")
    console.print(rich_text(data))
    printed = out.getvalue()
    assert printed.count(data) == 2
    assert "\x1b]8;" not in printed and "\x1b[31m" not in printed  # no link, no red


def test_html_text_escapes_tags_and_shows_controls():
    assert html_text("<script>alert(1)</script>\x1b[2J") == (
        "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J"
    )
