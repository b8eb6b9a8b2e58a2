"""Synthetic support texts for ``memory.py``: clauses a customer's interactions are made of,
and the runs of a long conversation with one customer. Deterministic for a given seed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

SUBJECTS = (
    "the customer",
    "Dana",
    "the billing admin",
    "our agent",
    "the user",
    "the account owner",
    "support",
    "the reseller",
)
ACTIONS = (
    "asked for a refund on",
    "reported a problem with",
    "cancelled",
    "upgraded",
    "disputed the charge for",
    "could not log in to",
    "changed the address on",
    "was sent a replacement for",
    "renewed",
    "asked about the status of",
    "complained about the delay of",
    "requested an invoice for",
)
OBJECTS = (
    "order {n}",
    "the Pro plan",
    "invoice {n}",
    "the annual subscription",
    "the mobile app",
    "the API key",
    "the shipment to {city}",
    "the team workspace",
    "the storage add-on",
    "warranty claim {n}",
)
CITIES = ("Lyon", "Oslo", "Austin", "Lagos", "Osaka", "Porto", "Quito", "Perth")
FILLER = (
    "please could you check this again for me today because I need it sorted before the end of "
    "the week and last time nobody answered my message so I am writing once more with the "
    "details you asked for including the reference number and the date it happened"
)
NOTES = (
    "account in good standing payment received on the first of the month two open tickets "
    "last contact by email preferred language English plan renewed automatically shipping "
    "address verified no refunds issued in the last ninety days priority normal region EU"
)


def clauses(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct clauses (at most 960): who did what to what."""
    combos = list(itertools.product(SUBJECTS, ACTIONS, OBJECTS))
    picked = rng.permutation(len(combos))[:count]
    return [
        f"{combos[k][0]} {combos[k][1]} "
        + combos[k][2].format(n=1000 + 37 * j, city=CITIES[j % len(CITIES)])
        for j, k in enumerate(picked)
    ]


def _words(text: str, count: int, rng: np.random.Generator) -> str:
    """``count`` words of ``text``, from a random word on, wrapping around."""
    pool = text.split()
    start = int(rng.integers(len(pool)))
    return " ".join(pool[(start + i) % len(pool)] for i in range(count))


def session_runs(
    turns: int, topics: Sequence[str], rng: np.random.Generator
) -> list[tuple[dict[str, Any], str]]:
    """``turns`` turns of a session with one customer, each as its run ends: the run's state
    (its message, about one of ``topics``, about 25 words; one ``search_customers`` call and
    its result, about 60 words) and its reply (about 30 words); lengths vary by up to 40%."""
    runs = []
    for n in range(1, turns + 1):
        topic = topics[int(rng.integers(len(topics)))]
        said = f"{topic[0].upper()}{topic[1:]}. " + _words(FILLER, int(rng.integers(10, 26)), rng)
        found = {
            "customers": [
                {
                    "id": f"c-{1000 + n}",
                    "name": "Dana Ruiz",
                    "notes": _words(NOTES, int(rng.integers(30, 62)), rng),
                }
            ]
        }
        call = {
            "step_id": "1.1",
            "tool": "search_customers",
            "arguments": {"query": topic.split(" ", 2)[-1][:40]},
            "outcome": {"ok": True, "output": found},
        }
        state = {"task": said, "status": "completed", "results": [call], "first_round": 0}
        runs.append((state, f"About {topic}: " + _words(FILLER, int(rng.integers(14, 34)), rng)))
    return runs
