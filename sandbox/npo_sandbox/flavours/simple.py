"""``simple``: the walking-skeleton NPO API, page-number pagination.

    GET    /npos/{id}/api/offerings?page=N&per_page=M[&updated_since=ISO]
    GET    /npos/{id}/api/progress?page=N&per_page=M[&updated_since=ISO]
    POST   /npos/{id}/api/enrolments          JSON {"candidate": {...}, "offering_id": "..."}
    DELETE /npos/{id}/api/enrolments/{enrolment_id}
    GET    /npos/{id}/api/enrolments?candidate_external_id=X&offering_id=Y

Pages start at 1; a page past the end has empty ``data``.
"""

from __future__ import annotations

import math
from functools import partial

from aiohttp import web

from ..datagen import candidate_external_id, offering_seeds, progress_seeds
from ..pipeline import BadRequest, json_error, npo_route
from ..state import SimulatedNpo
from ..timefmt import iso_z
from .base import (
    Flavour,
    IdFormat,
    Record,
    by_id,
    int_param,
    modified_since,
    page_size,
    read_json_object,
    record_enrolment,
    since_param,
)

NAME = "simple"
route = partial(npo_route, NAME)
_OFFERING_ID = IdFormat("off-", 4)
_ENROLMENT_ID = IdFormat("enr-", 4)


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    seeds = offering_seeds(npo_id, offerings)
    offering_records = [
        {
            "id": _OFFERING_ID.make(s.number),
            "title": s.title,
            "description": s.description_html,
            "kind": "course",
            "starts_on": s.starts_on.isoformat(),
            "capacity": s.capacity,
            "updated_at": iso_z(s.updated_at),
        }
        for s in seeds
    ]
    progress_records = [
        {
            "enrolment_id": _ENROLMENT_ID.make(p.number),
            "offering_id": _OFFERING_ID.make(p.offering_number),
            "candidate_external_id": candidate_external_id(p.candidate_number),
            "state": p.state,
            "percent": p.percent,
            "updated_at": iso_z(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, [s.number for s in seeds])
    ]
    return offering_records, progress_records


def _page(request: web.Request, npo: SimulatedNpo, kind: str) -> web.Response:
    query = request.query
    page = int_param(query, "page", 1, lo=1)
    per_page = page_size(query, "per_page", npo)
    records = modified_since(
        FLAVOUR.records(npo, kind).values(), "updated_at", since_param(query, "updated_since")
    )
    ordered = by_id(records, FLAVOUR.keys[kind])
    data = ordered[(page - 1) * per_page : page * per_page]
    total_pages = math.ceil(len(ordered) / per_page)
    return web.json_response({"data": data, "page": page, "total_pages": total_pages})


@route("offerings")
async def list_offerings(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _page(request, npo, "offerings")


@route("progress")
async def list_progress(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _page(request, npo, "progress")


@route("enrol")
async def enrol(request: web.Request, npo: SimulatedNpo) -> web.Response:
    body = await read_json_object(request)
    candidate = body.get("candidate")
    offering_id = body.get("offering_id")
    if not isinstance(candidate, dict):
        raise BadRequest("candidate must be an object")
    if not candidate.get("external_id") or not candidate.get("email"):
        raise BadRequest("candidate.external_id and candidate.email are required")
    if str(offering_id) not in FLAVOUR.records(npo, "offerings"):
        return json_error(422, "unknown_offering", f"no offering {offering_id!r}")
    if npo.options.rejects_duplicates and any(
        r["candidate_external_id"] == candidate["external_id"] and r["offering_id"] == offering_id
        for r in FLAVOUR.records(npo, "progress").values()
    ):
        message = f"{candidate['external_id']!r} is already enrolled in {offering_id!r}"
        return json_error(409, "already_enrolled", message)
    enrolment_id = FLAVOUR.new_id(npo, "progress")
    FLAVOUR.records(npo, "progress")[enrolment_id] = {
        "enrolment_id": enrolment_id,
        "offering_id": offering_id,
        "candidate_external_id": candidate["external_id"],
        "state": "enrolled",
        "percent": 0,
        "updated_at": FLAVOUR.touch(request, npo),
    }
    record_enrolment(request, npo, enrolment_id, offering_id, candidate, body)
    return web.json_response({"enrolment_id": enrolment_id, "status": "enrolled"}, status=201)


@route("unenrol")
async def unenrol(request: web.Request, npo: SimulatedNpo) -> web.Response:
    enrolment_id = request.match_info["enrolment_id"]
    if FLAVOUR.records(npo, "progress").pop(enrolment_id, None) is None:
        return json_error(404, "not_found", f"no enrolment {enrolment_id!r}")
    npo.mark_enrolment(enrolment_id, "unenrolled")
    return web.Response(status=204)


@route("lookup")
async def find_enrolments(request: web.Request, npo: SimulatedNpo) -> web.Response:
    """Lets a client that lost an enrol response find out whether it took effect."""
    candidate = request.query.get("candidate_external_id")
    offering = request.query.get("offering_id")
    found = [
        r
        for r in FLAVOUR.records(npo, "progress").values()
        if (candidate is None or r["candidate_external_id"] == candidate)
        and (offering is None or r["offering_id"] == offering)
    ]
    return web.json_response(by_id(found, "enrolment_id"))


def register(router: web.UrlDispatcher) -> None:
    base = "/npos/{npo_id}/api"
    router.add_get(f"{base}/offerings", list_offerings)
    router.add_get(f"{base}/progress", list_progress)
    router.add_post(f"{base}/enrolments", enrol)
    router.add_get(f"{base}/enrolments", find_enrolments)
    router.add_delete(f"{base}/enrolments/{{enrolment_id}}", unenrol)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "id", "progress": "enrolment_id"},
    ids={"offerings": _OFFERING_ID, "progress": _ENROLMENT_ID},
    modified_field="updated_at",
    stamp=iso_z,
    endpoints={
        "offerings": "GET /api/offerings",
        "progress": "GET /api/progress",
        "enrol": "POST /api/enrolments",
        "unenrol": "DELETE /api/enrolments/{enrolment_id}",
        "lookup": "GET /api/enrolments",
    },
)
