"""Every topic the service reads or writes, declared once.

Values travel as raw bytes and are parsed with the pydantic models by the
agents, so a malformed message becomes a dead letter instead of a crashed
stream. All topics are keyed so that the state a message needs lives on the
message's partition (see docs/architecture.md).
"""

from __future__ import annotations

from faust import TopicT

from npo_integration.app import app, settings


def raw_topic(*names: str, compacting: bool = False) -> TopicT:
    """A topic (or one channel over several) of raw bytes, declared with
    the service's partition count."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        internal=True,
        compacting=compacting or None,
    )


npo_assessed = raw_topic(settings.topic_npo_assessed)
candidate_assignments = raw_topic(settings.topic_candidate_assignments)
assignment_updated = raw_topic(settings.topic_assignment_updated)
offerings = raw_topic(settings.topic_offerings)
config_commands = raw_topic(settings.topic_config_commands)
fetch_requests = raw_topic(settings.topic_fetch_requests)
raw_records = raw_topic(settings.topic_raw_records)
enrolment_results = raw_topic(settings.topic_enrolment_results)
enrolment_links = raw_topic(settings.topic_enrolment_links)
enrolment_commands = raw_topic(settings.topic_enrolment_commands)
dead_letters = raw_topic(settings.topic_dead_letters)
ingest_commands = raw_topic(settings.topic_ingest_commands)

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
