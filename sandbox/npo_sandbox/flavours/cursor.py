"""``cursor``: a generic CRM with opaque-cursor (keyset) pagination.

    GET    /npos/{id}/v2/offerings?limit=M&cursor=C&updated_since=ISO
    GET    /npos/{id}/v2/participations?limit=M&cursor=C&updated_since=ISO
    POST   /npos/{id}/v2/participations          JSON {"offering_id", "participant": {...}}
    DELETE /npos/{id}/v2/participations/{participation_id}

Items come in (updated_at, id) order; ``meta.next_cursor`` is null on the last
page. The cursor is the position after the last item, so records changed
mid-walk move to the end instead of shifting pages. ``updated_since`` is
inclusive (>=): an incremental client sees its high-water record again.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import partial

from aiohttp import web

from ..datagen import candidate_email, candidate_external_id, offering_seeds, progress_seeds
from ..pipeline import BadRequest, json_error, npo_route
from ..state import SimulatedNpo
from ..timefmt import iso_offset
from .base import (
    Flavour,
    IdFormat,
    Record,
    by_modified,
    modified_since,
    natural,
    page_size,
    read_json_object,
    record_enrolment,
    since_param,
)

NAME = "cursor"
route = partial(npo_route, NAME)
_OFFERING_ID = IdFormat("ofr_", 4)
_PARTICIPATION_ID = IdFormat("par_", 4)
_STATUSES = {"enrolled": "registered", "in_progress": "active", "completed": "finished"}


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    seeds = offering_seeds(npo_id, offerings)
    items = [
        {
            "id": _OFFERING_ID.make(s.number),
            "name": s.title,
            "details": {
                "description_html": s.description_html,
                "starts": s.starts_on.isoformat(),
                "seats": s.capacity,
            },
            "status": "open" if s.active else "closed",
            "updated_at": iso_offset(s.updated_at),
        }
        for s in seeds
    ]
    participations = [
        {
            "id": _PARTICIPATION_ID.make(p.number),
            "offering_id": _OFFERING_ID.make(p.offering_number),
            "participant": {
                "external_ref": candidate_external_id(p.candidate_number),
                "email": candidate_email(p.candidate_number),
            },
            "status": _STATUSES[p.state],
            "completion": round(p.percent / 100, 2),
            "updated_at": iso_offset(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, [s.number for s in seeds])
    ]
    return items, participations


def _encode(record: Record) -> str:
    position = json.dumps([record["updated_at"], record["id"]]).encode()
    return base64.urlsafe_b64encode(position).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str]:
    try:
        updated_at, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return str(updated_at), str(ident)
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest(f"invalid cursor {cursor!r}") from None


def _list(request: web.Request, npo: SimulatedNpo, kind: str) -> web.Response:
    query = request.query
    limit = page_size(query, "limit", npo)
    records = modified_since(
        FLAVOUR.records(npo, kind).values(), "updated_at", since_param(query, "updated_since")
    )
    ordered = by_modified(records, "updated_at", "id")
    if query.get("cursor"):
        after_time, after_id = _decode(query["cursor"])
        after = (after_time, natural(after_id))
        ordered = [r for r in ordered if (r["updated_at"], natural(r["id"])) > after]
    page = ordered[:limit]
    next_cursor = _encode(page[-1]) if len(ordered) > limit else None
    return web.json_response({"items": page, "meta": {"next_cursor": next_cursor}})


@route("offerings")
async def list_offerings(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _list(request, npo, "offerings")


@route("progress")
async def list_participations(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _list(request, npo, "progress")


@route("enrol")
async def create_participation(request: web.Request, npo: SimulatedNpo) -> web.Response:
    body = await read_json_object(request)
    participant = body.get("participant")
    offering_id = body.get("offering_id")
    if not isinstance(participant, dict) or not participant.get("external_ref"):
        raise BadRequest("participant.external_ref is required")
    if str(offering_id) not in FLAVOUR.records(npo, "offerings"):
        return json_error(422, "unknown_offering", f"no offering {offering_id!r}")
    ident = FLAVOUR.new_id(npo, "progress")
    participation = {
        "id": ident,
        "offering_id": offering_id,
        "participant": {
            "external_ref": participant["external_ref"],
            "email": participant.get("email"),
        },
        "status": "registered",
        "completion": 0.0,
        "updated_at": FLAVOUR.touch(request, npo),
    }
    FLAVOUR.records(npo, "progress")[ident] = participation
    record_enrolment(request, npo, ident, offering_id, participant, body)
    return web.json_response(participation, status=201)


@route("unenrol")
async def delete_participation(request: web.Request, npo: SimulatedNpo) -> web.Response:
    ident = request.match_info["participation_id"]
    if FLAVOUR.records(npo, "progress").pop(ident, None) is None:
        return json_error(404, "not_found", f"no participation {ident!r}")
    npo.mark_enrolment(ident, "unenrolled")
    return web.Response(status=204)


def register(router: web.UrlDispatcher) -> None:
    base = "/npos/{npo_id}/v2"
    router.add_get(f"{base}/offerings", list_offerings)
    router.add_get(f"{base}/participations", list_participations)
    router.add_post(f"{base}/participations", create_participation)
    router.add_delete(f"{base}/participations/{{participation_id}}", delete_participation)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "id", "progress": "id"},
    ids={"offerings": _OFFERING_ID, "progress": _PARTICIPATION_ID},
    modified_field="updated_at",
    stamp=iso_offset,
    endpoints={
        "offerings": "GET /v2/offerings",
        "progress": "GET /v2/participations",
        "enrol": "POST /v2/participations",
        "unenrol": "DELETE /v2/participations/{participation_id}",
    },
)
