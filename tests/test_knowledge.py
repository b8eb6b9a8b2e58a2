"""Semantic memory: documents chunked with their locations, an agent's knowledge base in Chroma
(ingest, re-ingest, search, forget), the ``search_knowledge_base`` tool and ``agentlab kb``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentlab.domains.support.knowledge import help_centre_path, kb_script_path
from agentlab.errors import AgentlabError
from agentlab.memory.chroma import ChromaStore
from agentlab.memory.chunking import Chunk, DocumentError, chunk_document
from agentlab.memory.embedding import MiniLMEmbedder
from agentlab.memory.knowledge import Document, IngestProgress, KnowledgeBase
from agentlab.memory.knowledge_tool import (
    SHIPPED_BY,
    KnowledgeToolset,
    knowledge_tools,
    shipped_documents,
)
from agentlab.memory.long_term import LongTermMemory
from agentlab.memory.windows import WINDOW_WORDS
from agentlab.tools import InvalidArguments, Risk, ToolContext, ToolError
from tests.cli import agentlab
from tests.words_embedder import CountingEmbedder

WORDS = "tests.words_embedder:WordsEmbedder"


def _chunks(name: str, text: str) -> list[Chunk]:
    return chunk_document(name, text.encode())


def _sentences(n: int, topic: str) -> list[str]:
    return [f"Sentence {i} about {topic} has exactly nine words here." for i in range(n)]


# -- chunking ---------------------------------------------------------------------------

GUIDE = """---
title: ignored front matter
---
# Closing your account

Closing cancels the subscription.

## What is deleted

Projects and files go on day 31.

```bash
# not a heading: a comment in code
```

### Backups

Backups are overwritten within 90 days.

## What we keep

