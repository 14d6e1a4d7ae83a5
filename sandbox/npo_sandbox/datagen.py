"""Deterministic fake NPO data: the same npo_id always yields the same records.

Generators emit neutral seeds; each flavour renders them in its native JSON
shape. Seeding ``random.Random`` with a string is stable across processes (it
does not depend on PYTHONHASHSEED), so a test and a sandbox subprocess agree.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

GEN_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
GEN_END = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
"""Every generated modified time lies in [GEN_START, GEN_END]."""

USER_ID_BASE = 2000
"""Numeric user ids (Canvas, Moodle) are USER_ID_BASE + candidate number."""

ProgressState = Literal["enrolled", "in_progress", "completed"]

_LEVELS = ("Introduction to", "Foundations of", "Practical", "Hands-on", "Advanced")
_SUBJECTS = (
    "Python",
    "Digital Literacy",
    "Bookkeeping",
    "Public Speaking",
    "Web Design",
    "Data Analysis",
    "Financial Planning",
    "Project Management",
    "Customer Service",
    "First Aid",
    "Graphic Design",
    "Cloud Basics",
)
_FORMATS = ("Course", "Workshop", "Bootcamp", "Programme")
_CITIES = ("Cape Town", "Johannesburg", "Durban", "Pretoria", "Gqeberha", "Polokwane")
_CANDIDATE_NUMBER = re.compile(r"^(?:cand-|candidate)0*(\d+)(?:@example\.org)?$")


@dataclass(frozen=True, slots=True)
class OfferingSeed:
    """One course/programme, before any flavour gives it a shape."""

    number: int
    title: str
    description_html: str
    starts_on: date
    ends_on: date
    capacity: int
    updated_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class ProgressSeed:
    """One candidate's enrolment in one offering, with how far they got."""

    number: int
    offering_number: int
    candidate_number: int
    state: ProgressState
    percent: int
    updated_at: datetime


def _moment(rng: random.Random) -> datetime:
    span = int((GEN_END - GEN_START).total_seconds())
    return GEN_START + timedelta(seconds=rng.randrange(span + 1))


def offering_seeds(npo_id: str, count: int) -> list[OfferingSeed]:
    """``count`` offerings numbered 1..count; about one in seven is inactive."""
    rng = random.Random(f"{npo_id}:offerings")
    seeds = []
    for number in range(1, count + 1):
        title = f"{rng.choice(_LEVELS)} {rng.choice(_SUBJECTS)} {rng.choice(_FORMATS)}"
        weeks = rng.randint(2, 12)
        starts_on = date(2027, 1, 10) + timedelta(days=rng.randrange(0, 180, 7))
        description = (
            f"<p>{title} for job seekers in {rng.choice(_CITIES)}.</p>"
            f"<ul><li>{weeks} weeks</li><li>Certificate &amp; mentoring</li></ul>"
        )
        seeds.append(
            OfferingSeed(
                number=number,
                title=title,
                description_html=description,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(weeks=weeks),
                capacity=rng.choice((10, 15, 20, 25, 30, 40)),
                updated_at=_moment(rng),
                active=rng.random() > 0.15,
            )
        )
    return seeds


def progress_seeds(npo_id: str, count: int, offering_numbers: Sequence[int]) -> list[ProgressSeed]:
    """``count`` enrolments spread over ``offering_numbers``; none if there are no offerings."""
    if not offering_numbers:
        return []
    rng = random.Random(f"{npo_id}:progress")
    seeds = []
    for number in range(1, count + 1):
        state: ProgressState = rng.choice(("enrolled", "in_progress", "in_progress", "completed"))
        percent = 0 if state == "enrolled" else 100 if state == "completed" else rng.randint(1, 99)
        seeds.append(
            ProgressSeed(
                number=number,
                offering_number=rng.choice(offering_numbers),
                candidate_number=rng.randint(1, max(50, count * 2)),
                state=state,
                percent=percent,
                updated_at=_moment(rng),
            )
        )
    return seeds


def candidate_external_id(number: int) -> str:
    """The platform-side candidate id the NPOs echo back (``cand-00042``)."""
    return f"cand-{number:05d}"


def candidate_email(number: int) -> str:
    """A stable, obviously fake email for candidate ``number``."""
    return f"candidate{number}@example.org"


def candidate_number(identifier: str) -> int:
    """Recover a candidate number from an external id or email; hash anything else.

    Lets user-id based flavours (Canvas, Moodle) accept any candidate the
    platform sends, as if every candidate already had an account there.
    """
    match = _CANDIDATE_NUMBER.match(identifier.strip().lower())
    if match:
        return int(match.group(1))
    return 100_000 + zlib.crc32(identifier.strip().lower().encode()) % 900_000


def user_id_for(identifier: str) -> int:
    """The numeric user id a Canvas/Moodle flavour uses for a candidate."""
    return USER_ID_BASE + candidate_number(identifier)
