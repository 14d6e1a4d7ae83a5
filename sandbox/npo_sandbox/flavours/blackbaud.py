"""``blackbaud``: Blackbaud SKY API's Event API, with OAuth2 rotating refresh tokens (grants.py).

    GET  /npos/{id}/event/v1/eventlist?limit=L&offset=O
         -> {"count": total, "value": [...], "next_link": "<same URL, next offset>"}
    GET  /npos/{id}/event/v1/events/{event_id}/participants?limit=L&offset=O   (as SKY API)
    GET  /npos/{id}/event/v1/participants?limit=L&offset=O      (every event's in one list,
         not in SKY API: examples/npos/blackbaud.json reads it, one call per page)
    POST /npos/{id}/event/v1/events/{event_id}/participants
         JSON {"constituent_id", "rsvp_status", ...} -> 200 {"id": "..."}

As in SKY API: ``limit`` (default 500 there, the NPO's page size here) and ``offset``;
``next_link`` is absent on the last page; every call needs ``Authorization: Bearer`` and the
``Bb-Api-Subscription-Key`` header (auth kind ``oauth2_authorization_code``); quota errors are
429 with ``Retry-After`` (a fault, ``fail_next`` with ``retry_after``); 401 bodies are
``{"statusCode": 401, "message": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from aiohttp import web

from ..datagen import candidate_email, candidate_external_id, offering_seeds, progress_seeds
from ..pipeline import BadRequest, json_error, npo_route
from ..state import SimulatedNpo
from ..timefmt import iso_z
from .base import (
    Flavour,
    IdFormat,
    Record,
    offset_page,
    read_json_object,
    record_enrolment,
)

NAME = "blackbaud"
PARTICIPANT_ID_BASE = 5_000
_RSVP = {"enrolled": "Attending", "in_progress": "Attending", "completed": "Attending"}


def _unauthorized(reason: str) -> web.Response:
    return web.json_response({"statusCode": 401, "message": reason}, status=401)


route = partial(npo_route, NAME, unauthorized=_unauthorized)


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    seeds = offering_seeds(npo_id, offerings)
    events = [
        {
            "id": str(s.number),
            "name": s.title,
            "description": s.description_html,
            "category": {"name": "Training"},
            "start_date": s.starts_on.isoformat(),
            "end_date": s.ends_on.isoformat(),
            "capacity": s.capacity,
            "inactive": not s.active,
            "date_modified": iso_z(s.updated_at),
        }
        for s in seeds
    ]
    participants = [
        {
            "id": str(PARTICIPANT_ID_BASE + p.number),
            "event_id": str(p.offering_number),
            "constituent_id": candidate_external_id(p.candidate_number),
            "email": candidate_email(p.candidate_number),
            "rsvp_status": _RSVP[p.state],
            "attended": p.state == "completed",
            "date_modified": iso_z(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, [s.number for s in seeds])
    ]
    return events, participants


def _page(
    request: web.Request, npo: SimulatedNpo, kind: str, event_id: str | None = None
) -> web.Response:
    records: Iterable[Record] = FLAVOUR.records(npo, kind).values()
    if event_id is not None:
        records = [r for r in records if r["event_id"] == event_id]
    page = offset_page(request, npo, records, FLAVOUR.keys[kind])
    body: dict[str, Any] = {"count": page.total, "value": page.records}
    if page.more:
        body["next_link"] = str(
            request.url.update_query(offset=page.offset + page.limit, limit=page.limit)
        )
    return web.json_response(body)


@route("offerings")
async def event_list(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _page(request, npo, "offerings")


@route("progress")
async def participant_list(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _page(request, npo, "progress")


@route("progress")
async def event_participant_list(request: web.Request, npo: SimulatedNpo) -> web.Response:
    event_id = request.match_info["event_id"]
    if event_id not in FLAVOUR.records(npo, "offerings"):
        return json_error(404, "not_found", f"no event {event_id!r}")
    return _page(request, npo, "progress", event_id)


@route("enrol")
async def create_participant(request: web.Request, npo: SimulatedNpo) -> web.Response:
    event_id = request.match_info["event_id"]
    body = await read_json_object(request)
    constituent = body.get("constituent_id")
    if not isinstance(constituent, str) or not constituent:
        raise BadRequest("constituent_id is required")
    if event_id not in FLAVOUR.records(npo, "offerings"):
        return json_error(404, "not_found", f"no event {event_id!r}")
    ident = str(FLAVOUR.new_id(npo, "progress"))
    FLAVOUR.records(npo, "progress")[ident] = {
        "id": ident,
        "event_id": event_id,
        "constituent_id": constituent,
        "email": body.get("email"),
        "rsvp_status": body.get("rsvp_status", "Attending"),
        "attended": False,
        "date_modified": FLAVOUR.touch(request, npo),
    }
    record_enrolment(request, npo, ident, event_id, {"constituent_id": constituent}, body)
    return web.json_response({"id": ident})


def register(router: web.UrlDispatcher) -> None:
    base = "/npos/{npo_id}/event/v1"
    router.add_get(f"{base}/eventlist", event_list)
    router.add_get(f"{base}/participants", participant_list)
    router.add_get(f"{base}/events/{{event_id}}/participants", event_participant_list)
    router.add_post(f"{base}/events/{{event_id}}/participants", create_participant)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "id", "progress": "id"},
    ids={"offerings": IdFormat(), "progress": IdFormat()},
    modified_field="date_modified",
    stamp=iso_z,
    endpoints={
        "offerings": "GET /event/v1/eventlist",
        "progress": "GET /event/v1/participants",
        "enrol": "POST /event/v1/events/{event_id}/participants",
    },
)