Invoices, for 7 years.
"""


def test_markdown_sections_are_located_by_their_heading_path() -> None:
    chunks = _chunks("guide.md", GUIDE)
    assert [c.location for c in chunks] == [
        "Closing your account",
        "Closing your account > What is deleted",
        "Closing your account > What is deleted > Backups",
        "Closing your account > What we keep",
    ]
    assert "# not a heading" in chunks[1].text
    assert chunks[3].text == "Invoices, for 7 years."
    assert chunks[3].indexed.startswith("Closing your account > What we keep\n\n")
    assert all("front matter" not in c.text for c in chunks)


def test_a_long_section_is_cut_into_overlapping_windows_at_sentence_boundaries() -> None:
    sentences = _sentences(40, "closing")  # ten words each, one paragraph
    chunks = _chunks("long.md", "# Guide\n\n## Long\n\n" + " ".join(sentences))
    assert [c.location for c in chunks] == [
        "Guide > Long",
        "Guide > Long (part 2)",
        "Guide > Long (part 3)",
    ]
    parts = [re.split(r"(?<=\.)\s+", c.text) for c in chunks]
    for part in parts:
        assert len(" ".join(part).split()) <= WINDOW_WORDS
        assert all(s in sentences for s in part)  # whole sentences only
    for before, after in zip(parts, parts[1:], strict=False):
        assert after[:3] == before[-3:]  # the overlap: its last 30 words
    assert sorted({s for part in parts for s in part}) == sorted(sentences)


def test_plain_text_is_located_by_the_lines_of_its_paragraphs() -> None:
    lines = ["SUPPORT HOURS", ""] + [f"Line {i} of the first block." for i in range(3, 8)]
    lines += ["", ""] + [" ".join(_sentences(3, f"row {i}")) for i in range(10, 25)]
    text = "\n".join(lines) + "\n"
    chunks = _chunks("hours.txt", text)
    assert len(chunks) > 2
    assert chunks[0].location.startswith("lines 1-") and chunks[-1].location.endswith("-24")
    assert {c.context for c in chunks} == {"SUPPORT HOURS"}
    for chunk in chunks:
        first, last = map(int, chunk.location.removeprefix("lines ").split("-"))
        quoted = text.splitlines()[first - 1 : last]
        sentences = re.split(r"(?<=\.)\s+|\n+", chunk.text)  # or lines
        assert sentences[0] in quoted[0] and sentences[-1] in quoted[-1]
        assert " ".join(chunk.text.split()) in " ".join(" ".join(quoted).split())


def test_html_keeps_its_headings_as_locations_and_drops_scripts_and_styles() -> None:
    page = """<!DOCTYPE html><html><head><title>Exports</title>
    <style>p { color: red }</style></head><body>
    <script>alert("not text")</script><nav>Menu</nav>
    <h1>Exporting your data</h1><p>Exports are <strong>free</strong>.</p>
    <h2>Formats</h2><ul><li>JSON keeps structure.</li><li>CSV for spreadsheets.</li></ul>
    <table><tr><th>Content</th><th>CSV</th></tr><tr><td>Comments</td><td>No</td></tr></table>
    <h2>Links</h2><p>The link is valid for 7&nbsp;days.</p><!-- a comment -->
    </body></html>"""
    chunks = _chunks("export.html", page)
    located = {c.location: c.text for c in chunks}
    assert located["start"] == "Menu"
    assert located["Exporting your data"] == "Exports are free."
    assert located["Exporting your data > Formats"] == (
        "JSON keeps structure.\n\nCSV for spreadsheets.\n\n| Content | CSV |\n| Comments | No |"
    )
    assert located["Exporting your data > Links"] == "The link is valid for 7 days."
    text = " ".join(located.values())
    assert "alert" not in text and "color" not in text and "comment" not in text


def _pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A PDF whose pages show these lines of text (Helvetica), made with pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    helvetica = {"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}
    font = writer._add_object(
        DictionaryObject({NameObject(k): NameObject(v) for k, v in helvetica.items()})
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        content = DecodedStreamObject()
        shown = " ".join(f"({line}) Tj T*" for line in lines)
        content.set_data(f"BT /F1 11 Tf 14 TL 72 720 Td {shown} ET".encode())
        page[NameObject("/Contents")] = writer._add_object(content)
        fonts = DictionaryObject({NameObject("/F1"): font})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    if title:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_text_is_located_by_page() -> None:
    data = _pdf(
        [["Refunds are paid within ten days.", "They go back to the card."], [], ["Page three."]],
        title="Billing handbook",
    )
    chunks = chunk_document("handbook.pdf", data)
    assert [(c.location, c.text) for c in chunks] == [
        ("page 1", "Refunds are paid within ten days. They go back to the card."),
        ("page 3", "Page three."),
    ]
    assert chunks[0].context == "Billing handbook"


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("report.docx", b"PK\x03\x04", ".docx files cannot be ingested"),
        ("README", b"text", "files without an extension cannot be ingested"),
        ("photo.md", b"\x89PNG\r\n\x1a\n\x00\x00", "photo.md is binary"),
        ("latin.txt", "café".encode("latin-1"), "latin.txt is not UTF-8 text"),
        ("broken.pdf", b"%PDF-1.7\nnot really", "broken.pdf cannot be read as a PDF"),
        ("fake.pdf", b"<html>", "fake.pdf is not a PDF"),
    ],
)
def test_a_file_that_cannot_be_chunked_is_a_clear_error(name: str, data: bytes, says: str) -> None:
    with pytest.raises(DocumentError, match=re.escape(says)) as raised:
        chunk_document(name, data)
    assert isinstance(raised.value, AgentlabError)
    if "cannot be ingested" in says:  # and which kinds can
        assert "supported: Markdown (.md, .markdown), text" in str(raised.value)


def test_the_help_centre_chunks_the_same_way_every_time() -> None:
    files = sorted(help_centre_path().iterdir())
    first = [chunk_document(f.name, f.read_bytes()) for f in files]
    again = [chunk_document(f.name, f.read_bytes()) for f in files]
    assert first == again
    assert {f.suffix for f in files} == {".md", ".html", ".txt"}
    assert all(chunks for chunks in first)
    closing = first[[f.name for f in files].index("closing-your-account.md")]
    assert "Closing your Brightlane account > What happens next" in {c.location for c in closing}


# -- the knowledge base -----------------------------------------------------------------


@pytest.fixture
def counting() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def kb(tmp_path: Path, counting: CountingEmbedder) -> KnowledgeBase:
    return KnowledgeBase(ChromaStore(counting, path=tmp_path / "chroma"), "support")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_reingesting_an_unchanged_file_embeds_nothing(
    kb: KnowledgeBase, counting: CountingEmbedder, tmp_path: Path
) -> None:
    guide = _write(tmp_path / "docs" / "guide.md", GUIDE)
    first = kb.ingest([guide], principal="ada")
    assert [(f.status, f.chunks) for f in first.files] == [("added", 4)]
    assert counting.texts == 4
    again = kb.ingest([guide], principal="ada")
    assert [(f.source, f.status, f.chunks) for f in again.files] == [(str(guide), "unchanged", 4)]
    assert counting.texts == 4  # not one more vector
    [source] = kb.sources()
    assert (source.source, source.chunks, source.ingested_by) == (str(guide), 4, "ada")


def test_a_changed_file_has_its_chunks_replaced(kb: KnowledgeBase, tmp_path: Path) -> None:
    guide = _write(tmp_path / "guide.md", GUIDE)
    kb.ingest([guide], principal="ada")
    _write(guide, "# Closing your account\n\nAccounts close at once, with nothing restored.\n")
    report = kb.ingest([guide], principal="grace")
    assert [(f.status, f.chunks) for f in report.files] == [("replaced", 1)]
    assert kb.count() == 1
    texts = [
        p.text
        for p in kb.search("what is deleted, backups, invoices kept", k=10, min_similarity=-1)
    ]
    assert texts == ["Accounts close at once, with nothing restored."]
    assert [s.ingested_by for s in kb.sources()] == ["grace"]


def test_directories_expand_to_their_documents_and_failures_are_reported(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    _write(docs / "b.txt", "Plain text.\n")
    _write(docs / "a.md", "# A\n\nMarkdown.\n")
    _write(docs / "sub" / "c.html", "<h1>C</h1><p>HTML.</p>")
    _write(docs / ".drafts" / "d.md", "# Draft\n\nNot published.\n")
    _write(docs / "notes.docx", "skipped: not a kind a directory expands to")
    _write(docs / "empty.md", "\n\n")
    unsupported = _write(tmp_path / "slides.pptx", "x")
    seen: list[IngestProgress] = []
    report = kb.ingest(
        [docs, unsupported, tmp_path / "missing.md", tmp_path / "nothing"],
        principal="ada",
        on_progress=seen.append,
    )
    rows = [(Path(f.source).relative_to(tmp_path), f.status, f.reason) for f in report.files]
    assert rows == [
        (Path("docs/a.md"), "added", ""),
        (Path("docs/b.txt"), "added", ""),
        (Path("docs/empty.md"), "failed", "holds no text to ingest"),
        (Path("docs/sub/c.html"), "added", ""),
        (Path("slides.pptx"), "failed", rows[4][2]),
        (Path("missing.md"), "failed", "no such file or directory"),
        (Path("nothing"), "failed", "no such file or directory"),
    ]
    assert rows[4][2].startswith("slides.pptx: .pptx files cannot be ingested; supported: ")
    assert not report.ok and report.count("added") == 3 and report.written == 3
    assert (seen[-1].files_done, seen[-1].files_total) == (7, 7)
    assert (seen[-1].chunks_done, seen[-1].chunks_total) == (3, 3)


def test_each_passage_is_stored_with_its_own_vector(kb: KnowledgeBase) -> None:
    texts = [f"# T{i}\n\n" + " ".join(f"w{i}x{j}" for j in range(1 + 7 * i)) for i in range(9)]
    kb.ingest([Document(f"d{i}.md", t.encode()) for i, t in enumerate(texts)], principal="ada")
    for i, text in enumerate(texts):  # embedded shortest first, across files: none mixed up
        [top] = kb.search(text.split("\n\n")[1], k=1)
        assert (top.source, top.location) == (f"d{i}.md", f"T{i}")


def test_a_document_given_by_name_is_its_own_source(kb: KnowledgeBase) -> None:
    kb.ingest([Document("faq.md", b"# FAQ\n\nRefunds take ten days.\n")], principal="ada")
    [passage] = kb.search("refunds ten days", k=1)
    assert (passage.source, passage.name, passage.location) == ("faq.md", "faq.md", "FAQ")
    assert kb.remove("faq.md") == 1 and kb.count() == 0


def test_forget_deletes_only_what_the_principal_ingested(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.ingest([_write(tmp_path / "ada.md", GUIDE)], principal="ada")
    kb.ingest([Document("grace.txt", b"Grace's notes.\n")], principal="grace")
    other = KnowledgeBase(kb.store, "billing")
    other.ingest([Document("ada-billing.md", b"# Billing\n\nAda's.\n")], principal="ada")
    assert kb.forget("ada") == 4
    assert [s.source for s in kb.sources()] == ["grace.txt"]
    assert other.count() == 1  # another agent's knowledge base: forgotten by its own


# -- the tool ---------------------------------------------------------------------------


def _context(memory: Any) -> ToolContext:
    return ToolContext(run_id="run-1", call_id="c1", idempotency_key="k1", memory=memory)


async def _search(toolset: KnowledgeToolset, memory: Any, **arguments: Any) -> Any:
    [tool] = toolset.tools
    return await tool.handler(_context(memory), tool.validate(arguments))


def test_the_tool_is_a_read_tool_that_says_when_to_use_it() -> None:
    [tool] = knowledge_tools.tools
    assert (tool.name, tool.risk, tool.idempotent) == ("search_knowledge_base", Risk.READ, True)
    assert "Use it when" in tool.description and "cite" in tool.description
    query = tool.input_schema["properties"]["query"]
    assert (query["minLength"], query["maxLength"]) == (3, 500)
    k = tool.input_schema["properties"]["k"]
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 10, 4)
    for wrong in ({"query": "hi"}, {"query": "refunds", "k": 11}, {"query": "x" * 501}):
        with pytest.raises(InvalidArguments):
            tool.validate(wrong)


async def test_the_tool_returns_passages_with_their_file_name_and_location(
    tmp_path: Path, counting: CountingEmbedder
) -> None:
    memory = LongTermMemory("support", ChromaStore(counting, path=tmp_path / "chroma"))
    memory.knowledge.ingest([_write(tmp_path / "docs" / "guide.md", GUIDE)], principal="ada")
    found = await _search(knowledge_tools, memory, query="invoices kept for years", k=1)
    assert found["count"] == 1 and found["query"] == "invoices kept for years"
    top = found["passages"][0]
    assert (top["source"], top["location"]) == ("guide.md", "Closing your account > What we keep")
    assert top["text"] == "Invoices, for 7 years."


async def test_the_first_search_ingests_the_documents_the_agent_ships(
    tmp_path: Path, counting: CountingEmbedder
) -> None:
    docs = tmp_path / "docs"
    _write(docs / "guide.md", GUIDE)
    toolset = KnowledgeToolset([docs])
    assert shipped_documents([knowledge_tools, toolset, toolset]) == (docs,)
    memory = LongTermMemory("support", ChromaStore(counting, path=tmp_path / "chroma"))
    found = await _search(toolset, memory, query="backups overwritten")
    assert found["passages"][0]["location"] == "Closing your account > What is deleted > Backups"
    assert [s.ingested_by for s in memory.knowledge.sources()] == [SHIPPED_BY]
    embedded = counting.texts
    await _search(toolset, memory, query="invoices")
    assert counting.texts == embedded + 1  # the query only: nothing ingested again
    _write(docs / "guide.md", "# Closing your account\n\nBackups are kept for a year.\n")
    later = KnowledgeToolset([docs])  # as the next process has it: the update goes in
    found = await _search(later, memory, query="backups kept")
    assert [p["text"] for p in found["passages"]] == ["Backups are kept for a year."]


async def test_the_tool_says_when_nothing_matches(tmp_path: Path) -> None:
    memory = LongTermMemory("support", ChromaStore(CountingEmbedder(), path=tmp_path / "c"))
    found = await _search(knowledge_tools, memory, query="anything at all")
    assert found["count"] == 0 and "rather than guess" in found["note"]


async def test_the_tool_without_long_term_memory_is_an_error_result() -> None:
    with pytest.raises(ToolError, match="long-term memory is off"):
        await _search(knowledge_tools, None, query="refunds")


# -- retrieval with the real model ------------------------------------------------------


@pytest.fixture(scope="module")
def help_centre(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    store = ChromaStore(MiniLMEmbedder(), path=tmp_path_factory.mktemp("kb") / "chroma")
    kb = KnowledgeBase(store, "support")
    assert kb.ingest([help_centre_path()], principal="ops").ok
    return kb


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "article", "section"),
    [
        ("I lost my phone with the authenticator app, how do I get in?",
         "passwords-and-two-factor.md", "Lost your second factor?"),
        ("Which identity providers work with single sign-on?",
         "single-sign-on.md", "Supported identity providers"),
        ("How many API requests per day can I make on the free plan?",
         "api-keys.md", "Rate limits"),
        ("Do you keep my invoices after I delete my account?",
         "closing-your-account.md", "What we keep"),
        ("How do I stop getting text messages?", "notification-channels.md", "SMS"),
    ],
)  # fmt: skip
def test_search_finds_the_article_answering_a_paraphrased_question(
    help_centre: KnowledgeBase, question: str, article: str, section: str
) -> None:
    top = help_centre.search(question, k=3)
    assert top[0].name == article
    assert top[0].location.endswith(f"> {section}")


# -- the command line -------------------------------------------------------------------


def _memory_on(env: dict[str, str], embedder: str) -> dict[str, str]:
    """``env`` with long-term memory on, embedding with ``embedder``."""
    return {**env, "AGENTLAB_MEMORY__ENABLED": "true", "AGENTLAB_MEMORY__EMBEDDER": embedder}


@pytest.fixture
def words_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of an ``agentlab`` whose memory is on and embeds with ``WordsEmbedder``."""
    return _memory_on(env, WORDS)


