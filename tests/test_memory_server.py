"""Long-term memory on a server, and ``agentlab doctor`` checking the memory stores.

``agentlab chroma`` takes a data directory's Chroma over (once the operations in progress end),
every store of that directory goes through it while it runs, and it hands the directory back
when it stops; a store with ``chroma_url`` uses it from anywhere. ``doctor`` finds a collection
embedded by another model and a damaged index, and says when memory is off. Real processes on
127.0.0.1, each started and stopped by its test; the embedder is a hash of words
(``tests/embedders.py``): the model is not the point here.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentlab.memory.chroma import ChromaStore
from agentlab.memory.chroma_access import LOCK_FILE, SERVER_FILE, running_chroma
from tests.cli import AGENTLAB, REPOSITORY, agentlab, interrupt, read_until
from tests.embedders import HashEmbedder, OtherHashEmbedder

EMBEDDER = "tests.embedders:HashEmbedder"
MEMORY_ON = {"AGENTLAB_MEMORY__ENABLED": "true", "AGENTLAB_MEMORY__EMBEDDER": EMBEDDER}
STARTUP_S = 180  # importing chromadb alone can take 20 s on a busy machine


@dataclass
class Served:
    """An ``agentlab chroma`` running: its process, URL, directory and output so far."""

    process: subprocess.Popen[str]
    url: str
    directory: Path
    output: str

    def stop(self) -> str:
        """Ctrl-C it; the rest of its output."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=60) == 0
        return self.process.stdout.read() if self.process.stdout else ""


