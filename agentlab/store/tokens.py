"""Bearer tokens for served surfaces, kept hashed in the data directory (``tokens.sqlite``).

A token is ``agentlab_<id>_<secret>``: ``id`` names it (``agentlab tokens revoke ID``), the secret
is 32 random bytes. Only its SHA-256 is stored (a random secret of that length needs no slow
hash), so a copy of the file lets nobody in; the token itself is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agentlab.errors import AgentlabError
from agentlab.store.private import private_dir, private_file

FILE_NAME = "tokens.sqlite"
_TOKEN = re.compile(r"agentlab_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_SCHEMA = """CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"""


class TokenError(AgentlabError):
    """A token that does not exist, or a principal a token cannot be made for."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never its secret."""

    token_id: str
    principal: str
    name: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The tokens of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        private_dir(self.path.parent)
        private_file(self.path)
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.execute(_SCHEMA)
            yield db

    def create(self, principal: str, name: str = "") -> tuple[TokenInfo, str]:
        """A new token acting as ``principal``: its record and the token (shown once)."""
        principal = principal.strip()
        if not principal or any(not ch.isprintable() for ch in principal):
            raise TokenError("give the principal the token acts as: a name, e.g. support-bot")
        token_id = secrets.token_hex(6)
        token = f"agentlab_{token_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        with self._db() as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                (token_id, principal, name, _digest(token), now),
            )
        return TokenInfo(token_id, principal, name, now, None), token

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke the token ``token_id`` (at once: the next request with it is refused)."""
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        with self._db() as db:
            db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (now, token_id),
            )
        found = [t for t in self.list() if t.token_id == token_id]
        if not found:
            raise TokenError(f"no token {token_id!r}: 'agentlab tokens list' shows their ids")
        return found[0]

    def list(self) -> list[TokenInfo]:
        """Every token, revoked ones too, oldest first."""
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute(
                "SELECT token_id, principal, name, created_at, revoked_at FROM tokens "
                "ORDER BY created_at, token_id"
            ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def principal_of(self, token: str) -> str | None:
        """The principal ``token`` acts as, or ``None`` (unknown, malformed or revoked)."""
        found = _TOKEN.fullmatch(token.strip())
        if found is None or not self.path.exists():
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT principal, sha256 FROM tokens WHERE token_id = ? AND revoked_at IS NULL",
                (found.group(1),),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[1], _digest(token.strip())):
            return None
        return str(row[0])
