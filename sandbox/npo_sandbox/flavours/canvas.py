"""``canvas``: Canvas LMS style, RFC 8288 ``Link`` header pagination.

    GET    /npos/{id}/api/v1/courses?page=N&per_page=M
    GET    /npos/{id}/api/v1/accounts/{account_id}/courses?page=N&per_page=M   (the same courses)
    GET    /npos/{id}/api/v1/courses/{course_id}/enrollments?page=N&per_page=M
    POST   /npos/{id}/api/v1/courses/{course_id}/enrollments   form enrollment[user_id]=...
    DELETE /npos/{id}/api/v1/courses/{course_id}/enrollments/{enrollment_id}?task=delete

Links (current, next, prev, first, last) are absolute unless the NPO option
``relative_links`` is set. On top of the requested count, ceil(count/10)
courses are ``workflow_state: deleted`` noise a filter must drop.
"""

from __future__ import annotations

import math
import random
from functools import partial
from typing import Any

from aiohttp import web

from ..datagen import (
    USER_ID_BASE,
    candidate_external_id,
    offering_seeds,
    progress_seeds,
    user_id_for,
)
from ..pipeline import npo_route
from ..state import SimulatedNpo
from ..timefmt import iso_z
from .base import (
    Flavour,
    IdFormat,
    Record,
    by_id,
    int_param,
    page_size,
    read_json_object,
    record_enrolment,
)

NAME = "canvas"
COURSE_ID_BASE = 100
ENROLLMENT_ID_BASE = 5000
_STATES = {"enrolled": "invited", "in_progress": "active", "completed": "completed"}
_ENROLLMENT_TYPES = {"StudentEnrollment", "TeacherEnrollment", "TaEnrollment", "ObserverEnrollment"}
_TASK_STATES = {
    "delete": "deleted",
    "conclude": "completed",
    "deactivate": "inactive",
    "inactivate": "inactive",
}


def _errors(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [{"message": message}]}, status=status)