def test_kb_ingest_search_and_list_at_the_command_line(
    words_env: dict[str, str], tmp_path: Path
) -> None:
    env = words_env
    docs = tmp_path / "docs"
    _write(docs / "guide.md", GUIDE)
    _write(docs / "hours.txt", "SUPPORT HOURS\n\nWe answer from 7 to 19 UTC.\n")
    ingested = agentlab(env, "kb", "ingest", docs, "--agent", "agentlab.domains.support:agent")
    assert ingested.returncode == 0, ingested.stderr
    assert "2 file(s): 2 added, 0 replaced, 0 unchanged, 0 failed; 5 passage(s)" in ingested.stdout
    again = agentlab(env, "kb", "ingest", docs)  # the default agent: the support agent
    assert "0 added, 0 replaced, 2 unchanged, 0 failed; 0 passage(s)" in again.stdout
    searched = agentlab(env, "kb", "search", "when do you answer, UTC hours", "-k", "1", "--json")
    [hit] = json.loads(searched.stdout)
    assert (hit["source"], hit["location"]) == (str(docs / "hours.txt"), "lines 1-3")
    table = agentlab(env, "kb", "search", "backups overwritten")
    assert "guide.md" in table.stdout and "What is deleted > Backups" in table.stdout
    listed = json.loads(agentlab(env, "kb", "list", "--json").stdout)
    assert [(s["source"], s["chunks"]) for s in listed] == [
        (str(docs / "guide.md"), 4),
        (str(docs / "hours.txt"), 1),
    ]
    assert {s["ingested_by"] for s in listed} == {listed[0]["ingested_by"]} != {""}


