"""Long text into windows: blocks (paragraphs) gathered into passages of about a size.

``windows`` packs whole blocks while they fit; a block longer than a window is cut between its
lines (list items, table rows) or sentences, and a sentence longer than a window into runs of
words. Each window after the first begins with the last sentences of the one before (at most
``OVERLAP_WORDS``), so a fact cut at a boundary is whole in one of them. Blocks carry the lines
they span, and so do windows (for plain text, located by lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WINDOW_WORDS = 180
OVERLAP_WORDS = 30


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (or a piece of one) and the lines it spans (0: not known)."""

    text: str
    first: int = 0
    last: int = 0


def windows(
    blocks: list[Block], size: int = WINDOW_WORDS, overlap: int = OVERLAP_WORDS
) -> list[Block]:
    """``blocks`` gathered into windows of at most ``size`` words, cut between blocks where
    they fit, else between lines or sentences; each window after the first starts with the
    last sentences (up to ``overlap`` words) of the one before."""
    units = [piece for block in blocks for piece in _pieces(block, size)]
    found: list[Block] = []
    current: list[tuple[Block, str]] = []
    count = 0
    for unit, joint in units:
        n = word_count(unit.text)
        if current and count + n > size:
            found.append(_joined(current))
            current = _tail(current, overlap)
            count = sum(word_count(b.text) for b, _ in current)
            if count + n > size:
                current, count = [], 0
        current.append((unit, joint if current else ""))
        count += n
    if current:
        found.append(_joined(current))
    return found


def _pieces(block: Block, size: int) -> list[tuple[Block, str]]:
    """``block`` whole if it fits in a window, else its lines or sentences (a sentence longer
    than a window in runs of words), each with what joins it to the piece before."""
    if word_count(block.text) <= size:
        return [(block, "\n\n")]
    pieces: list[tuple[Block, str]] = []
    for piece, joint in _split(block):
        if word_count(piece.text) <= size:
            pieces.append((piece, joint))
            continue
        words = piece.text.split()
        for start in range(0, len(words), size):
            run = Block(" ".join(words[start : start + size]), piece.first, piece.last)
            pieces.append((run, joint if start == 0 else " "))
    return [(pieces[0][0], "\n\n"), *pieces[1:]]


_ITEM = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|\|)")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])[\"')\]*_]*\s+(?=\S)")


def _split(block: Block) -> list[tuple[Block, str]]:
    """A block's list items or table rows (with their continuation lines) if it is made of
    them, else its sentences."""
    text = block.text
    lines = text.split("\n")
    if len(lines) > 1 and sum(bool(_ITEM.match(line)) for line in lines) >= 2:
        bounds = [i for i, line in enumerate(lines) if i == 0 or _ITEM.match(line)]
        offsets = [sum(len(line) + 1 for line in lines[:i]) for i in [*bounds, len(lines)]]
        return [(_span(block, a, b - 1), "\n") for a, b in zip(offsets, offsets[1:], strict=False)]
    starts = [0, *(m.end() for m in _SENTENCE_END.finditer(text))]
    ends = [*starts[1:], len(text)]
    return [(_span(block, a, b), " ") for a, b in zip(starts, ends, strict=True)]


def _span(block: Block, start: int, end: int) -> Block:
    """The text of ``block`` from ``start`` to ``end``, stripped, with the lines it spans."""
    piece = block.text[start:end]
    if not block.first:
        return Block(piece.strip())
    begin = start + len(piece) - len(piece.lstrip())
    finish = max(begin, start + len(piece.rstrip()) - 1)
    count = block.text.count
    return Block(
        piece.strip(), block.first + count("\n", 0, begin), block.first + count("\n", 0, finish)
    )


def _tail(parts: list[tuple[Block, str]], overlap: int) -> list[tuple[Block, str]]:
    """The last sentences (or lines) of a window, at most ``overlap`` words in all, with what
    joins each to the one before: the start of the next window."""
    kept: list[tuple[Block, str]] = []
    count = 0
    for block, joint in reversed(parts):
        pieces = _split(block)
        pieces[0] = (pieces[0][0], joint)
        for piece, inner in reversed(pieces):
            count += word_count(piece.text)
            if count > overlap:
                return kept
            kept.insert(0, (piece, inner))
    return kept


def _joined(parts: list[tuple[Block, str]]) -> Block:
    text = parts[0][0].text + "".join(joint + block.text for block, joint in parts[1:])
    lines = [b for b, _ in parts if b.first]
    return Block(text, lines[0].first if lines else 0, max((b.last for b in lines), default=0))


def word_count(text: str) -> int:
    """Words, as whitespace separates them."""
    return len(text.split())
