"""The parsers of outside input, fuzzed: each either works or raises its own declared error.

Outside input here is what an NPO answers (records, bodies, Link headers), what an operator or the
platform sends as a config, and the paths and templates inside a config. "Its own error" is what
the caller turns into a dead letter, a 4xx or a failed pull; anything else (a ``TypeError``, a
``RecursionError``, a yarl ``ValueError``) would be an unhandled exception in an agent.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from npo_integration.errors import ConfigError, NpoIntegrationError
from npo_integration.expressions import (
    EscapeError,
    PathError,
    PathSyntaxError,
    TemplateSyntaxError,
    parse_path,
    parse_template,
    url_path_segment,
)
from npo_integration.http.links import parse_link_header
from npo_integration.http.response import NpoResponse
from npo_integration.pull.pagination import build_paginator
from npo_integration.pull.records import extract_records, max_cursor, record_id
from npo_integration.registry.config_input import read_config
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.declarative.mapper import DeclarativePlugin
from npo_integration.transforms.declarative.spec import DeclarativeMapping
from tests.unit.fuzz.strategies import TRICKY, json_values, replace_at, texts

BASE = "https://npo.example/api/v1/items?page=1"

# --- the declarative mapper: random records against a fixed mapping ---------------------------

MAPPING = DeclarativeMapping.model_validate(
    {
        "offering": {
            "filter": [{"path": "status", "in": ["open", "published", 1]}],
            "fields": {
                "npo_offering_ref": "id",
                "title": "name",
                "description": {"path": "details.summary", "default": ""},
                "kind": {
                    "path": "type",
                    "map": {"c": "course", "m": "mentoring"},
                    "fallback": "course",
                },
                "starts_at": {"path": "dates[0].start", "default": None},
                "capacity": {"path": "seats", "default": None},
                "url": "links.self",
            },
        },
        "progress": {
            "fields": {
                "npo_enrolment_ref": "enrolment.id",
                "status": {
                    "path": "state",
                    "map": {"active": "in_progress", "done": "completed"},
                    "fallback": "enrolled",
                },
                "progress": {"path": "grade.percent", "default": None},
                "score": {"path": "grade.score", "default": None},
                "updated_at": {"path": "updated", "default": None},
            }
        },
    }
)
PLUGIN = DeclarativePlugin(MAPPING)
record_like = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"id": json_values, "name": json_values},
        optional={
            "status": st.sampled_from(["open", "published", 1, "closed", None]),
            "details": json_values,
            "type": json_values,
            "dates": json_values,
            "seats": json_values,
            "links": st.fixed_dictionaries({"self": json_values}),
            "enrolment": st.fixed_dictionaries({"id": json_values}),
            "state": json_values,
            "grade": st.fixed_dictionaries({"percent": json_values}),
        },
    ),
)


@given(record_like)
def test_the_mapper_maps_or_refuses_any_record(record: Any) -> None:
    for method in (PLUGIN.offering, PLUGIN.progress):
        with contextlib.suppress(TransformError):
            method(record)


# --- pagination and Link headers ---------------------------------------------------------------

link_values = st.lists(
    st.one_of(
        texts,
        st.builds(
            lambda url, rel, rest: f"<{url}>; rel={rel}{rest}",
            st.one_of(
                texts,
                st.sampled_from(["/a?page=2", "https://npo.example/b", "//x/", "http://[::1"]),
            ),
            st.one_of(texts, st.sampled_from(['"next"', "next", '"next last"', "NEXT"])),
            texts,
        ),
    ),
    max_size=3,
)


@given(link_values)
def test_link_headers_parse_to_absolute_links_or_nothing(values: list[str]) -> None:
    links = parse_link_header(values, BASE)
    assert all(isinstance(url, str) for url in links.values())


PAGINATIONS = [
    {"style": "none"},
    {"style": "page_number"},
    {"style": "offset", "limit": 2},
    {"style": "body_cursor", "cursor_path": "meta.next"},
    {"style": "next_url", "next_url_path": "links.next"},
    {"style": "link_header"},
]
PAGINATION_CONFIGS = [
    read_config(
        {
            "npo_id": "fuzz",
            "display_name": "F",
            "base_url": "https://npo.example",
            "streams": {"offerings": {"path": "/o", "pagination": p}},
            "transform": {"kind": "plugin", "name": "simple"},
        }
    ).all_streams()[0][2]
    for p in PAGINATIONS
]


def answer(body: Any, links: list[str], raw: bytes | None) -> NpoResponse:
    import json

    data = raw if raw is not None else json.dumps(body).encode()
    return NpoResponse.build(
        status=200,
        url=BASE,
        headers={"Content-Type": "application/json"},
        raw=data,
        charset="utf-8",
        links=parse_link_header(links, BASE),
    )


@pytest.mark.parametrize("stream", PAGINATION_CONFIGS, ids=[p["style"] for p in PAGINATIONS])
@given(
    pages=st.lists(
        st.tuples(
            json_values,
            link_values,
            st.one_of(st.none(), st.binary(max_size=30)),
            st.lists(json_values, max_size=3),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_pagination_follows_or_stops_with_its_own_error(stream: Any, pages: list[Any]) -> None:
    paginator = build_paginator(stream.pagination, max_pages=50)
    request = paginator.first()
    try:
        for body, links, raw, records in pages:
            request = paginator.advance(answer(body, links, raw), records)
            if request is None:
                break
            assert request.url is None or request.url.startswith(("http://", "https://"))
    except NpoIntegrationError:
        pass


@given(body=json_values, path=st.sampled_from(["", "data", "data.items", "[0]", "x[-1].y"]))
def test_records_ids_and_cursors_are_read_or_refused(body: Any, path: str) -> None:
    try:
        records = extract_records(body, parse_path(path, empty_is_root=True))
        for record in records:
            record_id(record, parse_path("id"))
        max_cursor(records, parse_path("id"))
    except NpoIntegrationError:
        pass


# --- the config model --------------------------------------------------------------------------

VALID_CONFIG: dict[str, Any] = {
    "npo_id": "fuzz-npo",
    "display_name": "Fuzz",
    "base_url": "https://npo.example/api",
    "auth": {"kind": "bearer", "token": "t"},
    "headers": {"X-Tenant": "a"},
    "streams": {
        "offerings": {
            "path": "/courses",
            "records_path": "data",
            "pagination": {"style": "page_number"},
            "incremental": {"cursor_field": "updated_at", "param": "since"},
        },
        "assignments": {"path": "/courses/{parent.id}/enrolments", "parent_stream": "offerings"},
    },
    "enrolment": {
        "enabled": True,
        "enrol": {"method": "POST", "path": "/courses/{course}/enrol"},
        "idempotency_key": "honoured",
    },
    "transform": {"kind": "declarative", "mapping": MAPPING.model_dump(mode="json")},
    "error_in_body": {"path": "exception"},
}
assert read_config(VALID_CONFIG)

key_paths = st.lists(
    st.one_of(
        st.sampled_from([*list(VALID_CONFIG), "offerings", "pagination", "mapping", "fields"]),
        st.integers(0, 10),
    ),
    max_size=5,
)


@given(st.one_of(json_values, st.tuples(key_paths, json_values)))
def test_any_document_is_a_config_or_a_validation_error(case: Any) -> None:
    document = replace_at(VALID_CONFIG, *case) if isinstance(case, tuple) else case
    with contextlib.suppress(ValidationError, ConfigError):
        read_config(document)


# --- the path and template language ------------------------------------------------------------

expression_texts = st.text(st.one_of(TRICKY, st.sampled_from(list("ab0_-"))), max_size=30)


@given(expression_texts, json_values)
def test_paths_parse_or_raise_a_syntax_error_and_read_any_data(text: str, data: Any) -> None:
    try:
        path = parse_path(text)
    except PathSyntaxError:
        return
    path.get(data)
    with contextlib.suppress(PathError):
        path.get_strict(data)


@given(expression_texts, json_values)
def test_templates_parse_or_raise_a_syntax_error_and_render_any_values(
    text: str, data: Any
) -> None:
    try:
        template = parse_template(text)
    except TemplateSyntaxError:
        return
    assert all(p.text for p in template.placeholders)
    rendered = template.render(lambda placeholder: str(placeholder.get(data)))
    assert isinstance(rendered, str)
    with contextlib.suppress(EscapeError):
        template.render(lambda placeholder: str(placeholder.get(data)), escape=url_path_segment)
