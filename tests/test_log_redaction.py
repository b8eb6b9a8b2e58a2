"""Log lines leave the process redacted, like spans: the CLI writes agentlab's warnings to stderr
through the settings' redactor (its patterns and its secrets)."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from agentlab.config import Settings
from agentlab.errors import ConfigError
from agentlab.observability.logs import log_redacted, redactor_for


@pytest.fixture
def handler(tmp_path, capsys):
    settings = Settings(
        data_dir=tmp_path,
        anthropic_api_key=SecretStr("canary-key-7f3a9c"),
        redaction_patterns=[r"ticket-\d+"],
    )
    installed = log_redacted(settings)
    yield installed
    logging.getLogger("agentlab").removeHandler(installed)


def test_a_warning_with_an_email_a_secret_and_a_configured_pattern_is_masked(handler, capsys):
    logging.getLogger("agentlab.models.retry").warning(
        "retrying for %s with key %s about ticket-4411", "ada@example.com", "canary-key-7f3a9c"
    )
    err = capsys.readouterr().err
    assert "ada@example.com" not in err and "canary-key-7f3a9c" not in err
    assert "ticket-4411" not in err
    assert "[email]" in err and "retrying for" in err


def test_installing_again_replaces_the_handler_rather_than_doubling_lines(
    handler, tmp_path, capsys
):
    again = log_redacted(Settings(data_dir=tmp_path))
    try:
        logging.getLogger("agentlab").warning("once")
        assert capsys.readouterr().err.count("once") == 1
    finally:
        logging.getLogger("agentlab").removeHandler(again)


def test_a_bad_configured_pattern_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"ticket-\(\\d\+"):
        redactor_for(Settings(data_dir=tmp_path, redaction_patterns=[r"ticket-(\d+"]))