def unauthorized(reason: str) -> web.Response:
    return web.json_response(
        {"errors": [{"message": "Invalid access token."}], "status": "unauthenticated"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
    )


route = partial(npo_route, NAME, unauthorized=unauthorized)


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    """``offerings`` live courses plus ceil(offerings/10) deleted ones, interleaved."""
    seeds = offering_seeds(npo_id, offerings + math.ceil(offerings / 10))
    numbers = range(1, len(seeds) + 1)
    deleted = set(random.Random(f"{npo_id}:canvas").sample(numbers, len(seeds) - offerings))
    courses = []
    for s in seeds:
        if s.number in deleted:
            state = "deleted"
        else:
            state = "available" if s.active else ("unpublished", "completed")[s.number % 2]
        courses.append(
            {
                "id": COURSE_ID_BASE + s.number,
                "name": s.title,
                "course_code": f"{s.title.split()[-2][:4].upper()}-{s.number:03d}",
                "public_description": s.description_html,
                "start_at": f"{s.starts_on.isoformat()}T08:00:00Z",
                "end_at": f"{s.ends_on.isoformat()}T17:00:00Z",
                "workflow_state": state,
                "updated_at": iso_z(s.updated_at),
            }
        )
    live = [s.number for s in seeds if s.number not in deleted]
    enrollments = [
        {
            "id": ENROLLMENT_ID_BASE + p.number,
            "user_id": USER_ID_BASE + p.candidate_number,
            "course_id": COURSE_ID_BASE + p.offering_number,
            "type": "StudentEnrollment",
            "enrollment_state": _STATES[p.state],
            "grades": {"current_score": None if p.state == "enrolled" else float(p.percent)},
            "sis_user_id": candidate_external_id(p.candidate_number),
            "updated_at": iso_z(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, live)
    ]
    return courses, enrollments


def _link_header(
    request: web.Request, npo: SimulatedNpo, page: int, per_page: int, last: int
) -> str:
    def url(number: int) -> str:
        query = {**request.query, "page": str(number), "per_page": str(per_page)}
        target = request.rel_url if npo.options.relative_links else request.url
        return str(target.with_query(query))

    rels = [("current", page)]
    if page < last:
        rels.append(("next", page + 1))
    if page > 1:
        rels.append(("prev", page - 1))
    rels += [("first", 1), ("last", last)]
    return ",".join(f'<{url(number)}>; rel="{rel}"' for rel, number in rels)


def _paged(request: web.Request, npo: SimulatedNpo, records: list[Record]) -> web.Response:
    page = int_param(request.query, "page", 1, lo=1)
    per_page = page_size(request.query, "per_page", npo)
    last = max(1, math.ceil(len(records) / per_page))
    body = records[(page - 1) * per_page : page * per_page]
    link = _link_header(request, npo, page, per_page, last)
    return web.json_response(body, headers={"Link": link})


def _course(npo: SimulatedNpo, course_id: str) -> Record | None:
    course = FLAVOUR.records(npo, "offerings").get(course_id)
    return None if course is None or course.get("workflow_state") == "deleted" else course


@route("offerings")
async def list_courses(request: web.Request, npo: SimulatedNpo) -> web.Response:
    return _paged(request, npo, by_id(FLAVOUR.records(npo, "offerings").values(), "id"))


@route("progress")
async def list_enrollments(request: web.Request, npo: SimulatedNpo) -> web.Response:
    course_id = request.match_info["course_id"]
    if _course(npo, course_id) is None:
        return _errors(404, "The specified resource does not exist.")
    enrollments = FLAVOUR.records(npo, "progress").values()
    rows = [e for e in enrollments if str(e["course_id"]) == course_id]
    return _paged(request, npo, by_id(rows, "id"))


async def _enrollment_params(request: web.Request) -> dict[str, Any]:
    """``enrollment[...]`` form fields, or the same under a JSON ``enrollment`` object."""
    if request.content_type == "application/json":
        nested = (await read_json_object(request)).get("enrollment")
        return dict(nested) if isinstance(nested, dict) else {}
    form = await request.post()
    return {
        key[len("enrollment[") : -1]: value
        for key, value in form.items()
        if key.startswith("enrollment[") and key.endswith("]")
    }


@route("enrol")
async def enrol(request: web.Request, npo: SimulatedNpo) -> web.Response:
    course_id = request.match_info["course_id"]
    if _course(npo, course_id) is None:
        return _errors(404, "The specified resource does not exist.")
    params = await _enrollment_params(request)
    user_ref = str(params.get("user_id") or "")
    sis_user_id = str(params.get("sis_user_id") or "")
    if user_ref.startswith("sis_user_id:"):
        sis_user_id, user_ref = user_ref.removeprefix("sis_user_id:"), ""
    if not user_ref and not sis_user_id:
        return _errors(400, "enrollment[user_id] or enrollment[sis_user_id] is required")
    if user_ref and not user_ref.isdigit():
        return _errors(400, "enrollment[user_id] must be a user id")
    kind = str(params.get("type") or "StudentEnrollment")
    if kind not in _ENROLLMENT_TYPES:
        return _errors(400, f"invalid enrollment[type] {kind!r}")
    enrollment_id = FLAVOUR.new_id(npo, "progress")
    now = FLAVOUR.touch(request, npo)
    enrollment = {
        "id": enrollment_id,
        "user_id": int(user_ref) if user_ref else user_id_for(sis_user_id),
        "course_id": int(course_id),
        "type": kind,
        "enrollment_state": str(params.get("enrollment_state") or "invited"),
        "grades": {"current_score": None},
        "sis_user_id": sis_user_id or None,
        "created_at": now,
        "updated_at": now,
    }
    FLAVOUR.records(npo, "progress")[str(enrollment_id)] = enrollment
    candidate = {"user_id": enrollment["user_id"], "sis_user_id": enrollment["sis_user_id"]}
    record_enrolment(request, npo, enrollment_id, course_id, candidate, params)
    return web.json_response(enrollment)


@route("unenrol")
async def unenrol(request: web.Request, npo: SimulatedNpo) -> web.Response:
    course_id, enrollment_id = request.match_info["course_id"], request.match_info["enrollment_id"]
    task = request.query.get("task", "conclude")
    if task not in _TASK_STATES:
        return _errors(400, f"invalid task {task!r}")
    enrollments = FLAVOUR.records(npo, "progress")
    enrollment = enrollments.get(enrollment_id)
    if enrollment is None or str(enrollment["course_id"]) != course_id:
        return _errors(404, "The specified resource does not exist.")
    state = _TASK_STATES[task]
    updated = {**enrollment, "enrollment_state": state, "updated_at": FLAVOUR.touch(request, npo)}
    if task == "delete":
        del enrollments[enrollment_id]
    else:
        enrollments[enrollment_id] = updated
    npo.mark_enrolment(enrollment_id, state)
    return web.json_response(updated)


def register(router: web.UrlDispatcher) -> None:
    base = "/npos/{npo_id}/api/v1/courses"
    router.add_get(base, list_courses)
    router.add_get("/npos/{npo_id}/api/v1/accounts/{account_id}/courses", list_courses)
    router.add_get(base + "/{course_id}/enrollments", list_enrollments)
    router.add_post(base + "/{course_id}/enrollments", enrol)
    router.add_delete(base + "/{course_id}/enrollments/{enrollment_id}", unenrol)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "id", "progress": "id"},
    ids={"offerings": IdFormat(integer=True), "progress": IdFormat(integer=True)},
    modified_field="updated_at",
    stamp=iso_z,
    endpoints={
        "offerings": "GET /api/v1/courses",
        "progress": "GET /api/v1/courses/{course_id}/enrollments",
        "enrol": "POST /api/v1/courses/{course_id}/enrollments",
        "unenrol": "DELETE /api/v1/courses/{course_id}/enrollments/{enrollment_id}?task=delete",
    },
)
