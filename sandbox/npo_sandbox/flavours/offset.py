"""``offset``: a generic REST API with offset/limit pagination and a total count.

    GET    /npos/{id}/rest/programs?offset=O&limit=L     -> {"results": [...], "count": total}
    GET    /npos/{id}/rest/progress?offset=O&limit=L
    POST   /npos/{id}/rest/registrations    JSON {"program_id", "person": {...}}
    DELETE /npos/{id}/rest/registrations/{registration_id}

No incremental filter: clients re-read everything each poll.
"""

from __future__ import annotations

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

NAME = "offset"
route = partial(npo_route, NAME)
REGISTRATION_ID_BASE = 10_000
_STATUSES = {"enrolled": "registered", "in_progress": "attending", "completed": "graduated"}


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    seeds = offering_seeds(npo_id, offerings)
    programs = [
        {
            "program_id": s.number,
            "title": s.title,
            "blurb_html": s.description_html,
            "category": "course",
            "start_date": s.starts_on.isoformat(),
            "max_participants": s.capacity,
            "active": s.active,
            "last_modified": iso_z(s.updated_at),
        }
        for s in seeds
    ]
    registrations = [
        {
            "registration_id": REGISTRATION_ID_BASE + p.number,
            "program_id": p.offering_number,
            "person": {
                "ref": candidate_external_id(p.candidate_number),
                "email": candidate_email(p.candidate_number),
            },
            "status": _STATUSES[p.state],
            "pct_complete": p.percent,
            "last_modified": iso_z(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, [s.number for s in seeds])
    ]
    return programs, registrations


def _slice(request: web.Request, npo: SimulatedNpo, kind: str) -> web.Response:
    page = offset_page(request, npo, FLAVOUR.records(npo, kind).values(), FLAVOUR.keys[kind])
    return web.json_response({"results": page.records, "count": page.total})


@route("offerings")
async def list_programs(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _slice(request, npo, "offerings")


@route("progress")
async def list_progress(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _slice(request, npo, "progress")


@route("enrol")
async def register_person(request: web.Request, npo: SimulatedNpo) -> web.Response:
    body = await read_json_object(request)
    person = body.get("person")
    program_id: Any = body.get("program_id")  # any JSON value; unknown ones get a 422 below
    if not isinstance(person, dict) or not person.get("ref"):
        raise BadRequest("person.ref is required")
    if str(program_id) not in FLAVOUR.records(npo, "offerings"):
        return json_error(422, "unknown_program", f"no program {program_id!r}")
    ident = FLAVOUR.new_id(npo, "progress")
    FLAVOUR.records(npo, "progress")[str(ident)] = {
        "registration_id": ident,
        "program_id": int(program_id),
        "person": {"ref": person["ref"], "email": person.get("email")},
        "status": "registered",
        "pct_complete": 0,
        "last_modified": FLAVOUR.touch(request, npo),
    }
    record_enrolment(request, npo, ident, program_id, person, body)
    return web.json_response({"registration_id": ident, "status": "registered"}, status=201)


@route("unenrol")
async def cancel_registration(request: web.Request, npo: SimulatedNpo) -> web.Response:
    ident = request.match_info["registration_id"]
    if FLAVOUR.records(npo, "progress").pop(ident, None) is None:
        return json_error(404, "not_found", f"no registration {ident!r}")
    npo.mark_enrolment(ident, "unenrolled")
    return web.Response(status=204)


def register(router: web.UrlDispatcher) -> None:
    base = "/npos/{npo_id}/rest"
    router.add_get(f"{base}/programs", list_programs)
    router.add_get(f"{base}/progress", list_progress)
    router.add_post(f"{base}/registrations", register_person)
    router.add_delete(f"{base}/registrations/{{registration_id}}", cancel_registration)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "program_id", "progress": "registration_id"},
    ids={"offerings": IdFormat(integer=True), "progress": IdFormat(integer=True)},
    modified_field="last_modified",
    stamp=iso_z,
    endpoints={
        "offerings": "GET /rest/programs",
        "progress": "GET /rest/progress",
        "enrol": "POST /rest/registrations",
        "unenrol": "DELETE /rest/registrations/{registration_id}",
    },
)
