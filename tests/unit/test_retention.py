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


def test_the_raw_topic_retention_is_its_own_setting_never_past_the_personal_data_one() -> None:
    """Raw records waiting for ingestion expire unread after it (issue 14): a setting, with the
    personal-data retention as default and bound."""
    import pytest

    from npo_integration.settings import Settings

    base = {"secrets_keys": settings.secrets_keys}
    assert Settings(**base).raw_records_retention_seconds == 7 * 86400
    assert Settings(**base, raw_records_retention_hours=48).raw_records_retention_seconds == 172800
    with pytest.raises(ValueError, match="more than NPO_PERSONAL_DATA_RETENTION_DAYS"):
        Settings(**base, raw_records_retention_hours=24 * 8)
    with pytest.raises(ValueError):
        Settings(**base, raw_records_retention_hours=0.5)
