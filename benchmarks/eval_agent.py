"""The agent ``eval_throughput.py`` evaluates: an order desk with two read-only lookups over a
table kept in this module (no ``deps``, no database of its own, long-term memory off), so a
trial's time is the agent loop's, the harness's and the scripted model's, nothing else.

Loaded by file reference: ``benchmarks/eval_agent.py:agent``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from agentlab import Agent, Risk, tool

ORDERS = {
    f"A{n:04d}": {
        "order_id": f"A{n:04d}",
        "status": ("shipped", "packed", "delivered", "cancelled")[n % 4],
        "items": [f"sku-{(n * 7 + i) % 50 + 1}" for i in range(n % 3 + 1)],
        "total": round(12.5 * (n % 9 + 1), 2),
    }
    for n in range(1, 1001)
}
"""1,000 orders, ``A0001`` to ``A1000``, the same on every import."""

OrderId = Annotated[str, Field(pattern=r"^A\d{4}$", description="an order id, e.g. A0042")]


@tool(risk=Risk.READ, idempotent=True)
def order_status(order_id: OrderId) -> dict[str, Any]:
    """The status of an order (shipped, packed, delivered, cancelled) and its total."""
    order = _order(order_id)
    return {"order_id": order_id, "status": order["status"], "total": order["total"]}


@tool(risk=Risk.READ, idempotent=True)
def order_items(order_id: OrderId) -> dict[str, Any]:
    """The items (SKUs) of an order."""
    return {"order_id": order_id, "items": _order(order_id)["items"]}


def _order(order_id: str) -> dict[str, Any]:
    if order_id not in ORDERS:
        raise ValueError(f"no order {order_id}: ids run from A0001 to A1000")
    return ORDERS[order_id]


agent = Agent(
    name="order-desk",
    purpose="Answer questions about customers' orders: their status, totals and items.",
    tools=[order_status, order_items],
    memory=False,
)