@contextmanager
def serving(env: Mapping[str, str], *, until: str = "Ctrl-C stops it.") -> Iterator[Served]:
    """``agentlab chroma`` on the data directory of ``env``, read until ``until``; stopped at
    the end if it still runs."""
    directory = Path(env["AGENTLAB_DATA_DIR"]) / "chroma"
    process = subprocess.Popen(
        [*AGENTLAB, "chroma"],
        env=dict(env),
        cwd=REPOSITORY,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        output = read_until(process, until, STARTUP_S)
        found = re.search(r"Chroma is up after [\d.]+ s: (\S+)", output)
        yield Served(process, found.group(1) if found else "", directory, output)
    finally:
        interrupt(process, 60)


def memory_env(env: Mapping[str, str]) -> dict[str, str]:
    return {**env, **MEMORY_ON}


def upsert(store: ChromaStore, collection: str, kind: str, texts: dict[str, str]) -> None:
    metadatas = [{"n": i} for i in range(len(texts))]
    store.upsert(
        collection, {"kind": kind}, ids=list(texts), documents=list(texts.values()),
        metadatas=metadatas,
    )  # fmt: skip


def ids_read_by_another_process(env: Mapping[str, str], directory: Path, collection: str):
    """The ids a fresh process reads from a store on ``directory`` (as memory is configured by
    default: embedded, through the server while one runs)."""
    probe = (
        "import json, sys; from pathlib import Path\n"
        "from agentlab.memory.chroma import ChromaStore\n"
        "from tests.embedders import HashEmbedder\n"
        "store = ChromaStore(HashEmbedder(), path=Path(sys.argv[1]))\n"
        "print(json.dumps(sorted(r.id for r in store.get(sys.argv[2]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(directory), collection],
        env=dict(env), cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def lock_is_held(directory: Path) -> bool:
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``agentlab chroma`` for the tests that only use it."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    data = tmp_path_factory.mktemp("served") / "data"
    env = {**keep, **MEMORY_ON, "AGENTLAB_DATA_DIR": str(data), "NO_COLOR": "1"}
    with serving(env) as server:
        yield server


# -- agentlab chroma -------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_agentlab_chroma_takes_the_directory_over_and_hands_it_back(env, tmp_path) -> None:
    env = memory_env(env)
    directory = tmp_path / "data" / "chroma"
    store = ChromaStore(HashEmbedder(), path=directory)
    upsert(store, "episodes-handoff", "episodes", {"early": "stored before the server"})
    assert [h.id for h in store.query("episodes-handoff", "before", n=1)] == ["early"]
    in_progress = os.open(directory / LOCK_FILE, os.O_RDWR)
    fcntl.flock(in_progress, fcntl.LOCK_EX)  # an operation of another process, under way
    with serving(env, until="waiting for the memory operations in progress") as server:
        os.close(in_progress)
        output = read_until(server.process, "Ctrl-C stops it.", STARTUP_S)
        url = re.search(r"Chroma is up after [\d.]+ s: (http://127\.0\.0\.1:\d+)\n", output)
        assert url is not None, output
        assert f"export AGENTLAB_MEMORY__CHROMA_URL={url.group(1)}" in output
        state = directory / SERVER_FILE
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert json.loads(state.read_text())["url"] == url.group(1)
        assert running_chroma(directory) == url.group(1)
        assert lock_is_held(directory)  # by the server, for as long as it runs

        upsert(store, "episodes-handoff", "episodes", {"served": "written through the server"})
        assert [h.id for h in store.query("episodes-handoff", "through the server", n=1)] == [
            "served"
        ]
        seen = ids_read_by_another_process(env, directory, "episodes-handoff")
        assert seen == ["early", "served"]  # the directory is locked: only the server answers
        rest = server.stop()
    assert "Chroma stopped." in rest
    assert not state.exists()
    assert not lock_is_held(directory)
    # Embedded again, this process reads what the server wrote, from disk.
    assert [h.id for h in store.query("episodes-handoff", "through the server", n=1)] == ["served"]
    assert ids_read_by_another_process(env, directory, "episodes-handoff") == ["early", "served"]


@pytest.mark.integration
@pytest.mark.slow
def test_a_server_outliving_its_killed_agentlab_chroma_still_holds_the_directory(
    env, tmp_path
) -> None:
    env = memory_env(env)
    directory = tmp_path / "data" / "chroma"
    with serving(env) as server:
        chroma = json.loads((directory / SERVER_FILE).read_text())["pid"]
        try:
            server.process.kill()  # no chance to stop its server, which runs on
            server.process.wait()
            assert lock_is_held(directory)  # by the server, which inherited it
            store = ChromaStore(HashEmbedder(), path=directory)
            upsert(store, "episodes-orphan", "episodes", {"a": "written through the server"})
            assert ids_read_by_another_process(env, directory, "episodes-orphan") == ["a"]
        finally:
            os.killpg(chroma, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while lock_is_held(directory) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not lock_is_held(directory)  # once the server is gone
    assert [r.id for r in store.get("episodes-orphan")] == ["a"]  # embedded, from disk


@pytest.mark.integration
@pytest.mark.slow
def test_a_store_with_chroma_url_uses_the_server(served: Served) -> None:
    store = ChromaStore(HashEmbedder(), url=served.url)
    upsert(store, "knowledge-remote", "knowledge", {"a": "refunds take five days", "b": "hi"})
    assert store.count("knowledge-remote") == 2
    assert [h.id for h in store.query("knowledge-remote", "how long do refunds take", n=1)] == ["a"]
    local = ChromaStore(HashEmbedder(), path=served.directory)  # the same data, served
    assert sorted(r.id for r in local.get("knowledge-remote")) == ["a", "b"]


@pytest.mark.integration
@pytest.mark.slow
def test_a_second_agentlab_chroma_on_the_directory_is_refused(served: Served, env) -> None:
    env = {**memory_env(env), "AGENTLAB_DATA_DIR": str(served.directory.parent)}
    refused = agentlab(env, "chroma")
    assert refused.returncode == 2
    assert refused.stderr == (
        f"error: an agentlab chroma already serves {served.directory} at {served.url}: use it, "
        "or stop it first\n"
    )


@pytest.mark.integration
@pytest.mark.slow
def test_doctor_checks_memory_on_the_server(served: Served, env) -> None:
    store = ChromaStore(HashEmbedder(), url=served.url)
    upsert(store, "episodes-doctor", "episodes", {"x": "one", "y": "two", "z": "three"})
    through = agentlab(
        {**memory_env(env), "AGENTLAB_DATA_DIR": str(served.directory.parent)}, "doctor"
    )
    assert through.returncode == 0, through.stdout
    assert f"memory in {served.directory} (through agentlab chroma at {served.url}): ok" in (
        through.stdout
    )
    remote = agentlab({**memory_env(env), "AGENTLAB_MEMORY__CHROMA_URL": served.url}, "doctor")
    assert remote.returncode == 0, remote.stdout
    assert f"memory in the Chroma server at {served.url}: ok (embedder hash-words-64; " in (
        remote.stdout
    )


def test_agentlab_chroma_refuses_when_memory_is_on_a_server_already(env) -> None:
    url = "http://127.0.0.1:8000"
    refused = agentlab({**memory_env(env), "AGENTLAB_MEMORY__CHROMA_URL": url}, "chroma")
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"error: memory is on the Chroma server at {url} already ([memory] chroma_url)"
    )


def test_agentlab_chroma_on_a_taken_port_is_one_error_line(env, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = agentlab(memory_env(env), "chroma", "--port", str(port))
    assert refused.returncode == 2
    assert refused.stderr == (
        f"error: port {port} (Chroma's HTTP API) on 127.0.0.1 is already in use: choose another "
        "with --port, or leave it out\n"
    )
    assert not (tmp_path / "data" / "chroma").exists()


def test_agentlab_chroma_without_the_chroma_command_says_how_to_get_it(
    env, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    refused = agentlab({**memory_env(env), "PATH": str(tmp_path)}, "chroma")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: the chroma command (installed with chromadb) is ")
    assert "pip install -e ." in refused.stderr


def test_a_server_file_left_by_a_server_that_is_gone_is_not_followed(tmp_path) -> None:
    directory = tmp_path / "data" / "chroma"
    store = ChromaStore(HashEmbedder(), path=directory)
    upsert(store, "episodes-left", "episodes", {"a": "kept in the directory"})
    # The server was killed with the machine; its pid is another live process's now (this one).
    left = {"pid": os.getpid(), "url": "http://127.0.0.1:9"}
    (directory / SERVER_FILE).write_text(json.dumps(left))
    assert [r.id for r in store.get("episodes-left")] == ["a"]  # embedded, not at the URL


# -- agentlab doctor ---------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow  # doctor's check imports chromadb in a process of its own
def test_doctor_passes_on_a_healthy_store_and_counts_what_it_holds(env, tmp_path) -> None:
    store = ChromaStore(HashEmbedder(), path=tmp_path / "data" / "chroma")
    upsert(store, "episodes-ada", "episodes", {f"e{i}": f"interaction {i}" for i in range(3)})
    upsert(store, "episodes-bob", "episodes", {"b": "another interaction"})
    upsert(store, "knowledge-help", "knowledge", {"k1": "refunds", "k2": "shipping times"})
    checked = agentlab(memory_env(env), "doctor")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.splitlines()[-1] == (
        f"memory in {tmp_path / 'data' / 'chroma'}: ok (embedder hash-words-64; episodes: "
        "2 collections, 4 texts; knowledge: 1 collection, 2 texts)"
    )


@pytest.mark.integration
@pytest.mark.slow  # doctor's check imports chromadb in a process of its own
def test_doctor_reports_a_collection_embedded_by_another_model(env, tmp_path) -> None:
    directory = tmp_path / "data" / "chroma"
    upsert(ChromaStore(HashEmbedder(), path=directory), "episodes-ok", "episodes", {"a": "x"})
    other = ChromaStore(OtherHashEmbedder(), path=directory)
    upsert(other, "episodes-other", "episodes", {"b": "embedded by another model"})
    checked = agentlab(memory_env(env), "doctor")
    assert checked.returncode == 1
    assert (
        "problem: memory collection episodes-other (episodes): embedded with "
        "hash-words-64-other, not the configured hash-words-64, so recall refuses it"
    ) in checked.stdout
    assert checked.stdout.splitlines()[-1] == f"memory in {directory}: 1 problem(s)"


@pytest.mark.integration
@pytest.mark.slow
def test_doctor_reports_a_chroma_server_that_does_not_answer(env) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    checked = agentlab({**memory_env(env), "AGENTLAB_MEMORY__CHROMA_URL": url}, "doctor")
    assert checked.returncode == 1
    assert f"problem: cannot reach the Chroma server at {url}" in checked.stdout
    assert checked.stdout.splitlines()[-1] == f"memory in the Chroma server at {url}: 1 problem(s)"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "said"),
    [("removed", "cannot be read: "), ("zeroed", "reading it crashed the check (signal SIGSEGV)")],
)
def test_doctor_reports_a_damaged_index(env, tmp_path, damage: str, said: str) -> None:
    directory = tmp_path / "data" / "chroma"
    store = ChromaStore(HashEmbedder(), path=directory)
    texts = {f"t{i}": f"text number{i} about topic{i % 13}" for i in range(1_200)}
    upsert(store, "knowledge-big", "knowledge", texts)  # enough for an index on disk
    store.close()
    (segment,) = [Path(p) for p in glob.glob(str(directory / "*-*-*-*-*"))]
    if damage == "removed":
        for path in segment.iterdir():
            path.unlink()
        segment.rmdir()
    else:
        links = segment / "link_lists.bin"
        links.write_bytes(bytes(links.stat().st_size))
    checked = agentlab(memory_env(env), "doctor")
    assert checked.returncode == 1
    assert f"problem: memory collection knowledge-big (knowledge): {said}" in checked.stdout


def test_doctor_with_memory_off_says_so_and_opens_no_store(env) -> None:
    probe = (
        "import sys\n"
        "from agentlab.cli.app import main\n"
        "sys.argv = ['agentlab', 'doctor']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "print('chromadb' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=REPOSITORY, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "memory: off ([memory] enabled = false): nothing to check" in lines
    assert lines[-2:] == ["exit 0", "False"]
