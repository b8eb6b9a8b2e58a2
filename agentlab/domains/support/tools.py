"""The support agent's tools. Their docstrings are the descriptions the model reads.

They reach the customer database through ``ctx.deps``, which the agent's ``deps`` factory opens.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any, Literal

from pydantic import Field

from agentlab.domains.support.db import SupportDatabase
from agentlab.tools import FunctionToolset, Risk, ToolContext, ToolError, tool

Channel = Literal["email", "sms", "push"]
CustomerId = Annotated[int, Field(ge=1, description="The customer's numeric id.")]


def _db(ctx: ToolContext) -> SupportDatabase:
    if not isinstance(ctx.deps, SupportDatabase):
        raise ToolError("the support tools need the support database as their deps")
    return ctx.deps


@tool
def search_customers(
    ctx: ToolContext,
    email: Annotated[
        str | None,
        Field(
            min_length=3,
            max_length=254,
            pattern=r"^\S+$",
            description="All or part of an email address (case-insensitive).",
        ),
    ] = None,
    customer_id: Annotated[int | None, Field(ge=1, description="An exact customer id.")] = None,
    limit: Annotated[int, Field(ge=1, le=50, description="Most customers to return.")] = 10,
) -> dict[str, Any]:
    """Find customers by email address or id. Give `email` (whole or partial) or
    `customer_id`; returns matching customers with their id, name, email, phone and plan.
    Use it before acting on a customer, to learn their id."""
    if email is None and customer_id is None:
        raise ToolError("give an email or a customer_id to search by")
    clauses: list[str] = []
    params: list[object] = []
    if email is not None:
        literal = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("email LIKE ? ESCAPE '\\'")
        params.append(f"%{literal}%")
    if customer_id is not None:
        clauses.append("id = ?")
        params.append(customer_id)
    rows = _db(ctx).query(
        "SELECT id, name, email, phone, plan FROM customers WHERE "
        + " AND ".join(clauses)
        + " ORDER BY id LIMIT ?",
        (*params, limit),
    )
    return {"count": len(rows), "customers": rows}


@tool(risk=Risk.WRITE, requires_confirmation=True, cost_usd=0.01)
def send_notification(
    ctx: ToolContext,
    user_id: CustomerId,
    message: Annotated[
        str,
        Field(
            min_length=1,
            max_length=500,
            description="The text to send, at most 500 characters.",
        ),
    ],
    channel: Annotated[Channel, Field(description="How to reach the customer.")] = "email",
) -> dict[str, Any]:
    """Send a message to a customer by email, sms or push. It reaches a real person, so a
    human confirms each call before it is sent. Look the customer's id up first."""

    def send(conn: sqlite3.Connection) -> dict[str, Any]:
        row = conn.execute("SELECT email, phone FROM customers WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise ToolError(f"no customer with id {user_id}")
        cur = conn.execute(
            "INSERT INTO notifications (customer_id, channel, message) VALUES (?, ?, ?)",
            (user_id, channel, message),
        )
        to = row["email"] if channel == "email" else row["phone"]
        return {
            "notification_id": cur.lastrowid,
            "customer_id": user_id,
            "channel": channel,
            "to": to,
        }

    return _db(ctx).write(send)


@tool(risk=Risk.DESTRUCTIVE)
def delete_customer(ctx: ToolContext, customer_id: CustomerId) -> dict[str, Any]:
    """Delete a customer's record permanently. This cannot be undone; a human approves each
    call. Only use it when the task asks to delete or close the customer's account."""

    def delete(conn: sqlite3.Connection) -> dict[str, Any]:
        row = conn.execute("SELECT name FROM customers WHERE id = ?", (customer_id,)).fetchone()
        if row is None:
            raise ToolError(f"no customer with id {customer_id}")
        conn.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        return {"deleted_customer_id": customer_id, "name": row["name"]}

    return _db(ctx).write(delete)


support_tools = FunctionToolset([search_customers, send_notification, delete_customer])
"""``search_customers``, ``send_notification`` and ``delete_customer``."""
