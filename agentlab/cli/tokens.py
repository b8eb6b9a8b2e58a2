"""``agentlab tokens``: the bearer tokens callers of served agents authenticate with."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from agentlab.cli import common

tokens_app = typer.Typer(
    help="Bearer tokens for served agents (mcp serve --http, a LangGraph server): each acts "
    "as one principal; kept hashed in the data directory.",
    no_args_is_help=True,
)


@tokens_app.command("create")
def create(
    ctx: typer.Context,
    principal: Annotated[
        str, typer.Option(metavar="NAME", help="Who the token's requests act for.")
    ],
    name: Annotated[str, typer.Option(metavar="TEXT", help="What the token is for.")] = "",
) -> None:
    """Create a token acting as NAME. It is printed once: only its hash is kept."""
    from agentlab.safe_text import visible
    from agentlab.store.tokens import TokenStore

    settings = common.settings(ctx)
    info, token = TokenStore(settings.data_dir).create(principal, name)
    print(
        f"token {info.token_id} acts as {visible(info.principal)}; give it to the caller (it is "
        "not shown again), as the header 'Authorization: Bearer <token>':",
        file=sys.stderr,
    )
    print(token)


@tokens_app.command("list")
def list_tokens(ctx: typer.Context) -> None:
    """List the tokens (never their secrets): id, principal, what for, created, revoked."""
    from rich.table import Table

    from agentlab.safe_text import rich_text
    from agentlab.store.tokens import TokenStore

    settings = common.settings(ctx)
    found = TokenStore(settings.data_dir).list()
    if not found:
        print("no tokens yet: create one with 'agentlab tokens create --principal NAME'")
        return
    table = Table(title="Tokens", title_justify="left")
    for col in ("id", "principal", "for", "created (UTC)", "revoked (UTC)"):
        table.add_column(col, no_wrap=col == "id")
    for t in found:
        table.add_row(
            rich_text(t.token_id),
            rich_text(t.principal),
            rich_text(t.name),
            rich_text(t.created_at),
            rich_text(t.revoked_at or "", "red"),
        )
    common.console().print(table)


@tokens_app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="ID", help="A token id from 'tokens list'.")],
) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    from agentlab.safe_text import visible
    from agentlab.store.tokens import TokenStore

    info = TokenStore(common.settings(ctx).data_dir).revoke(token_id)
    print(visible(f"token {info.token_id} ({info.principal}) is revoked"))
