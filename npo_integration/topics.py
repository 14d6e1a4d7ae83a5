"""Every topic the service reads or writes, declared once.

Values travel as raw bytes and are parsed with the pydantic models by the
agents, so a malformed message becomes a dead letter instead of a crashed
stream. All topics are keyed so that the state a message needs lives on the
message's partition (see docs/architecture.md). Topics that carry candidates'
personal data get ``NPO_PERSONAL_DATA_RETENTION_DAYS`` as their retention when the
service creates them (docs/security.md, "Personal data").
"""

from __future__ import annotations

from faust import TopicT

from npo_integration.app import app, settings

PERSONAL_DATA_RETENTION_SECONDS = settings.personal_data_retention_days * 86400.0


def raw_topic(
    *names: str,
    compacting: bool = False,
    personal: bool = False,
    retention: float | None = None,
) -> TopicT:
    """A topic (or one channel over several) of raw bytes, declared with
    the service's partition count; ``personal``: it carries candidates' personal data
    (``retention`` seconds, default the personal-data retention)."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        internal=True,
        compacting=compacting or None,
        retention=(retention or PERSONAL_DATA_RETENTION_SECONDS) if personal else None,
    )


npo_assessed = raw_topic(settings.topic_npo_assessed)
candidate_assignments = raw_topic(settings.topic_candidate_assignments, personal=True)
assignment_updated = raw_topic(settings.topic_assignment_updated, personal=True)
offerings = raw_topic(settings.topic_offerings)
config_commands = raw_topic(settings.topic_config_commands)
fetch_requests = raw_topic(settings.topic_fetch_requests)
raw_records = raw_topic(
    settings.topic_raw_records, personal=True, retention=settings.raw_records_retention_seconds
)
enrolment_results = raw_topic(settings.topic_enrolment_results, personal=True)
enrolment_links = raw_topic(settings.topic_enrolment_links, personal=True)
enrolment_commands = raw_topic(settings.topic_enrolment_commands, personal=True)
dead_letters = raw_topic(settings.topic_dead_letters, personal=True)
ingest_commands = raw_topic(settings.topic_ingest_commands)
candidate_erased = raw_topic(settings.topic_candidate_erased, personal=True)

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
    candidate_erased,
)

PERSONAL_DATA_TOPICS: tuple[TopicT, ...] = (
    candidate_assignments,
    assignment_updated,
    raw_records,
    enrolment_results,
    enrolment_links,
    enrolment_commands,
    dead_letters,
    candidate_erased,
)
"""Topics holding candidates' data (names, emails, NPO user ids, progress, or the pseudonymous
candidate and assignment ids): each with the personal-data retention."""