def test_kb_ingest_exits_1_naming_the_file_that_failed(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "AGENTLAB_MEMORY__EMBEDDER": WORDS}  # and memory off: ingest says so
    bad = _write(tmp_path / "notes.rtf", "{\\rtf1}")
    result = agentlab(env, "kb", "ingest", bad, _write(tmp_path / "ok.md", "# Ok\n\nFine.\n"))
    assert result.returncode == 1
    assert ".rtf files cannot be ingested" in result.stdout
    assert "1 added, 0 replaced, 0 unchanged, 1 failed" in result.stdout
    assert "note: long-term memory is off" in result.stderr


@pytest.mark.parametrize(
    ("agent", "code", "says"),
    [
        ("agentlab.domains.support:agent", 0, "10 file(s): 10 added"),  # its help centre
        ("tests/hostile_agent.py:agent", 2, "agent mailer ships no documents: name the files"),
    ],
)
def test_kb_ingest_without_paths_ingests_the_documents_the_agent_ships(
    words_env: dict[str, str], agent: str, code: int, says: str
) -> None:
    result = agentlab(words_env, "kb", "ingest", "--agent", agent)
    assert result.returncode == code, result.stderr
    assert says in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_forgetting_a_principal_removes_the_documents_they_ingested(
    words_env: dict[str, str], tmp_path: Path
) -> None:
    mine = _write(tmp_path / "ada.md", "# Ada\n\nAda's notes.\n")
    theirs = _write(tmp_path / "ops.md", "# Ops\n\nThe team's notes.\n")
    assert agentlab(words_env, "kb", "ingest", mine, "--as", "ada").returncode == 0
    assert agentlab(words_env, "kb", "ingest", theirs, "--as", "ops").returncode == 0
    forgot = agentlab(words_env, "memory", "forget", "--principal", "ada", "--yes")
    assert forgot.returncode == 0, forgot.stderr
    listed = json.loads(agentlab(words_env, "kb", "list", "--json").stdout)
    assert [(s["source"], s["ingested_by"]) for s in listed] == [(str(theirs), "ops")]


