"""The Anthropic test server itself: one server serves a session, each test a script of its own
(``reset``), and nothing of one script reaches the next."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from agentlab.models.script import Turn
from agentlab.testing import AnthropicTestServer, Faults

BODY = {
    "model": "claude-haiku-4-5",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}


def post(base_url: str, body: dict[str, Any] = BODY, timeout: float = 5) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{base_url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_reset_serves_the_new_script_from_its_first_turn_with_no_requests_of_the_old():
    with AnthropicTestServer([Turn(text="old 1"), Turn(text="old 2")]) as server:
        old_url = server.base_url
        assert post(old_url)[1]["content"][0]["text"] == "old 1"

        server.reset([Turn(text="new 1")])

        assert server.requests == [] and server.turns_left == 1
        status, answer = post(server.base_url)
        assert (status, answer["content"][0]["text"], answer["id"]) == (
            200,
            "new 1",
            "msg_test_0001",
        )
        assert len(server.requests) == 1


def test_a_client_of_an_earlier_script_is_refused_and_consumes_nothing():
    with AnthropicTestServer([Turn(text="old")]) as server:
        old_url = server.base_url
        server.reset([Turn(text="new")])

        status, answer = post(old_url)

        assert status == 404 and "was reset" in answer["error"]["message"]
        assert server.requests == [] and server.turns_left == 1
        assert server.base_url != old_url


def test_a_reset_ends_a_request_an_earlier_fault_left_hanging():
    with AnthropicTestServer([Turn(text="never")], faults=Faults(at={0: "hang"})) as server:
        ended: list[BaseException] = []

        def hang() -> None:
            try:
                post(server.base_url, timeout=20)
            except Exception as exc:  # the connection is reset
                ended.append(exc)

        waiting = threading.Thread(target=hang)
        waiting.start()
        deadline = time.monotonic() + 10
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.01)

        server.reset([Turn(text="next")])

        waiting.join(timeout=5)
        assert not waiting.is_alive() and ended
        assert post(server.base_url)[1]["content"][0]["text"] == "next"
