"""The NPO config model: what it accepts, and the errors it gives for what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from npo_integration.registry.config_input import read_config


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "npo_id": "code-academy",
        "display_name": "Code Academy",
        "base_url": "https://api.code-academy.example/v1",
        "auth": {"kind": "bearer", "token": "t0ken"},
        "streams": {"offerings": {"path": "/offerings", "pagination": {"style": "page_number"}}},
        "transform": {"kind": "plugin", "name": "simple"},
    }
    base.update(overrides)
    return base


def errors_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        read_config(document)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_a_complete_config_validates_with_defaults_filled_in() -> None:
    parsed = read_config(config())
    assert parsed.active is True
    found = parsed.stream("offerings")
    assert found is not None
    assert found[1].schedule_seconds == 300
    assert parsed.sources[0].rate_limit.requests_per_second > 0


@pytest.mark.parametrize(
    ("auth", "kind"),
    [
        ({"kind": "none"}, "none"),
        ({"kind": "bearer", "token": "x"}, "bearer"),
        ({"kind": "api_key_header", "header": "X-Key", "key": "x"}, "api_key_header"),
        ({"kind": "api_key_query", "key": "x"}, "api_key_query"),
        ({"kind": "basic", "username": "u", "password": "p"}, "basic"),
        (
            {
                "kind": "oauth2_client_credentials",
                "token_url": "/oauth/token",
                "client_id": "c",
                "client_secret": "s",
            },
            "oauth2_client_credentials",
        ),
    ],
)
def test_every_auth_kind_is_accepted(auth: dict[str, Any], kind: str) -> None:
    assert read_config(config(auth=auth)).sources[0].auth.kind == kind


def test_an_unknown_auth_kind_names_the_field_and_the_choices() -> None:
    [(path, message)] = errors_of(config(auth={"kind": "kerberos"}))
    assert path == "auth"
    assert "kerberos" in message and "bearer" in message


def test_missing_required_fields_are_each_named() -> None:
    document = config()
    del document["base_url"]
    del document["transform"]
    assert {path for path, _ in errors_of(document)} == {"base_url", "transform"}


@pytest.mark.parametrize(
    "url", ["ftp://example.org", "example.org/api", "http://", "https://user:pw@example.org"]
)
def test_a_bad_base_url_is_refused_with_the_reason(url: str) -> None:
    [(path, message)] = errors_of(config(base_url=url))
    assert path == "base_url"
    assert message


def test_a_typo_in_a_key_is_an_error_not_ignored() -> None:
    document = config(streams={"offerings": {"path": "/o", "pagnation": {"style": "offset"}}})
    [(path, message)] = errors_of(document)
    assert path == "streams.offerings.pagnation"
    assert "Extra inputs" in message


def test_an_unknown_pagination_style_is_refused() -> None:
    [(path, _)] = errors_of(
        config(streams={"offerings": {"path": "/o", "pagination": {"style": "scroll"}}})
    )
    assert path == "streams.offerings.pagination"


def test_a_bad_npo_id_is_refused() -> None:
    [(path, _)] = errors_of(config(npo_id="Has Spaces"))
    assert path == "npo_id"


def test_a_clear_secret_cannot_be_serialised_but_can_be_shown_redacted() -> None:
    parsed = read_config(config())
    with pytest.raises(PydanticSerializationError, match="seal the config first") as caught:
        parsed.model_dump_json()
    assert "t0ken" not in str(caught.value)
    shown = parsed.model_dump_json(context={"redact": True})
    assert "t0ken" not in shown and '"token":"***"' in shown
    assert "t0ken" not in repr(parsed)
