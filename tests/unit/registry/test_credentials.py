"""Credentials only in ``auth``: headers and literal parameters that look like one are refused,
naming the field and the auth kind to use, and never quoting the value; stars are not a secret."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.errors import ConfigError
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.models.secret import looks_like_credential
from npo_integration.registry.config_input import read_config
from npo_integration.registry.validation import check_config
from npo_integration.validation_errors import describe_validation_error

VALUE = "S3CRET-value-4f1e2d3c"


def config(**overrides: Any) -> NpoIntegrationConfig:
    document: dict[str, Any] = {
        "npo_id": "code-academy",
        "display_name": "Code Academy",
        "base_url": "https://api.code-academy.example/v1",
        "auth": {"kind": "bearer", "token": "t0ken"},
        "streams": {"offerings": {"path": "/offerings"}},
        "transform": {"kind": "plugin", "name": "simple"},
        **overrides,
    }
    return read_config(document)


def refusal(parsed: NpoIntegrationConfig) -> str:
    with pytest.raises(ConfigError) as caught:
        check_config(parsed, allow_private=False)
    message = str(caught.value)
    assert VALUE not in message
    return message


def stream(**params: str) -> dict[str, Any]:
    return {"offerings": {"path": "/offerings", "params": params}}


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "Cookie",
        "X-Auth-Token",
        "X-API-Key",
        "api_key",
        "apiKey",
        "Ocp-Apim-Subscription-Key",
        "accesskey",
        "key",
        "wstoken",
        "client_secret",
        "password",
        "db_passwd",
        "X-Credentials",
    ],
)
def test_credential_looking_names(name: str) -> None:
    assert looks_like_credential(name)


@pytest.mark.parametrize(
    "name",
    [
        "Accept",
        "Sforce-Query-Options",
        "per_page",
        "wsfunction",
        "moodlewsrestformat",
        "keyword",
        "include[]",
        "criteria[0][key]",  # Moodle: the name of the field searched, not a credential
        "q",
    ],
)
def test_ordinary_names(name: str) -> None:
    assert not looks_like_credential(name)


@pytest.mark.parametrize(
    ("value", "advice"),
    [
        (f"Bearer {VALUE}", '{"kind": "bearer", "token": "..."}'),
        (f"Basic {VALUE}", '{"kind": "basic", "username": "...", "password": "..."}'),
        (f"Token {VALUE}", "bearer, basic or oauth2_client_credentials"),
    ],
)
def test_an_authorization_header_points_at_its_auth_kind(value: str, advice: str) -> None:
    message = refusal(config(headers={"Authorization": value}))
    assert message.startswith("headers.Authorization: looks like a credential")
    assert advice in message


def test_an_api_key_header_points_at_api_key_header_auth_with_its_name() -> None:
    message = refusal(config(headers={"Accept": "application/json", "X-Api-Key": VALUE}))
    assert message.startswith("headers.X-Api-Key: looks like a credential")
    assert '{"kind": "api_key_header", "header": "X-Api-Key", "key": "..."}' in message


def test_cookies_and_proxy_credentials_are_not_supported() -> None:
    assert "session cookies are not supported" in refusal(config(headers={"Cookie": VALUE}))
    assert "proxy credentials are not supported" in refusal(
        config(headers={"Proxy-Authorization": f"Basic {VALUE}"})
    )


def test_the_header_the_api_key_auth_sends_cannot_be_set_again() -> None:
    parsed = config(
        auth={"kind": "api_key_header", "header": "X-Tenant", "key": "k"},
        headers={"x-tenant": VALUE},
    )
    assert (
        refusal(parsed)
        == "headers.x-tenant: auth (api_key_header) sends this header; remove it here"
    )


def test_a_literal_stream_param_points_at_api_key_query_auth() -> None:
    message = refusal(config(streams=stream(wsfunction="core_course_get_courses", wstoken=VALUE)))
    assert message.startswith("streams.offerings.params.wstoken: looks like a credential")
    assert '{"kind": "api_key_query", "param": "wstoken", "key": "..."}' in message


def test_the_param_the_api_key_auth_sends_cannot_be_set_again() -> None:
    parsed = config(
        auth={"kind": "api_key_query", "param": "code", "key": "k"}, streams=stream(code=VALUE)
    )
    assert "auth (api_key_query) sends this parameter" in refusal(parsed)


def test_a_literal_lookup_param_is_checked_too() -> None:
    lookup = {"path": "/enrolments", "params": {"api_key": VALUE, "u": "{candidate.email}"}}
    parsed = config(enrolment={"lookup": lookup})
    assert refusal(parsed).startswith("enrolment.lookup.params.api_key: looks like a credential")


def test_templates_ordinary_names_and_empty_values_are_accepted() -> None:
    parsed = config(
        headers={"Accept": "application/json", "X-Api-Key": "", "Sforce-Query-Options": "x=1"},
        streams={
            "offerings": {
                "path": "/offerings",
                "params": {"page_token": "{cursor}", "per_page": "50", "criteria[0][key]": "id"},
                "incremental": {"cursor_field": "updated"},
            }
        },
        enrolment={"lookup": {"path": "/e", "params": {"key": "{candidate.email}"}}},
    )
    check_config(parsed, allow_private=False)


@pytest.mark.parametrize("stars", ["***", "**********"])
def test_the_redacted_placeholder_is_refused_as_a_secret(stars: str) -> None:
    for auth in (
        {"kind": "bearer", "token": stars},
        {"kind": "basic", "username": "u", "password": stars},
        {
            "kind": "oauth2_client_credentials",
            "token_url": "/t",
            "client_id": "c",
            "client_secret": stars,
        },
    ):
        with pytest.raises(ValidationError) as caught:
            config(auth=auth)
        message = describe_validation_error(caught.value)
        assert "is the placeholder a redacted view shows, not a secret" in message
        assert "send the real secret" in message


def test_a_config_read_back_redacted_cannot_be_stored_again() -> None:
    shown = config().model_dump(mode="json", context={"redact": True})
    with pytest.raises(ValidationError, match="placeholder"):
        read_config(shown)
