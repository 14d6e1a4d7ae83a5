"""Every topic the service reads or writes, declared once.

Values travel as raw bytes and are parsed with the pydantic models by the
agents, so a malformed message becomes a dead letter instead of a crashed
stream. All topics are keyed so that the state a message needs lives on the
message's partition (see docs/architecture.md).
"""

from __future__ import annotations

from faust import TopicT

from npo_integration.app import app, settings


def _topic(name: str, *, compacting: bool = False) -> TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        internal=True,
        compacting=compacting or None,
    )


npo_assessed = _topic(settings.topic_npo_assessed)
candidate_assignments = _topic(settings.topic_candidate_assignments)
assignment_updated = _topic(settings.topic_assignment_updated)
offerings = _topic(settings.topic_offerings)
config_commands = _topic(settings.topic_config_commands)
fetch_requests = _topic(settings.topic_fetch_requests)
raw_records = _topic(settings.topic_raw_records)
enrolment_results = _topic(settings.topic_enrolment_results)
enrolment_links = _topic(settings.topic_enrolment_links)
enrolment_commands = _topic(settings.topic_enrolment_commands)
dead_letters = _topic(settings.topic_dead_letters)
ingest_commands = _topic(settings.topic_ingest_commands)

ALL_TOPICS: tuple[TopicT, ...] = (
    npo_assessed,
    candidate_assignments,
    assignment_updated,
    offerings,
    config_commands,
    fetch_requests,
    raw_records,
    enrolment_results,
    enrolment_links,
    enrolment_commands,
    dead_letters,
    ingest_commands,
)