def test_kb_search_of_an_empty_knowledge_base_says_how_to_fill_it(
    words_env: dict[str, str],
) -> None:
    result = agentlab(words_env, "kb", "search", "refunds")
    assert result.returncode == 0
    assert "is empty: fill it with 'agentlab kb ingest [PATH]...'" in result.stderr


# -- a demo turn: the support agent answers from its help centre ------------------------

QUESTION = "How long can I still restore my account after closing it?"


@pytest.mark.parametrize(
    "embedder", [WORDS, pytest.param("minilm", marks=pytest.mark.slow)], ids=["words", "minilm"]
)
def test_the_support_agent_answers_from_its_help_centre(
    env: dict[str, str], settings: Any, embedder: str
) -> None:
    from agentlab.orchestration import SyncRunner

    env = _memory_on(env, embedder)
    result = agentlab(env, "run", QUESTION, "--script", kb_script_path())
    assert result.returncode == 0, result.stderr
    assert "30-day restore window" in result.stdout
    assert 'closing-your-account.md, "What happens next"' in " ".join(result.stdout.split())
    run_id = re.search(r"run-[0-9a-f]{10}", result.stdout)
    assert run_id is not None
    with SyncRunner(settings) as runner:
        [call] = runner.get(run_id.group()).state["results"]
    found = call["outcome"]["output"]
    where = [(p["source"], p["location"]) for p in found["passages"]]
    assert (
        "closing-your-account.md",
        "Closing your Brightlane account > What happens next",
    ) in where


async def test_the_knowledge_base_tool_served_over_mcp_reads_the_agents_memory(tmp_path):
    from agentlab.config import load_settings
    from agentlab.domains.support import REFERENCE
    from agentlab.serving.mcp import AgentServer

    settings = load_settings(
        data_dir=tmp_path / "data", memory={"enabled": True, "embedder": WORDS}
    )
    async with AgentServer(REFERENCE, settings, decide_hint=lambda run_id, requests: "") as server:
        result = await server.call_tool(
            "search_knowledge_base", {"query": "restore my account after closing it"}
        )
    assert not result.is_error, result.content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "closing-your-account.md" in text
