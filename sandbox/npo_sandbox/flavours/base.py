"""What a flavour is, plus helpers the flavour modules share.

A flavour renders the neutral generated data in one real system's JSON shape
and registers that system's routes. Records are kept per NPO as native dicts
keyed by ``str(id)``, so the admin API can upsert flavour-native JSON as-is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from ..idempotency import idempotency_key, note_enrolment
from ..pipeline import BadRequest
from ..state import STATE_KEY, EnrolmentRecord, SimulatedNpo
from ..timefmt import iso_z, parse_time

Record = dict[str, Any]
Generate = Callable[[str, int, int], tuple[list[Record], list[Record]]]
_ID_SHAPE = re.compile(r"^(.*?)(\d+)(\D*)$")


@dataclass(frozen=True)
class IdFormat:
    """How a flavour writes ids: a bare int, or prefix + zero-padded number + suffix."""

    prefix: str = ""
    width: int = 0
    suffix: str = ""
    integer: bool = False

    def make(self, number: int) -> int | str:
        if self.integer:
            return number
        return f"{self.prefix}{number:0{self.width}d}{self.suffix}"

    def number(self, ident: Any) -> int | None:
        """The number inside an id of this format, or None if it is not one."""
        if self.integer:
            text = str(ident)
            return int(text) if text.isdigit() else None
        match = _ID_SHAPE.match(str(ident))
        if match and match.group(1) == self.prefix and match.group(3) == self.suffix:
            return int(match.group(2))
        return None

    def coerce(self, ident: Any) -> Any:
        """Digits sent as a string still name an integer id."""
        return int(ident) if self.integer and str(ident).isdigit() else ident


@dataclass(frozen=True)
class Flavour:
    """One simulated NPO system: its data shape, ids, timestamps and routes."""

    name: str
    generate: Generate
    register: Callable[[web.UrlDispatcher], None]
    keys: Mapping[str, str]
    ids: Mapping[str, IdFormat]
    modified_field: str
    stamp: Callable[[datetime], Any]
    endpoints: Mapping[str, str] = field(default_factory=dict)

    def records(self, npo: SimulatedNpo, kind: str) -> dict[str, Record]:
        """The NPO's ``offerings`` or ``progress`` records, generated on first use."""
        if npo.offerings is None or npo.progress is None:
            offerings, progress = self.generate(npo.npo_id, npo.offering_count, npo.progress_count)
            npo.offerings = {str(r[self.keys["offerings"]]): r for r in offerings}
            npo.progress = {str(r[self.keys["progress"]]): r for r in progress}
        return npo.offerings if kind == "offerings" else npo.progress

    def new_id(self, npo: SimulatedNpo, kind: str) -> Any:
        """A fresh id never used before in this NPO, even after deletions."""
        records = self.records(npo, kind)
        fmt = self.ids[kind]
        current = npo.sequences.get(kind)
        if current is None:
            numbers = (fmt.number(key) for key in records)
            current = max((n for n in numbers if n is not None), default=0)
        while True:
            current += 1
            if str(fmt.make(current)) not in records:
                npo.sequences[kind] = current
                return fmt.make(current)

    def upsert(
        self, npo: SimulatedNpo, kind: str, patch: Record, when: datetime
    ) -> tuple[Record, bool]:
        """Merge ``patch`` into the record with its id (new id if absent) and stamp it."""
        key_field = self.keys[kind]
        patch = dict(patch)
        if patch.get(key_field) is None:
            patch[key_field] = self.new_id(npo, kind)
        patch[key_field] = self.ids[kind].coerce(patch[key_field])
        records = self.records(npo, kind)
        key = str(patch[key_field])
        old = records.get(key)
        records[key] = {**(old or {}), **patch, self.modified_field: self.stamp(when)}
        return records[key], old is None

    def touch(self, request: web.Request, npo: SimulatedNpo) -> Any:
        """The native modified-time value for a change made now."""
        return self.stamp(npo.next_stamp(request.app[STATE_KEY].now()))


