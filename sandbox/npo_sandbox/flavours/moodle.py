"""``moodle``: Moodle web services: one endpoint, function by name, errors as HTTP 200.

    GET|POST /npos/{id}/webservice/rest/server.php
             ?wstoken=T&wsfunction=F&moodlewsrestformat=json   (params in query or form body)

    core_course_get_courses                          -> [course]; id 1 is the "site" front page
    local_spotlight_progress  offset, limit, since   -> {"records": [...], "total": n}
    enrol_manual_enrol_users  enrolments[i][roleid|userid|courseid] (POST form)  -> null
    enrol_manual_unenrol_users enrolments[i][userid|courseid]                    -> null
    core_user_get_users_by_field field=id|idnumber|email|username, values[i]    -> [user]

Every failure (bad token, unknown function, bad params) is HTTP 200 with
``{"exception", "errorcode", "message"}``, which is how Moodle reports them.
Any candidate "has an account": user ids derive from the external id/email.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from datetime import time as dtime
from functools import partial
from typing import Any

from aiohttp import web

from ..datagen import (
    GEN_START,
    USER_ID_BASE,
    candidate_email,
    candidate_external_id,
    candidate_number,
    offering_seeds,
    progress_seeds,
)
from ..idempotency import note_enrolment
from ..pipeline import npo_route
from ..reqkeys import MOODLE_PARAMS
from ..state import SimulatedNpo
from ..timefmt import epoch
from .base import Flavour, IdFormat, Record, by_id, by_modified, read_params, record_enrolment

NAME = "moodle"
SITE_COURSE_ID = 1
_FUNCTION_KINDS = {
    "core_course_get_courses": "offerings",
    "local_spotlight_progress": "progress",
    "enrol_manual_enrol_users": "enrol",
    "enrol_manual_unenrol_users": "unenrol",
    "core_user_get_users_by_field": "lookup",
}


class MoodleError(Exception):
    """A Moodle exception, answered as HTTP 200 JSON."""

    def __init__(self, exception: str, errorcode: str, message: str) -> None:
        super().__init__(message)
        self.payload = {"exception": exception, "errorcode": errorcode, "message": message}


def _invalid(detail: str) -> MoodleError:
    message = f"Invalid parameter value detected ({detail})"
    return MoodleError("invalid_parameter_exception", "invalidparameter", message)


def unauthorized(reason: str) -> web.Response:
    return web.json_response(
        MoodleError("moodle_exception", "invalidtoken", "Invalid token - token not found").payload
    )


route = partial(npo_route, NAME, unauthorized=unauthorized)


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    """The site course (id 1) plus ``offerings`` real courses with ids 2.."""
    seeds = offering_seeds(npo_id, offerings)
    site = {
        "id": SITE_COURSE_ID,
        "fullname": f"{npo_id} learning site",
        "shortname": "site",
        "summary": "",
        "startdate": 0,
        "enddate": 0,
        "visible": 1,
        "format": "site",
        "timemodified": epoch(GEN_START),
    }
    courses = [site] + [
        {
            "id": SITE_COURSE_ID + s.number,
            "fullname": s.title,
            "shortname": f"C{s.number:03d}",
            "summary": s.description_html,
            "startdate": _midnight(s.starts_on),
            "enddate": _midnight(s.ends_on),
            "visible": 1 if s.active else 0,
            "format": "topics",
            "timemodified": epoch(s.updated_at),
        }
        for s in seeds
    ]
    records = [
        {
            "userid": USER_ID_BASE + p.candidate_number,
            "courseid": SITE_COURSE_ID + p.offering_number,
            "enrolid": 7000 + p.number,
            "progress": f"{p.percent / 100:.2f}",
            "completed": 1 if p.state == "completed" else 0,
            "timemodified": epoch(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, [s.number for s in seeds])
    ]
    return courses, records


def _midnight(day: date) -> int:
    return epoch(datetime.combine(day, dtime(), UTC))


def _int(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise _invalid(f"{name} must be a non-negative integer")
    return int(raw)


def _indexed(params: Mapping[str, str], name: str) -> list[dict[str, str]]:
    """``enrolments[0][userid]=5`` style keys as a list of dicts, in index order."""
    pattern = re.compile(rf"^{re.escape(name)}\[(\d+)\]\[(\w+)\]$")
    rows: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [rows[i] for i in sorted(rows)]


def _values(params: Mapping[str, str], name: str) -> list[str]:
    """``values[0]=a&values[1]=b`` as a list."""
    pattern = re.compile(rf"^{re.escape(name)}\[(\d+)\]$")
    found = {int(m.group(1)): v for k, v in params.items() if (m := pattern.match(k))}
    return [found[i] for i in sorted(found)]


def _ids(row: dict[str, str], *names: str) -> list[int]:
    try:
        return [int(row[name]) for name in names]
    except (KeyError, ValueError):
        raise _invalid(f"enrolments need integer {', '.join(names)}") from None


def _find(npo: SimulatedNpo, userid: int, courseid: int) -> Record | None:
    return next(
        (
            r
            for r in FLAVOUR.records(npo, "progress").values()
            if r["userid"] == userid and r["courseid"] == courseid
        ),
        None,
    )


async def get_courses(request: web.Request, npo: SimulatedNpo, params: Mapping[str, str]) -> Any:
    wanted = {int(v) for v in _values(params, "options[ids]") if v.isdigit()}
    courses = by_id(FLAVOUR.records(npo, "offerings").values(), "id")
    return [c for c in courses if not wanted or c["id"] in wanted]


async def get_progress(request: web.Request, npo: SimulatedNpo, params: Mapping[str, str]) -> Any:
    offset = _int(params, "offset", 0) or 0
    limit = _int(params, "limit", npo.options.page_size) or 0
    if limit > npo.options.max_page_size:
        raise _invalid(f"limit must be at most {npo.options.max_page_size}")
    since = _int(params, "since", None)
    rows = by_modified(FLAVOUR.records(npo, "progress").values(), "timemodified", "enrolid")
    if since is not None:
        rows = [r for r in rows if r["timemodified"] >= since]
    page = rows[offset : offset + limit] if limit else rows[offset:]
    return {"records": page, "total": len(rows)}


async def enrol_users(request: web.Request, npo: SimulatedNpo, params: Mapping[str, str]) -> Any:
    rows = _indexed(params, "enrolments")
    if not rows:
        raise _invalid("enrolments is required")
    wanted = [_ids(row, "roleid", "userid", "courseid") for row in rows]
    courses = FLAVOUR.records(npo, "offerings")
    for _, _, courseid in wanted:
        if courseid == SITE_COURSE_ID or str(courseid) not in courses:
            raise MoodleError(
                "moodle_exception",
                "wsnoinstance",
                "Manual enrolment plugin instance doesn't exist or is disabled "
                f"for the course (id = {courseid})",
            )
    body = dict(params)
    for _, userid, courseid in wanted:
        existing = _find(npo, userid, courseid)
        if existing is not None:
            record = npo.find_enrolment(existing["enrolid"])
            if record is not None:
                record.count += 1
                note_enrolment(request, record)
            continue
        enrolid = FLAVOUR.new_id(npo, "progress")
        FLAVOUR.records(npo, "progress")[str(enrolid)] = {
            "userid": userid,
            "courseid": courseid,
            "enrolid": enrolid,
            "progress": "0.00",
            "completed": 0,
            "timemodified": FLAVOUR.touch(request, npo),
        }
        record_enrolment(request, npo, enrolid, courseid, {"userid": userid}, body)
    return None


async def unenrol_users(request: web.Request, npo: SimulatedNpo, params: Mapping[str, str]) -> Any:
    rows = _indexed(params, "enrolments")
    if not rows:
        raise _invalid("enrolments is required")
    for userid, courseid in [_ids(row, "userid", "courseid") for row in rows]:
        existing = _find(npo, userid, courseid)
        if existing is not None:
            del FLAVOUR.records(npo, "progress")[str(existing["enrolid"])]
            npo.mark_enrolment(existing["enrolid"], "unenrolled")
    return None


async def get_users(request: web.Request, npo: SimulatedNpo, params: Mapping[str, str]) -> Any:
    field = params.get("field", "")
    if field not in {"id", "idnumber", "email", "username"}:
        raise _invalid("field must be one of id, idnumber, email, username")
    users = []
    for value in _values(params, "values"):
        if field == "id":
            if not value.isdigit() or int(value) <= USER_ID_BASE:
                continue
            number = int(value) - USER_ID_BASE
        elif field == "username" and value.startswith("cand") and value[4:].isdigit():
            number = int(value[4:])
        else:
            number = candidate_number(value)
        users.append(
            {
                "id": USER_ID_BASE + number,
                "username": f"cand{number}",
                "firstname": "Candidate",
                "lastname": str(number),
                "fullname": f"Candidate {number}",
                "email": value if field == "email" else candidate_email(number),
                "idnumber": value if field == "idnumber" else candidate_external_id(number),
            }
        )
    return users


Function = Callable[[web.Request, SimulatedNpo, Mapping[str, str]], Awaitable[Any]]
_FUNCTIONS: dict[str, Function] = {
    "core_course_get_courses": get_courses,
    "local_spotlight_progress": get_progress,
    "enrol_manual_enrol_users": enrol_users,
    "enrol_manual_unenrol_users": unenrol_users,
    "core_user_get_users_by_field": get_users,
}


async def _params(request: web.Request) -> Mapping[str, str]:
    if MOODLE_PARAMS not in request:
        request[MOODLE_PARAMS] = await read_params(request)
    params: Mapping[str, str] = request[MOODLE_PARAMS]  # what read_params returned
    return params


async def _kind(request: web.Request, npo: SimulatedNpo) -> str:
    return _FUNCTION_KINDS.get((await _params(request)).get("wsfunction", ""), "other")


_XML_ONLY = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class="invalid_parameter_exception">'
    "<ERRORCODE>invalidparameter</ERRORCODE>"
    "<MESSAGE>the sandbox answers only moodlewsrestformat=json</MESSAGE></EXCEPTION>\n"
)


@route(_kind)
async def server_php(request: web.Request, npo: SimulatedNpo) -> web.Response:
    params = await _params(request)
    if params.get("moodlewsrestformat") != "json":
        return web.Response(text=_XML_ONLY, content_type="application/xml")
    function = _FUNCTIONS.get(params.get("wsfunction", ""))
    try:
        if function is None:
            raise MoodleError(
                "dml_missing_record_exception",
                "invalidrecord",
                "Can't find data record in database table external_functions.",
            )
        return web.json_response(await function(request, npo, params))
    except MoodleError as exc:
        return web.json_response(exc.payload)


def register(router: web.UrlDispatcher) -> None:
    path = "/npos/{npo_id}/webservice/rest/server.php"
    router.add_get(path, server_php)
    router.add_post(path, server_php)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "id", "progress": "enrolid"},
    ids={"offerings": IdFormat(integer=True), "progress": IdFormat(integer=True)},
    modified_field="timemodified",
    stamp=epoch,
    endpoints={
        kind: f"GET|POST /webservice/rest/server.php?wsfunction={function}"
        for function, kind in _FUNCTION_KINDS.items()
    },
)
