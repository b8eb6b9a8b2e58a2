"""What leaves the process is redacted: the ``Redactor`` the settings call for, and agentlab's log
lines written through it.

Spans are redacted by the exporter (``tracing.py``); log lines by a filter on the handler that
writes them to stderr. Both mask the same things: emails, phone numbers, card numbers, API keys
and tokens, the patterns configured in ``redaction_patterns`` and the settings' own secrets (the
Anthropic key, the database URL). The model is still sent the real text: only copies leaving the
process are masked.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentlab.config import Settings
    from agentlab.observability.redact import Redactor

LOGGER = "agentlab"


def redactor_for(settings: Settings) -> Redactor:
    """The redactor of ``settings``: the built-in patterns, the configured ones, and the
    settings' secrets as literal values (a bad pattern is a ``ConfigError`` naming it)."""
    from agentlab.observability.redact import Redactor

    secrets = [s for s in (settings.anthropic_api_key, settings.database_url) if s is not None]
    return Redactor(patterns=tuple(settings.redaction_patterns), secrets=secrets)


def log_redacted(settings: Settings, *, level: int = logging.WARNING) -> logging.Handler:
    """Write agentlab's log lines at ``level`` and above to stderr, redacted; returns the handler.

    Called once by the CLI (again, it replaces its own handler rather than adding a second one).
    """
    from agentlab.observability.redact import RedactingLogFilter

    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if getattr(h, "_agentlab", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(_VisibleFormatter("%(message)s"))
    handler.addFilter(RedactingLogFilter(redactor_for(settings)))
    handler._agentlab = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return handler


class _VisibleFormatter(logging.Formatter):
    """Log lines as a terminal may show them: escape sequences and other control characters in
    a message (a tool's or a server's error text) made visible (``safe_text``)."""

    def format(self, record: logging.LogRecord) -> str:
        from agentlab.safe_text import visible

        return visible(super().format(record))
