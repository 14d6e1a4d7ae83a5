"""Machine-readable contracts: an AsyncAPI 3.0 document of every topic the service reads or
writes, and a JSON Schema of each message, both generated from the pydantic models.

``make contracts`` (``python -m npo_integration.contracts``) writes ``docs/asyncapi.json`` and
``docs/schemas/<Model>.json``; ``tests/unit/test_contracts.py`` regenerates them in memory and
fails when the checked-in files drift. Topic names are the settings' defaults (``NPO_TOPIC_*``).
Builds nothing of the Faust app, so it runs without settings or a broker.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from npo_integration.models.assessment import NpoAssessed
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.models.erasure import CandidateErase, CandidateErased
from npo_integration.models.events import (
    CandidateAssignmentEvent,
    CandidateAssignmentUpdated,
    OfferingEvent,
    OfferingRemoved,
)
from npo_integration.models.internal import (
    ConfigCommand,
    DeadLetter,
    EnrolmentLink,
    EnrolmentResult,
    FetchRequest,
    IngestCommand,
    RawPage,
    RawRecord,
    RemovalDecision,
    SweepCompleted,
)
from npo_integration.settings import Settings

Action = Literal["send", "receive"]
DOCS = Path(__file__).resolve().parents[1] / "docs"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_DIR = "schemas"
KAFKA_BINDING = "0.5.0"


@dataclass(frozen=True)
class TopicContract:
    """One topic: the setting naming it, what the service does with it, its key, its messages."""

    setting: str
    actions: tuple[Action, ...]
    key: str
    messages: tuple[type[BaseModel], ...]

    @property
    def channel_id(self) -> str:
        return self.setting.removeprefix("topic_")

    @property
    def address(self) -> str:
        default: str = Settings.model_fields[self.setting].default
        return default


TOPICS: tuple[TopicContract, ...] = (
    TopicContract("topic_npo_assessed", ("receive",), "npo_id", (NpoAssessed,)),
    TopicContract(
        "topic_candidate_assignments", ("receive",), "assignment_id", (CandidateAssignmentEvent,)
    ),
    TopicContract(
        "topic_offerings", ("send",), "npo_id/npo_offering_ref", (OfferingEvent, OfferingRemoved)
    ),
    TopicContract(
        "topic_assignment_updated", ("send",), "assignment_id", (CandidateAssignmentUpdated,)
    ),
    TopicContract("topic_enrolment_results", ("send",), "assignment_id", (EnrolmentResult,)),
    TopicContract("topic_candidate_erased", ("send",), "candidate_id", (CandidateErased,)),
    TopicContract(
        "topic_enrolment_commands",
        ("send", "receive"),
        "assignment_id (a re-drive: one per partition; an erasure: candidate_id)",
        (EnrolmentCommand, CandidateErase),
    ),
    TopicContract("topic_config_commands", ("send", "receive"), "npo_id", (ConfigCommand,)),
    TopicContract("topic_fetch_requests", ("send", "receive"), "npo_id", (FetchRequest,)),
    TopicContract(
        "topic_raw_records",
        ("send", "receive"),
        "npo_id",
        (RawPage, RawRecord, SweepCompleted, RemovalDecision),
    ),
    TopicContract("topic_enrolment_links", ("send", "receive"), "npo_id", (EnrolmentLink,)),
    TopicContract("topic_ingest_commands", ("send", "receive"), "npo_id", (IngestCommand,)),
    TopicContract(
        "topic_dead_letters", ("send",), "npo_id or the source message's key", (DeadLetter,)
    ),
)
"""Every topic; docs/contracts.md describes each in prose, with examples."""


def message_schemas() -> dict[str, dict[str, Any]]:
    """``{model name: JSON Schema}``, each schema standalone (its own ``$defs``)."""
    return {
        model.__name__: {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **model.model_json_schema(),
        }
        for topic in TOPICS
        for model in topic.messages
    }


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document: a channel per topic, an operation per thing the service does
    with it, a message per model (its key in the Kafka binding), the payloads under
    ``components.schemas``."""
    models = [model for topic in TOPICS for model in topic.messages]
    _, defs = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        names = [model.__name__ for model in topic.messages]
        channels[topic.channel_id] = {
            "address": topic.address,
            "description": _setting_description(topic),
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
            "bindings": {"kafka": {"topic": topic.address, "bindingVersion": KAFKA_BINDING}},
        }
        for action in topic.actions:
            operations[f"{action}_{topic.channel_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic.channel_id}"},
                "messages": [
                    {"$ref": f"#/channels/{topic.channel_id}/messages/{n}"} for n in names
                ],
            }
        for model in topic.messages:
            messages[model.__name__] = {
                "name": model.__name__,
                "title": model.__name__,
                "summary": _first_line(model.__doc__),
                "contentType": "application/json",
                "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": topic.key},
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Spotlight NPO Integration",
            "version": version("npo-integration"),
            "description": (
                "Every topic the service reads (receive) or writes (send). Values are UTF-8 JSON, "
                "keys UTF-8 strings. Topic names are the defaults of the NPO_TOPIC_* settings. "
                "Generated from the pydantic models by `make contracts`; prose and examples: "
                "docs/contracts.md. The admin API is described by GET /admin/openapi.json."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": Settings.model_fields["broker_url"].default.removeprefix("kafka://"),
                "protocol": "kafka",
                "description": "the bootstrap of NPO_BROKER_URL",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _asyncapi_schemas(defs["$defs"])},
    }


def rendered() -> dict[str, str]:
    """``{path under docs/: text}`` of every generated file."""
    files = {ASYNCAPI_FILE: _dump(asyncapi())}
    for name, schema in message_schemas().items():
        files[f"{SCHEMAS_DIR}/{name}.json"] = _dump(schema)
    return files


def drift(docs: Path = DOCS) -> list[str]:
    """Generated files that are missing, stale, or left over under ``docs``."""
    expected = rendered()
    stale = [
        path
        for path, text in expected.items()
        if not (docs / path).is_file() or (docs / path).read_text(encoding="utf-8") != text
    ]
    extra = [
        f"{SCHEMAS_DIR}/{p.name}"
        for p in sorted((docs / SCHEMAS_DIR).glob("*.json"))
        if f"{SCHEMAS_DIR}/{p.name}" not in expected
    ]
    return sorted(stale + extra)


def write(docs: Path = DOCS) -> None:
    (docs / SCHEMAS_DIR).mkdir(parents=True, exist_ok=True)
    expected = rendered()
    for old in (docs / SCHEMAS_DIR).glob("*.json"):
        if f"{SCHEMAS_DIR}/{old.name}" not in expected:
            old.unlink()
    for path, text in expected.items():
        (docs / path).write_text(text, encoding="utf-8")


def _asyncapi_schemas(node: Any) -> Any:
    """Pydantic's schemas in AsyncAPI's schema dialect, whose ``discriminator`` is the property's
    name (pydantic writes OpenAPI's ``{"propertyName": ..., "mapping": ...}``)."""
    if isinstance(node, dict):
        return {
            key: value["propertyName"]
            if key == "discriminator" and isinstance(value, dict) and "propertyName" in value
            else _asyncapi_schemas(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_asyncapi_schemas(item) for item in node]
    return node


def _setting_description(topic: TopicContract) -> str:
    field = Settings.model_fields[topic.setting]
    return f"{field.description} (NPO_{topic.setting.upper()}; key: {topic.key})"


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ")


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    write()
    print(f"wrote docs/{ASYNCAPI_FILE} and docs/{SCHEMAS_DIR}/*.json", file=sys.stderr)
