"""Documents into chunks: passages small enough to embed and to quote, each with where it stands.

Markdown is cut at its headings (a chunk's ``location`` is the heading path, ``Closing your
account > What happens next``), HTML the same way (its text read with BeautifulSoup, scripts and
styles dropped), plain text by paragraphs (``lines 10-24``) and PDF by page (``page 3``, its text
read with pypdf). A section longer than a window (about 180 words) is cut into windows at
paragraph, line or sentence boundaries, each repeating the last sentence or two of the one before
(``windows``); later windows say ``(part 2)``. Each chunk also
carries its ``context``, the document's title or heading path, which is embedded with the text
(a passage under "Refunds" is about refunds even when its sentences do not say so).

The same bytes always give the same chunks. A file of another kind, or one that cannot be read
as its kind (binary, not UTF-8, a broken PDF), raises ``DocumentError``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.memory.windows import Block, windows, word_count

CHUNKER_VERSION = 1
"""Bumped when the same file would be cut differently: its stored chunks are then replaced."""

KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
SUPPORTED = "Markdown (.md, .markdown), text (.txt, .text), HTML (.html, .htm) and PDF (.pdf)"


class DocumentError(AgentlabError):
    """A document cannot be chunked: its kind is not supported, or it is not readable as it."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document: its ``text``, where it stands (``location``) and its
    ``context`` (the title or heading path that situates it)."""

    text: str
    location: str
    context: str = ""

    @property
    def indexed(self) -> str:
        """What is embedded: the context, then the text."""
        return f"{self.context}\n\n{self.text}" if self.context else self.text


def supported(path: Path) -> bool:
    """Whether ``path`` names a kind of document that can be chunked."""
    return path.suffix.lower() in KINDS


def chunk_document(name: str, data: bytes) -> list[Chunk]:
    """The chunks of the document ``name`` (its extension says its kind) holding ``data``."""
    suffix = Path(name).suffix.lower()
    kind = KINDS.get(suffix)
    if kind is None:
        what = f"{suffix} files" if suffix else "files without an extension"
        raise DocumentError(f"{name}: {what} cannot be ingested; supported: {SUPPORTED}")
    if kind == "pdf":
        return chunk_pdf(data, name=name)
    text = _decoded(name, data)
    if kind == "markdown":
        return chunk_markdown(text)
    if kind == "html":
        return chunk_html(text)
    return chunk_text(text)


def _decoded(name: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name} is binary, not text: it cannot be ingested as {SUPPORTED}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{name} is not UTF-8 text (byte {exc.start}): save it as UTF-8 and ingest it again"
        ) from None


# -- the formats ------------------------------------------------------------------------


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def chunk_markdown(text: str) -> list[Chunk]:
    """Markdown cut at its ATX headings (``#`` to ``######``; not inside fenced code); text
    before the first heading is located by its lines."""
    lines = text.splitlines()
    start = _front_matter_end(lines)
    path: list[tuple[int, str]] = []
    sections: list[tuple[str, list[Block]]] = [("", [])]
    paragraph: list[str] = []
    first = 0
    fenced = False
    title = ""

    def flush(upto: int) -> None:
        if any(line.strip() for line in paragraph):
            sections[-1][1].append(Block("\n".join(paragraph).strip("\n"), first, upto))
        paragraph.clear()

    for number, line in enumerate(lines[start:], start=start + 1):
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            flush(number - 1)
            level = len(heading.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading.group(2).strip()))
            title = title or (path[0][1] if level == 1 else "")
            sections.append((" > ".join(title for _, title in path), []))
        elif not line.strip() and not fenced:
            flush(number - 1)
        else:
            if not paragraph:
                first = number
            paragraph.append(line)
    flush(len(lines))
    chunks: list[Chunk] = []
    for location, blocks in sections:
        if location:
            chunks += _located(blocks, location, location)
        else:
            chunks += _by_lines(blocks, title)
    return chunks


def _front_matter_end(lines: list[str]) -> int:
    """How many lines a leading YAML front matter (``---`` ... ``---``) takes."""
    if lines and lines[0].strip() == "---":
        for i, line in enumerate(lines[1:], start=1):
            if line.strip() in ("---", "..."):
                return i + 1
    return 0


def chunk_text(text: str) -> list[Chunk]:
    """Plain text: paragraphs (blank-line separated) gathered into windows located by their
    lines; its first line, when short, is its title."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    first = 0
    lines = text.splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            if not paragraph:
                first = number
            paragraph.append(line.rstrip())
        elif paragraph:
            blocks.append(Block("\n".join(paragraph), first, number - 1))
            paragraph = []
    head = blocks[0].text if blocks else ""
    title = head if "\n" not in head and word_count(head) <= 12 else ""
    return _by_lines(blocks, title)


_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HTML_BLOCKS = {"p", "li", "pre", "blockquote", "dt", "dd", "caption", "figcaption", "address"}
_HTML_DROPPED = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
_HTML_INLINE = {
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark",
    "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "label",
}  # fmt: skip


def chunk_html(text: str) -> list[Chunk]:
    """HTML cut at its headings (``h1`` to ``h6``); paragraphs, list items and table rows are
    its blocks (a table one block, a row a line); scripts, styles and the head are dropped. Text
    before the first heading is located as ``start``."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for dropped in soup(_HTML_DROPPED):
        dropped.decompose()
    reader = _HtmlReader()
    reader.walk(soup)
    reader.flush()
    title = next((t for level, t in reader.titles if level == 1), title)
    chunks: list[Chunk] = []
    for location, blocks in reader.sections:
        chunks += _located(blocks, location or "start", location or title)
    return chunks


class _HtmlReader:
    """Walks a parsed page in document order, gathering its blocks under their heading path."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.titles: list[tuple[int, str]] = []
        self.sections: list[tuple[str, list[Block]]] = [("", [])]
        self.loose: list[str] = []

    def walk(self, node: Any) -> None:
        from bs4 import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

        for child in node.children:
            if isinstance(child, Comment | Declaration | Doctype | ProcessingInstruction):
                continue
            if isinstance(child, NavigableString):
                self.loose.append(str(child))
            elif isinstance(child, Tag):
                self.visit(child)

    def visit(self, tag: Any) -> None:
        name = tag.name
        if name in _HTML_INLINE:
            self.walk(tag)
            return
        if name == "br":
            self.loose.append("\n")
            return
        self.flush()
        if name in _HTML_HEADINGS:
            level, heading = _HTML_HEADINGS[name], _squash(tag.get_text())
            if heading:
                while self.path and self.path[-1][0] >= level:
                    self.path.pop()
                self.path.append((level, heading))
                self.titles.append((level, heading))
                self.sections.append((" > ".join(t for _, t in self.path), []))
        elif name == "table":  # one block, a row a line, as Markdown writes a table
            for caption in tag.find_all("caption"):
                self.add(_squash(caption.extract().get_text()))
            rows = [[_squash(c.get_text()) for c in r.find_all(["td", "th"])] for r in tag("tr")]
            self.add("\n".join(f"| {' | '.join(cells)} |" for cells in rows if cells))
        elif name == "pre":
            self.add(tag.get_text().strip("\n"))
        elif name in _HTML_BLOCKS and tag.find(list(_HTML_HEADINGS)) is None:
            self.add(_squash(tag.get_text()))
        else:
            self.walk(tag)
            self.flush()

    def flush(self) -> None:
        self.add(_squash("".join(self.loose)))
        self.loose.clear()

    def add(self, text: str) -> None:
        if text.strip():
            self.sections[-1][1].append(Block(text))


def chunk_pdf(data: bytes, *, name: str = "the PDF") -> list[Chunk]:
    """A PDF's text, page by page (pypdf): located by page; a page's paragraphs are its blocks,
    their wrapped lines joined. A PDF without text (scanned pages) has no chunks."""
    if not data.startswith(b"%PDF-"):
        raise DocumentError(f"{name} is not a PDF (it does not start with %PDF-)")
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{name} is encrypted: decrypt it, then ingest it again")
        title = str(reader.metadata.title or "") if reader.metadata else ""
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a damaged file; all mean unreadable
        raise DocumentError(f"{name} cannot be read as a PDF: {exc}") from None
    chunks: list[Chunk] = []
    for number, page in enumerate(pages, start=1):
        paragraphs = re.split(r"\n\s*\n", page)
        blocks = [Block(_squash(p)) for p in paragraphs if p.strip()]
        chunks += _located(blocks, f"page {number}", title)
    return chunks


# -- windows ----------------------------------------------------------------------------


def _located(blocks: list[Block], location: str, context: str) -> list[Chunk]:
    """A section's windows, the second on saying which part they are."""
    return [
        Chunk(w.text, location if i == 0 else f"{location} (part {i + 1})", context)
        for i, w in enumerate(windows(blocks))
    ]


def _by_lines(blocks: list[Block], context: str) -> list[Chunk]:
    """Windows located by the lines they span."""
    located = []
    for w in windows(blocks):
        where = f"line {w.first}" if w.first == w.last else f"lines {w.first}-{w.last}"
        located.append(Chunk(w.text, where, context))
    return located


def _squash(text: str) -> str:
    return " ".join(text.split())
