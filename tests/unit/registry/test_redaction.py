"""What dead letters keep of refused and of unparsed input: no secret, no personal data."""

from __future__ import annotations

import hashlib
import json

import pytest

from npo_integration.registry.redaction import PREFIX_CHARS, describe_unparsed, redact_document

SECRET = "S3CRET-4f1e2d3c"


def test_a_refused_document_keeps_its_fields_with_credential_values_masked() -> None:
    document = {
        "npo_id": "n1",
        "integration": {
            "auth": {"kind": "bearer", "token": SECRET},
            "headers": {"Accept": "application/json", "X-Api-Key": SECRET},
            "streams": {"offerings": {"params": {"wstoken": SECRET, "per_page": "50"}}},
            "transform": {"options": {"client_secret": {"nested": SECRET}}},
        },
    }
    redacted = redact_document(document)
    assert SECRET not in json.dumps(redacted)
    assert redacted["integration"]["auth"] == {"kind": "bearer", "token": "***"}
    assert redacted["integration"]["headers"]["Accept"] == "application/json"
    assert redacted["integration"]["streams"]["offerings"]["params"]["per_page"] == "50"


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        (b"{not json", "{*** ***"),
        (b"[true, false, null, 42, -1.5, Infinity]", "[true, false, null, 42, -1.5, ***]"),
        (
            b'{"npo_id": "n1", "integration": {"auth": {"kind": "bearer", "token": "'
            + SECRET.encode()
            + b'"}}}',
            '{"npo_id": "***", "integration": {"auth": {"kind": "***", "***',
        ),
        (
            b'{"email": "jane@example.org", "n": 12345678, "x": null}',
            '{"email": "***", "n": ***, "x": null}',
        ),
        (b"token=" + SECRET.encode() + b"&page=2", "***"),
        (b'"' + SECRET.encode(), '"***'),
        (b"\xff\xfe\x00\x01", "***"),
        (b'{"jane@example.org": 1}', '{"***": 1}'),
        (b"", ""),
    ],
)
def test_unparsed_input_is_described_never_kept(raw: bytes, prefix: str) -> None:
    described = describe_unparsed(raw)
    assert described == {
        "length": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "prefix": prefix,
    }
    assert SECRET not in json.dumps(described)


def test_the_prefix_looks_at_the_first_characters_only() -> None:
    raw = json.dumps({f"field{i}": i for i in range(100)}).encode()
    described = describe_unparsed(raw)
    assert described["length"] == len(raw)
    assert len(described["prefix"]) <= PREFIX_CHARS
    assert described["prefix"].startswith('{"field0": 0, "field1": 1,')


def test_a_huge_message_is_summarised_in_bounded_size() -> None:
    raw = b'{"payload": "' + b"x" * 2_000_000 + b'"}'
    assert len(json.dumps(describe_unparsed(raw))) < 300
