"""What the status views keep per NPO besides the pull and ingestion tables: the dead letters of
the last 24 hours (a table, ``tables/dead_letter_window.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from npo_integration.models.codec import Versioned

WINDOW = timedelta(hours=24)
RECENT_KEPT = 10
REASON_CHARS = 300


class RecentDeadLetter(BaseModel):
    """One dead letter as the status shows it: never its payload (it may hold personal data)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    at: AwareDatetime
    source_topic: str
    reason: str = Field(max_length=REASON_CHARS + 40)
    record_key: str | None = None


def _hour(at: datetime) -> int:
    return int(at.timestamp() // 3600)


class DeadLetterWindow(Versioned):
    """One NPO's dead letters counted per hour over the last 24 hours, and the last few letters.

    Hourly buckets keep the value small whatever the rate; "the last 24 hours" is therefore
    read to the hour (a letter counts until its hour is 24 hours old)."""

    model_config = ConfigDict(frozen=True)

    npo_id: str
    hourly: dict[int, int] = Field(default_factory=dict, description="hour since epoch -> count")
    recent: list[RecentDeadLetter] = Field(default_factory=list, description="newest first")

    def with_letter(self, letter: RecentDeadLetter, now: datetime) -> DeadLetterWindow:
        """This window with ``letter`` counted; the same letter seen again (a redelivery that
        is still among the recent ones) is not counted twice."""
        if any(kept.event_id == letter.event_id for kept in self.recent):
            return self
        oldest = _hour(now - WINDOW)
        hourly = {hour: n for hour, n in self.hourly.items() if hour > oldest}
        hour = _hour(letter.at)
        if hour > oldest:
            hourly[hour] = hourly.get(hour, 0) + 1
        recent = sorted([letter, *self.recent], key=lambda r: r.at, reverse=True)[:RECENT_KEPT]
        return self.model_copy(update={"hourly": hourly, "recent": recent})

    def last_24h(self, now: datetime) -> int:
        oldest = _hour(now - WINDOW)
        return sum(n for hour, n in self.hourly.items() if hour > oldest)
