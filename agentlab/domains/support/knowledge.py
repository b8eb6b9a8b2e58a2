"""The support agent's knowledge: the help centre of the product it serves (Brightlane)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def help_centre_path() -> Path:
    """The folder of help-centre articles (Markdown, HTML, text) the support agent ships."""
    return Path(str(files("agentlab.domains.support") / "help_centre"))


def kb_script_path() -> Path:
    """The script of a turn answered from the help centre: the planner searches the knowledge
    base, the responder answers citing the article."""
    return Path(str(files("agentlab.domains.support") / "kb_script.yaml"))
