"""docs/asyncapi.json and docs/schemas/ are what ``make contracts`` generates from the models
now, cover every topic the service declares, and describe the examples of docs/contracts.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from npo_integration import contracts
from tests.unit.test_contract_examples import EXAMPLES as CONTRACT_PAGE_EXAMPLES

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = json.loads((DOCS / contracts.ASYNCAPI_FILE).read_text())
EXAMPLES = [(dotted.rsplit(".", 1)[1], text) for dotted, text in CONTRACT_PAGE_EXAMPLES]


def test_the_checked_in_contracts_are_what_the_models_generate() -> None:
    drifted = contracts.drift(DOCS)
    assert drifted == [], (
        f"docs/{', docs/'.join(drifted)} differ from the models: run `make contracts` "
        "and commit the result"
    )


def test_drift_is_noticed(tmp_path: Path) -> None:
    contracts.write(tmp_path)
    assert contracts.drift(tmp_path) == []
    (tmp_path / "schemas" / "FetchRequest.json").write_text("{}\n")
    (tmp_path / "schemas" / "Gone.json").write_text("{}\n")
    assert contracts.drift(tmp_path) == ["schemas/FetchRequest.json", "schemas/Gone.json"]


def test_every_topic_the_service_declares_is_a_channel() -> None:
    from npo_integration.app import app  # noqa: F401  (topics are declared on the app)
    from npo_integration.topics import ALL_TOPICS

    declared = {name for topic in ALL_TOPICS for name in topic.topics}
    assert {channel["address"] for channel in ASYNCAPI["channels"].values()} == declared


def test_each_topic_is_sent_or_received() -> None:
    used = {op["channel"]["$ref"].rsplit("/", 1)[1] for op in ASYNCAPI["operations"].values()}
    assert used == set(ASYNCAPI["channels"])


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    for ref in set(_refs(ASYNCAPI)):
        assert ref.startswith("#/"), ref
        node: Any = ASYNCAPI
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


@pytest.mark.parametrize("path", sorted((DOCS / "schemas").glob("*.json")), ids=lambda p: p.stem)
def test_each_schema_is_valid_json_schema(path: Path) -> None:
    Draft202012Validator.check_schema(json.loads(path.read_text()))


@pytest.mark.parametrize(("name", "text"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_contract_pages_examples_match_the_generated_schemas(name: str, text: str) -> None:
    path = DOCS / "schemas" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{name} is not a message on a topic")
    errors = list(Draft202012Validator(json.loads(path.read_text())).iter_errors(json.loads(text)))
    assert errors == []
