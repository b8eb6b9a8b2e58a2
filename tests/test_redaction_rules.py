"""The built-in redaction rules for AWS keys, payment card numbers (Luhn-checked, so other long
numbers stay), vendor tokens and credentials in URLs and connection strings. Secrets are built from
pieces so no scanner mistakes this file for a leak."""

from __future__ import annotations

import json

import pytest

from agentlab.observability.redact import Redactor

AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [secret]"),
        (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', '{"SecretAccessKey": "[secret]"}'),
        (f"AWS secret key: {AWS_SECRET}", "AWS secret key: [secret]"),
        (f"the aws key is {AWS_SECRET}.", "the aws key is [secret]."),
        (f"export AWS_SECRET={AWS_SECRET}", "export AWS_SECRET=[secret]"),
        # A row of the credentials CSV the AWS console hands out: the id says what follows.
        (f"{AWS_KEY_ID},{AWS_SECRET}", "[secret],[secret]"),
    ],
)
def test_aws_secret_access_keys_are_masked(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "secret rotated in commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",  # a hex digest
        "aws docs: AWSDOCUMENTATIONFORALLSERVICESGUIDEBOOKS",  # one case only
        f"no keyword anywhere near {AWS_SECRET}",
    ],
)
def test_forty_character_strings_without_an_aws_context_stay(text: str) -> None:
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111, exp 12/29", "card [card], exp 12/29"),
        ("4111-1111-1111-1111", "[card]"),
        ("paid with 5555555555554444.", "paid with [card]."),
        ("amex 3782 822463 10005", "amex [card]"),
        ("discover 6011111111111117 on file", "discover [card] on file"),
        ('{"pan": "4012888888881881", "qty": 2}', '{"pan": "[card]", "qty": 2}'),
        ("ref 12 4111 1111 1111 1111 2024", "ref 12 [card] 2024"),  # the numbers around stay
        ("visa 4242424242424242 and mc 5105105105105100", "visa [card] and mc [card]"),
    ],
)
def test_card_numbers_that_pass_the_luhn_check_are_masked(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # one digit off: fails the Luhn check
        "order 4111111111111112 shipped",
        "tracking 4000 1234 5678 9011",
        "9123456789012348",  # passes the check, but no card network starts with 9
        "epoch ns 1705312200000123456",
        "id 41111111111111111111111",  # longer than any card number
        "ISBN 978-3-16-148410-0",
        "2024-01-15 10:30:00 4111",
    ],
)
def test_long_numbers_that_are_not_card_numbers_stay(text: str) -> None:
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://app:" + "s3cr3t-pw" + "@db.internal:5432/orders",
            "postgresql://app:[secret]@db.internal:5432/orders",
        ),
        ("redis://:" + "hunter2" + "@cache:6379/0", "redis://:[secret]@cache:6379/0"),
        ("Server=db;Uid=app;Pwd=" + "Tr0ub4dor;", "Server=db;Uid=app;Pwd=[secret];"),
        (
            "AccountName=acme;AccountKey=" + "bXlrZXk+dmFsdWU=" + ";EndpointSuffix=core",
            "AccountName=acme;AccountKey=[secret];EndpointSuffix=core",
        ),
        (
            "https://hooks.slack.com/services/" + "T0000AAAA/B0000BBBB/abcdefghijklmnopqrstuvwx",
            "https://hooks.slack.com/services/[secret]",
        ),
        ("xapp-" + "1-A0123ABCD-4567890123-abcdef0123", "[secret]"),
        ("glpat-" + "aB3dE5gH7jK9mN1pQ3sT", "[secret]"),
        ("npm_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9aB3dE5gH7", "[secret]"),
        ("hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH", "[secret]"),
        ("pypi-" + "AgEIcHlwaS5vcmc" + "CJDk3ZjQ1" * 6, "[secret]"),
        ("SG." + "aB3dE5gH7jK9mN1pQ3sT5v" + "." + "x" * 43, "[secret]"),
        ("ya29." + "a0AfH6SMBx3" * 3, "[secret]"),
    ],
)
def test_other_common_secret_formats_are_masked(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


def test_values_of_keys_named_pwd_or_account_key_are_masked_whole() -> None:
    document = {"db_pwd": "x y z", "AccountKey": "abc", "account": "acme"}

    assert Redactor().redact_value(json.dumps(document)) == json.dumps(
        {"db_pwd": "[secret]", "AccountKey": "[secret]", "account": "acme"}
    )


def test_a_url_without_a_password_stays() -> None:
    text = "see https://example.com:8443/a@b and http://user@host/path"

    assert Redactor().redact_text(text) == text
