"""Time formats the simulated NPOs speak, and one lenient parser for filters.

Each real system renders timestamps its own way (ISO with ``Z``, Salesforce's
``.000+0000``, Moodle's epoch seconds); the flavours pick one of these so the
integration's parsers meet every shape it will meet in production.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_SPACE_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


def iso_z(moment: datetime) -> str:
    """``2026-11-20T10:00:00Z``: the common REST style."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(moment: datetime) -> str:
    """``2026-11-20T10:00:00+00:00``: what Python's isoformat() emits."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def salesforce_time(moment: datetime) -> str:
    """``2026-11-20T10:00:00.000+0000``: Salesforce's datetime rendering."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def epoch(moment: datetime) -> int:
    """Whole epoch seconds, as Moodle stores times."""
    return int(moment.timestamp())


def from_epoch(seconds: float) -> datetime:
    """The UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(text: str) -> datetime:
    """Parse ISO-8601 (``Z``, ``+0000``, ``+00:00``, date only) or epoch digits; naive means UTC.

    A ``+`` that arrived unencoded in a query string decodes to a space, so a
    trailing `` 0000`` offset is read as ``+0000`` rather than rejected.
    """
    text = text.strip()
    if text.isdigit():
        return from_epoch(int(text))
    text = _SPACE_OFFSET.sub(r"+\1", text)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_second(moment: datetime) -> datetime:
    """Drop sub-second precision so stamps compare equal across formats."""
    return moment.replace(microsecond=0)


ONE_SECOND = timedelta(seconds=1)
