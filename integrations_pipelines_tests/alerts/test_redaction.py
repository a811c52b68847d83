"""Secrets never reach an alert: every known token shape and every registered value."""

from __future__ import annotations

import pytest

from integrations_pipelines.alerts.messages import REDACTED, redact
from integrations_pipelines.alerts.redaction import Redactor


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("401 with Authorization: Bearer eyJhbGciOi.J9xyz-_abc", "eyJhbGciOi.J9xyz-_abc"),
        ("headers={'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("sent bearer abc123def456ghi", "abc123def456ghi"),
        ("X-Shopify-Access-Token shpat_0123456789abcdef rejected", "shpat_0123456789abcdef"),
        ("signing secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2"),
        ("slack token xoxb-1234-5678-abcdefABCDEF leaked", "xoxb-1234-5678-abcdefABCDEF"),
        ("user token xoxp-99-88-77-zz", "xoxp-99-88-77-zz"),
        ("body: grant_type=refresh_token&refresh_token=AB11-rt-XYZ&x=1", "AB11-rt-XYZ"),
        ("client_secret=s3cr3t-value;", "s3cr3t-value"),
        ('{"access_token": "at-VALUE-42", "expires_in": 3600}', "at-VALUE-42"),
        ("{'refresh_token': 'rt with spaces'}", "rt with spaces"),
        ("GET /v1?access_token=qwerty12345 failed", "qwerty12345"),
        ("connect postgresql://app:pa55word@db:5432/store failed", "pa55word"),
        ("POST https://hooks.slack.com/services/T0001/B0002/XXXXsecretYYYY", "XXXXsecretYYYY"),
    ],
)
def test_known_secret_shapes_are_removed(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_registered_values_are_removed_even_url_encoded() -> None:
    redactor = Redactor(["my/odd+secret=="])
    redactor.register("another-secret-value", None, "abc")  # None and too-short are ignored
    text = ("token my/odd+secret== then my%2Fodd%2Bsecret%3D%3D then another-secret-value "
            "and abc stays")
    assert redactor(text) == (f"token {REDACTED} then {REDACTED} then {REDACTED} and abc stays")


def test_secrets_from_the_environment_by_name() -> None:
    redactor = Redactor.from_environment({
        "QBO_CLIENT_SECRET": "client-secret-from-env", "SHOPIFY_ACCESS_TOKEN": "plain-token-1",
        "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook/secret", "QBO_REALM_ID": "4620816365",
    })
    text = "client-secret-from-env plain-token-1 http://127.0.0.1:9/hook/secret realm 4620816365"
    assert redactor(text) == f"{REDACTED} {REDACTED} {REDACTED} realm 4620816365"


def test_ordinary_text_is_untouched() -> None:
    text = ("Order #1001 (O'Brien, 🎉) failed: DocNumber too long; tokens refreshed 3 times; "
            "see http://127.0.0.1:3000/runs/abc")
    assert redact(text) == text


def test_nested_values_are_redacted() -> None:
    redactor = Redactor(["nested-secret-1"])
    value = {"headers": {"authorization": "Bearer zzz999"}, "list": ["ok", "nested-secret-1"],
             "count": 3}
    assert redactor.redact_value(value) == {
        "headers": {"authorization": REDACTED}, "list": ["ok", REDACTED], "count": 3,
    }