def int_param(
    params: Mapping[str, str], name: str, default: int, lo: int = 0, hi: int | None = None
) -> int:
    """An integer query parameter within bounds, or a 400."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        raise BadRequest(f"{name} must be between {lo} and {hi if hi is not None else 'inf'}")
    return value


def page_size(params: Mapping[str, str], name: str, npo: SimulatedNpo) -> int:
    """The requested page size, defaulting to the NPO's ``page_size`` option."""
    return int_param(params, name, npo.options.page_size, 1, npo.options.max_page_size)


def since_param(params: Mapping[str, str], name: str) -> datetime | None:
    """An optional ISO-8601 (or epoch) lower bound, or a 400."""
    raw = params.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 time, got {raw!r}") from None


def modified_since(
    records: Iterable[Record], field_name: str, since: datetime | None
) -> list[Record]:
    """Records modified at or after ``since`` (inclusive: clients must dedupe)."""
    if since is None:
        return list(records)
    return [r for r in records if parse_time(str(r[field_name])) >= since]


def natural(value: Any) -> tuple[bool, Any]:
    """A sort key that orders int ids numerically and never compares int with str."""
    return isinstance(value, str), value


def by_id(records: Iterable[Record], key_field: str) -> list[Record]:
    """Stable id order for page/offset pagination."""
    return sorted(records, key=lambda r: natural(r[key_field]))


@dataclass(frozen=True)
class OffsetPage:
    """One ``offset``/``limit`` page of records in id order, and what a body needs around it."""

    records: list[Record]
    total: int
    offset: int
    limit: int

    @property
    def more(self) -> bool:
        return self.offset + self.limit < self.total


def offset_page(
    request: web.Request, npo: SimulatedNpo, records: Iterable[Record], key_field: str
) -> OffsetPage:
    """The page ``?offset=&limit=`` asks for (the NPO's page size by default; a 400 for bad
    values): the offset/limit paging of the generic REST and SKY API flavours alike."""
    offset = int_param(request.query, "offset", 0, lo=0)
    limit = page_size(request.query, "limit", npo)
    ordered = by_id(records, key_field)
    return OffsetPage(ordered[offset : offset + limit], len(ordered), offset, limit)


def by_modified(records: Iterable[Record], modified: str, key_field: str) -> list[Record]:
    """(modified, id) order, for incremental pulls and keyset cursors.

    Every record of a flavour carries its modified time in one format (the
    flavour stamps each change), so comparing the raw values is sound.
    """
    return sorted(records, key=lambda r: (r[modified], natural(r[key_field])))


async def read_json_object(request: web.Request) -> Record:
    """The request body as a JSON object, or a 400."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


async def read_params(request: web.Request) -> MultiMapping[str]:
    """Query parameters merged with a urlencoded/multipart body (body wins)."""
    if request.method != "POST" or not request.body_exists:
        return request.query
    form = await request.post()
    merged = MultiDict(request.query)
    merged.update({k: v for k, v in form.items() if isinstance(v, str)})
    return MultiDictProxy(merged)


def record_enrolment(
    request: web.Request,
    npo: SimulatedNpo,
    enrolment_id: Any,
    offering_id: Any,
    candidate: dict[str, Any],
    body: Any,
) -> EnrolmentRecord:
    """Log an enrolment the NPO received, with its Idempotency-Key, for tests to count.

    Top-level secret-looking keys of the body (``wstoken``, ``access_token``...) are masked.
    """
    record = EnrolmentRecord(
        enrolment_id=str(enrolment_id),
        offering_id=str(offering_id),
        candidate=candidate,
        body=npo.redact(body.items()) if isinstance(body, Mapping) else body,
        idempotency_key=idempotency_key(request),
        created_at=iso_z(request.app[STATE_KEY].now()),
    )
    return note_enrolment(request, npo.add_enrolment(record))
