"""Topics and changelogs that hold candidates' data are created with bounded retention
(docs/security.md, "Personal data")."""

from __future__ import annotations

from npo_integration.app import app, settings  # registers the tables and topics
from npo_integration.topics import ALL_TOPICS, PERSONAL_DATA_TOPICS

PERSONAL_TABLES = (
    "npo-enrolments",
    "npo-enrolment-links",
    "npo-unprocessed-records",
    "npo-record-state",
)


def test_topics_with_candidate_data_get_the_personal_data_retention_and_no_other_does() -> None:
    retention = settings.personal_data_retention_days * 86400
    declared = {topic.get_topic_name(): topic.retention for topic in ALL_TOPICS}
    personal = {topic.get_topic_name() for topic in PERSONAL_DATA_TOPICS}
    assert {
        settings.topic_candidate_assignments,
        settings.topic_assignment_updated,
        settings.topic_raw_records,
        settings.topic_enrolment_links,
        settings.topic_dead_letters,
        settings.topic_candidate_erased,
    } <= personal
    assert {name: declared[name] for name in personal} == dict.fromkeys(personal, retention)
    assert all(declared[name] is None for name in declared.keys() - personal)


def test_changelogs_of_tables_with_candidate_data_are_compacted_within_the_erasure_lag() -> None:
    lag = str(int(settings.erasure_compaction_hours * 3600 * 1000))
    for name in PERSONAL_TABLES:
        changelog = app.tables[name].changelog_topic
        assert changelog.config["max.compaction.lag.ms"] == lag, name
