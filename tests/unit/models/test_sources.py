"""An NPO config holds named sources; a config of one system is read as the source ``main``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.npo_config import NpoIntegrationConfig, one_source
from npo_integration.registry.config_input import read_config
from npo_integration.registry.sealed_config import seal_config
from npo_integration.sealing import SecretBox
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.registry import PluginRegistry

ROOT = Path(__file__).resolve().parents[3]
TWO_SYSTEMS = ROOT / "examples" / "sources" / "two-systems.json"
PLUGIN = {"kind": "plugin", "name": "simple"}


def source(name: str, *streams: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "base_url": f"https://{name}.example.org",
        "streams": list(streams),
        "transform": PLUGIN,
        **extra,
    }


def config(*sources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"npo_id": "acme", "display_name": "Acme", "sources": list(sources), **extra}


def errors_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        read_config(document)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_a_one_system_config_is_one_source_named_main_with_its_two_streams() -> None:
    document = json.loads((ROOT / "examples" / "npos" / "moodle.json").read_text())
    parsed = read_config(document)
    [main] = parsed.all_sources()
    assert (main.name, main.npo_id, main.state_key) == ("main", "moodle", "moodle")
    assert main.base_url == document["base_url"]
    assert [(key, s.name, s.kind) for key, _, s in parsed.all_streams()] == [
        ("offerings", "offerings", "offerings"),
        ("assignments", "assignments", "progress"),
    ]
    assert main.enrolment.enabled and main.transform.kind == "declarative"
    assert one_source(parsed) == main


def test_a_config_round_trips_in_the_sources_shape() -> None:
    """Stored (sealed) and read back: the same config, whichever shape it was written in."""
    box = SecretBox([SecretBox.generate_key()])
    for path in (TWO_SYSTEMS, ROOT / "examples" / "npos" / "salesforce.json"):
        sealed = seal_config(read_config(json.loads(path.read_text())), box)
        stored = sealed.model_dump_json()
        assert '"sources":[{"name":' in stored
        assert NpoIntegrationConfig.model_validate_json(stored) == sealed


def test_the_checked_example_has_an_lms_and_a_crm_source() -> None:
    """``docs/contracts.md`` shows this file."""
    parsed = NpoIntegrationConfig.model_validate_json(TWO_SYSTEMS.read_text())
    assert [key for key, _, _ in parsed.all_streams()] == [
        "lms/courses",
        "lms/course-progress",
        "crm/programmes",
        "crm/engagements",
    ]
    lms, crm = parsed.all_sources()
    assert (lms.state_key, crm.state_key) == ("two-systems/lms", "two-systems/crm")
    assert parsed.source_of_offering("crm:a0P000000000001AAA") is crm
    assert parsed.source_of_offering("lms:2") is lms
    assert parsed.source_of_offering("2") is None  # no main source: an unprefixed ref is no one's
    for each in parsed.all_sources():
        PluginRegistry().load(each)  # both mappings fit their source


def test_stream_keys_of_main_stay_as_before_and_others_name_their_source() -> None:
    parsed = read_config(
        config(
            source("main", {"name": "offerings", "kind": "offerings", "path": "/o"}),
            source("crm", {"name": "offerings", "kind": "offerings", "path": "/p"}),
        )
    )
    assert [key for key, _, _ in parsed.all_streams()] == ["offerings", "crm/offerings"]
    found = parsed.stream("crm/offerings")
    assert found is not None and found[0].name == "crm" and found[1].path == "/p"
    assert parsed.stream("crm/nothing") is None and parsed.stream("lms/offerings") is None
    assert parsed.source_of_offering("7") is parsed.source("main")
    assert parsed.source_of_offering("crm:7") is parsed.source("crm")
    assert parsed.source_of_offering("lms:7") is parsed.source("main")  # no source lms
    with pytest.raises(ValueError, match="has sources main, crm"):
        one_source(parsed)


@pytest.mark.parametrize(
    ("document", "where", "message"),
    [
        (
            config(source("a"), base_url="https://x.example.org"),
            "",
            "either sources or the one-system fields (base_url), not both",
        ),
        (config(source("a"), source("a")), "", "two sources named 'a'"),
        (config(), "sources", "at least 1 item"),
        (config(source("A/b")), "sources.0.name", "should match pattern"),
        (
            config(
                source(
                    "a",
                    {"name": "s", "kind": "offerings", "path": "/"},
                    {"name": "s", "kind": "progress", "path": "/"},
                )
            ),
            "sources.0",
            "two streams named 's'",
        ),
        (
            config(source("a", {"name": "s", "kind": "courses", "path": "/"})),
            "sources.0.streams.0.kind",
            "'offerings' or 'progress'",
        ),
        (
            config(
                source(
                    "a",
                    {"name": "e", "kind": "progress", "path": "/{parent.id}", "parent_stream": "c"},
                )
            ),
            "sources.0",
            "no other stream 'c' in source 'a'",
        ),
        (
            config(source("main", {"name": "offerings", "kind": "progress", "path": "/"})),
            "sources.0",
            "a stream named 'offerings' is of kind 'offerings'",
        ),
    ],
)
def test_bad_sources_are_refused_naming_the_field(
    document: dict[str, Any], where: str, message: str
) -> None:
    errors = errors_of(document)
    assert any(loc == where and message in msg for loc, msg in errors), errors


def test_errors_of_a_one_system_config_name_the_fields_as_written() -> None:
    document = {
        "npo_id": "acme",
        "display_name": "Acme",
        "base_url": "https://acme.example.org",
        "streams": {
            "offerings": {"path": "/o"},
            "assignments": {"path": "/a", "records_path": "x..y"},
        },
        "transform": PLUGIN,
        "timeout_seconds": 0,
    }
    locations = [loc for loc, _ in errors_of(document)]
    assert locations == ["streams.assignments.records_path", "timeout_seconds"]


ASSIGNMENT = {
    "event_id": "e1",
    "event_type": "candidate_assignment.created",
    "assignment_id": "asg-1",
    "candidate": {
        "candidate_id": "cand-1",
        "email": "c@example.org",
        "first_name": "C",
        "last_name": "D",
        "npo_user_ref": "2042",
    },
    "offering": {"offering_id": "off-1", "npo_id": "acme", "npo_offering_ref": "crm:a0P1"},
}


class Echo:
    """A plug-in that hands back what it is given (references as the NPO calls them)."""

    name = "echo"
    contract_version = 1

    def offering(self, record: Any) -> Any:
        return {"npo_offering_ref": record["id"], "title": "T"}

    def progress(self, record: Any) -> Any:
        return {
            "npo_offering_ref": record["course"],
            "npo_enrolment_ref": record["enr"],
            "status": "enrolled",
        }

    def enrolment_request(self, assignment: Any) -> Any:
        return {"body": {"offering": assignment.offering.npo_offering_ref}}

    def unenrol_request(self, assignment: Any, ref: str) -> Any:
        return {"path_vars": {"ref": ref}}

    def enrolment_ref(self, body: Any, assignment: Any) -> Any:
        return assignment.offering.npo_offering_ref


def test_a_source_plugin_prefixes_its_references_and_enrols_with_its_own() -> None:
    from npo_integration.transforms.sources import for_source

    echo = Echo()
    crm = for_source(echo, "crm:", ())  # type: ignore[arg-type]
    assert crm.offering({"id": "a0P1"})["npo_offering_ref"] == "crm:a0P1"
    progress = crm.progress({"course": "a0P1", "enr": "a0E1"})
    assert (progress["npo_offering_ref"], progress["npo_enrolment_ref"]) == ("crm:a0P1", "crm:a0E1")
    assignment = CandidateAssignmentEvent.model_validate(ASSIGNMENT)
    assert crm.enrolment_request(assignment) == {"body": {"offering": "a0P1"}}
    assert crm.enrolment_ref(None, assignment) == "a0P1"
    assert for_source(echo, "", ()) is echo  # one system: the plug-in itself, as before
    main = for_source(echo, "", ("crm:",))  # type: ignore[arg-type]
    assert main.offering({"id": "7"})["npo_offering_ref"] == "7"
    with pytest.raises(TransformError, match="another source's prefix"):
        main.offering({"id": "crm:7"})
