"""The HTTP side of ``AnthropicTestServer``: each request is routed to the script it arrived for,
checked, failed on purpose (``Faults``) or answered with the script's next turn.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from agentlab.models.script import Turn
from agentlab.testing import messages
from agentlab.testing.faults import FAULT_STATUS, FaultKind

if TYPE_CHECKING:
    from agentlab.testing.anthropic_server import AnthropicTestServer, Script

_RECORDED_HEADERS = (
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "x-stainless-retry-count",
)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (the SDK may cancel); report anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class MessagesHandler(BaseHTTPRequestHandler):
    owner: AnthropicTestServer
    protocol_version = "HTTP/1.1"
    timeout = 10
    script: Script  # the script this request arrived for

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.script = self.owner._script
        self._send_error(404, "not_found_error", f"no route for GET {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.script = script = self.owner._script
        path = self.path.split("?")[0]
        if not path.startswith(f"{script.prefix}/"):
            self._send_error(
                404,
                "not_found_error",
                f"no route for POST {self.path}: this AnthropicTestServer was reset since; "
                f"its base_url now ends in {script.prefix or '/'}",
                retry=False,
            )
            return
        headers = {k: v for k in _RECORDED_HEADERS if (v := self.headers.get(k)) is not None}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if path == f"{script.prefix}/v1/messages/count_tokens" and isinstance(body, dict):
            self._count(body)  # not a turn: kept apart from the requests, never faulted
            return
        number = script.record(body if isinstance(body, dict) else {}, headers, raw)

        if path != f"{script.prefix}/v1/messages":
            self._send_error(404, "not_found_error", f"no route for POST {self.path}")
            return
        if not isinstance(body, dict):
            self._send_error(400, "invalid_request_error", "request body must be a JSON object")
            return
        problem = messages.validate(body)
        if problem:
            self._send_error(400, "invalid_request_error", problem)
            return
        fault = script.draw_fault(number)
        if fault is not None:
            self._inject(fault, body)
            return

        choice = body.get("tool_choice")
        index, turn = script.take_turn(choice.get("name") if isinstance(choice, dict) else None)
        if turn is None:
            self._send_error(
                500,
                "api_error",
                f"AnthropicTestServer script exhausted: {index} turn(s) were scripted and request "
                f"{index + 1} arrived; add turns to the script",
                retry=False,
            )
            return
        if turn.error is not None and turn.error.body is not None:  # a gateway's own error
            kind = "application/json" if _is_json(turn.error.body) else "text/plain"
            self._send(turn.error.status, turn.error.body.encode(), kind)
            return
        if turn.error is not None:
            self._send_error(turn.error.status, turn.error.type, turn.error.message)
            return
        try:
            usage = script.cache_usage(body)
            answer = messages.message(turn, script.message_id(), str(body["model"]), index, usage)
        except Exception as exc:
            self._send_error(500, "api_error", f"AnthropicTestServer failed: {exc!r}", retry=False)
            return
        data, kind = _encoded(answer, stream=bool(body.get("stream")))
        if body.get("stream") and script.stream_delay_s > 0:
            self._send_slowly(data, kind, number)
            return
        self._send(200, data, kind)

    def _count(self, body: dict[str, Any]) -> None:
        """Answer a token count: the request's tools, system and messages as compact JSON, a
        token per ``COUNT_CHARS`` characters (the server's own tokenizer, deterministic)."""
        tokens = messages.count_tokens(body)
        with self.script.lock:
            self.script.counted.append({**body, "input_tokens": tokens})
        self._send(200, json.dumps({"input_tokens": tokens}).encode(), "application/json")

    def _send_slowly(self, data: bytes, kind: str, number: int) -> None:
        """An event stream sent one event at a time, ``stream_delay_s`` apart, each event's send
        time recorded with the request (the connection closes after the last)."""
        script = self.script
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("request-id", f"req_test_{uuid.uuid4().hex[:24]}")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        sent: list[float] = []
        with script.lock:
            script.requests[number]["events_sent_s"] = sent
        for event in data.split(b"\n\n")[:-1]:
            if script.stopping.wait(script.stream_delay_s):
                return
            self.wfile.write(event + b"\n\n")
            self.wfile.flush()
            sent.append(time.monotonic())

    def _inject(self, fault: FaultKind, body: dict[str, Any]) -> None:
        faults, stream = self.script.faults, bool(body.get("stream"))
        if fault in FAULT_STATUS:
            status, type_ = FAULT_STATUS[fault]
            wait = faults.retry_after_s if fault == "rate_limit" else None
            self._send_error(status, type_, f"injected fault: {fault}", retry_after_s=wait)
        elif fault == "hang":
            self.script.stopping.wait(faults.hang_s)
            self._reset()
        elif fault == "reset":
            self._reset()
        elif fault in ("malformed", "cut"):
            answer = messages.message(
                Turn(text="this answer never arrives whole"), "msg_fault", "x", 0
            )
            data, kind = _encoded(answer, stream=stream)
            if fault == "malformed":
                # Not JSON: a stray brace opens the stream's first event, or the body stops
                # half-way (its content-length says so: the response itself is complete).
                data = data.replace(b"{", b"{{", 1) if stream else data[: len(data) // 2]
                self._send(200, data, kind)
            else:  # cut: half the promised body arrives, then the connection closes
                self._send(200, data, kind, partial=len(data) // 2)
        else:
            answer = messages.broken(fault, body, self.script.message_id())
            if fault == "truncated":
                data, kind = _encoded(answer, stream=stream)
                if stream:  # whole events, up to the first content block's end
                    data = data[: data.index(b"event: content_block_stop")]
                else:
                    answer["stop_reason"] = None
                    data = json.dumps(answer).encode()
            else:  # "wrong_format" sends the other format
                data, kind = _encoded(answer, stream=stream != (fault == "wrong_format"))
            self._send(200, data, kind)

    def _reset(self) -> None:
        """Close the connection at once with a TCP reset (``SO_LINGER`` of zero)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass  # the client has gone already

    def _send_error(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        retry: bool = True,
        retry_after_s: float | None = None,
    ) -> None:
        payload = {"type": "error", "error": {"type": type_, "message": message}}
        extra = {} if retry else {"x-should-retry": "false"}
        wait = retry_after_s if retry_after_s is not None else self.script.retry_after_s
        if retry and wait is not None:
            extra["retry-after"] = f"{wait:g}"
            extra["retry-after-ms"] = f"{wait * 1000:g}"
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
        *,
        partial: int | None = None,
    ) -> None:
        """Send a response; ``partial`` writes only that many bytes of ``data`` (a cut body)."""
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_test_{uuid.uuid4().hex[:24]}")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        # One request per connection: stop() then never waits on an idle keep-alive socket.
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data if partial is None else data[:partial])


def _encoded(answer: dict[str, Any], *, stream: bool) -> tuple[bytes, str]:
    """``answer`` as a body and its content type: an event stream, or a JSON message."""
    if stream:
        return messages.sse(answer), "text/event-stream; charset=utf-8"
    return json.dumps(answer).encode(), "application/json"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
