"""Which requests ``AnthropicTestServer`` fails on purpose, and how: the failures the real API
shows under load (429, 529, 5xx, 408), connections reset or left hanging, malformed bodies and
streams cut off mid-way, and the broken answers of gateways and chaos proxies (a tool-use input
that is not an object, a block of no known type, a stream that stops early, the wrong format, an
answer that ignores ``tool_choice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

FaultKind = Literal[
    "rate_limit",  # 429 rate_limit_error with retry-after
    "overloaded",  # 529 overloaded_error
    "server_error",  # 500 api_error
    "unavailable",  # 503 api_error
    "request_timeout",  # 408 request_timeout
    "reset",  # the connection is reset before any response
    "hang",  # no response until ``Faults.hang_s`` passes (or the server stops), then a reset
    "malformed",  # 200 whose body (or, streaming, one event) is not valid JSON
    "cut",  # 200 whose body or event stream stops half-way: the connection closes early
    "bad_tool_input",  # 200 whose tool-use block's input is the string "INVALID"
    "unknown_block",  # 200 with a content block of a type the API does not have
    "truncated",  # 200 whose event stream ends, whole, before the message's end (unstreamed:
    # a message without its stop_reason)
    "wrong_format",  # a streamed request answered with a JSON message, an unstreamed one with
    # an event stream
    "no_forced_tool",  # a well-formed text answer that ignores the request's tool_choice
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# The faults a provider can tell from the answer itself: all but ``no_forced_tool``, an answer
# only the agent that forced a tool can judge.
PROVIDER_FAULTS: tuple[FaultKind, ...] = tuple(k for k in FAULT_KINDS if k != "no_forced_tool")

# The HTTP status and error type of each fault answered with an error response.
FAULT_STATUS: Mapping[str, tuple[int, str]] = {
    "rate_limit": (429, "rate_limit_error"),
    "overloaded": (529, "overloaded_error"),
    "server_error": (500, "api_error"),
    "unavailable": (503, "api_error"),
    "request_timeout": (408, "request_timeout"),
}


@dataclass(frozen=True)
class Faults:
    """Which valid requests the server fails on purpose, and how.

    Request ``i`` (its index in ``AnthropicTestServer.requests``) fails with ``at[i]`` when given;
    otherwise, with probability ``rate``, with a kind drawn from ``kinds`` by a generator seeded
    with ``seed`` (so a sequential client sees the same faults on every run). Like every fault, a
    ``no_forced_tool`` answer consumes no scripted turn. A 429 carries
    ``retry-after``/``retry-after-ms`` of ``retry_after_s``, as the real API's do.
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = FAULT_KINDS
    seed: int = 0
    at: Mapping[int, FaultKind] = field(default_factory=dict)
    retry_after_s: float = 0.01
    hang_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Faults.rate must be between 0 and 1, not {self.rate}")
        unknown = sorted({*self.kinds, *self.at.values()} - set(FAULT_KINDS))
        if unknown or (self.rate and not self.kinds):
            raise ValueError(f"Faults: unknown or missing kinds {unknown}; use {FAULT_KINDS}")
