"""``civicrm``: CiviCRM APIv4 over HTTP (the AJAX end-point), as CRM/Api4/Page/AJAX.php serves it.

    GET|POST /npos/{id}/civicrm/ajax/api4/{Entity}/{action}?params=<JSON>   (or params in a form)
             X-Requested-With: XMLHttpRequest   (else 400: "SECURITY ALERT ...")
             X-Civi-Auth: Bearer <api key>      (AuthX; the NPO's api_key_header setting)

    Event.get        where, limit, offset -> {"values": [event], "count", "countFetched",
                                              "countMatched", "entity", "action", "version": 4}
    Participant.get  the same, where on contact_id / event_id
    Participant.create  values {contact_id, event_id, status_id:name, role_id:name} (POST only)
    Participant.delete  where [["id", "=", N]] (POST only)

A GET of an action that is not a get is 405; a failed call is 500 (403 for a permission error)
with ``{"error_code", "error_message", "status"}``, how the AJAX page answers them. CiviCRM writes
datetimes as ``YYYY-MM-DD HH:MM:SS`` in the site's time zone (UTC here). Participants have no
modified date in CiviCRM; the simulator keeps one for its own bookkeeping and never shows it.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web

from ..datagen import USER_ID_BASE, offering_seeds, progress_seeds
from ..pipeline import npo_route
from ..reqkeys import CIVICRM_PARAMS
from ..state import STATE_KEY, SimulatedNpo
from ..timefmt import iso_z
from .base import Flavour, IdFormat, Record, by_id, read_params, record_enrolment

NAME = "civicrm"
EVENT_ID_BASE = 100
_HIDDEN = ("modified_date",)
_STATUS = {"enrolled": "Registered", "in_progress": "Attended", "completed": "Attended"}
_KINDS = {
    ("Event", "get"): "offerings",
    ("Participant", "get"): "progress",
    ("Participant", "create"): "enrol",
    ("Participant", "delete"): "unenrol",
}


class CiviError(Exception):
    """A failed API call: the AJAX page's status and body."""

    def __init__(self, message: str, status: int = 500, code: Any = 0) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error_code": code, "error_message": message, "status": status}


def _answer(error: CiviError) -> web.Response:
    return web.json_response(error.body, status=error.status)


def unauthorized(reason: str) -> web.Response:
    return web.json_response(
        {"error_code": 401, "error_message": "Invalid credential", "status": 401}, status=401
    )


route = partial(npo_route, NAME, unauthorized=unauthorized)


def _civi_time(moment: datetime) -> str:
    return iso_z(moment).replace("T", " ").removesuffix("Z")[:19]


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    seeds = offering_seeds(npo_id, offerings)
    events = [
        {
            "id": EVENT_ID_BASE + s.number,
            "title": s.title,
            "summary": s.title,
            "description": s.description_html,
            "event_type_id:name": "Workshop",
            "start_date": f"{s.starts_on.isoformat()} 09:00:00",
            "end_date": f"{s.ends_on.isoformat()} 17:00:00",
            "max_participants": s.capacity,
            "is_active": s.active,
            "is_public": True,
            "modified_date": _civi_time(s.updated_at),
        }
        for s in seeds
    ]
    participants = [
        {
            "id": 5000 + p.number,
            "contact_id": USER_ID_BASE + p.candidate_number,
            "event_id": EVENT_ID_BASE + p.offering_number,
            "status_id:name": _STATUS[p.state],
            "role_id:name": ["Attendee"],
            "register_date": _civi_time(p.updated_at),
            "is_test": False,
            "modified_date": _civi_time(p.updated_at),
        }
        for p in progress_seeds(npo_id, progress, [s.number for s in seeds])
    ]
    return events, participants


async def _params(request: web.Request) -> dict[str, Any]:
    if CIVICRM_PARAMS not in request:
        raw = (await read_params(request)).get("params") or "{}"
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError:
            decoded = None
        request[CIVICRM_PARAMS] = decoded if isinstance(decoded, dict) else {"_invalid": raw}
    params: dict[str, Any] = request[CIVICRM_PARAMS]
    return params


async def _kind(request: web.Request, npo: SimulatedNpo) -> str:
    key = (request.match_info["entity"], request.match_info["action"])
    kind = _KINDS.get(key, "other")
    if kind == "progress" and any(
        clause[:1] == ["contact_id"] for clause in (await _params(request)).get("where", [])
    ):
        return "lookup"
    return kind


def _matches(record: Record, where: Any) -> bool:
    if not isinstance(where, list):
        raise CiviError("where must be a list of [field, operator, value] clauses")
    for clause in where:
        if not (isinstance(clause, list) and len(clause) == 3 and clause[1] in ("=", ">=", ">")):
            raise CiviError(f"unsupported where clause {clause!r}")
        field, operator, value = clause
        have = record.get(field)
        if isinstance(value, bool) or isinstance(have, bool):
            have, value = bool(have), bool(value)
        if operator == "=" and str(have) != str(value):
            return False
        if operator in (">", ">=") and not (have is not None and str(have) >= str(value)):
            return False
        if operator == ">" and str(have) == str(value):
            return False
    return True


def _shown(record: Record) -> Record:
    return {k: v for k, v in record.items() if k not in _HIDDEN}


def _result(entity: str, action: str, values: list[Record], matched: int | None) -> web.Response:
    body: dict[str, Any] = {
        "values": values,
        "entity": entity,
        "action": action,
        "debug": None,
        "version": 4,
        "count": len(values),
        "countFetched": len(values),
    }
    if matched is not None:
        body["countMatched"] = matched
    return web.json_response(body)


def _get(npo: SimulatedNpo, kind: str, params: dict[str, Any]) -> tuple[list[Record], int]:
    records = by_id(FLAVOUR.records(npo, kind).values(), "id")
    found = [r for r in records if _matches(r, params.get("where", []))]
    limit, offset = params.get("limit", 0), params.get("offset", 0)
    if not isinstance(limit, int) or not isinstance(offset, int) or limit < 0 or offset < 0:
        raise CiviError("limit and offset must be whole numbers")
    page = found[offset : offset + limit] if limit else found[offset:]
    return [_shown(r) for r in page], len(found)


async def _create(request: web.Request, npo: SimulatedNpo, params: dict[str, Any]) -> Record:
    values = params.get("values")
    if not isinstance(values, dict):
        raise CiviError("Mandatory values missing from Api4 Participant::create: values")
    contact, event = str(values.get("contact_id")), str(values.get("event_id"))
    if not contact.isdigit() or not event.isdigit():
        raise CiviError(
            "Mandatory values missing from Api4 Participant::create: contact_id, event_id"
        )
    if event not in FLAVOUR.records(npo, "offerings"):
        raise CiviError(f"Invalid event_id: {event}")
    when = npo.next_stamp(request.app[STATE_KEY].now())
    patch = {
        "contact_id": int(contact),
        "event_id": int(event),
        "status_id:name": values.get("status_id:name", "Registered"),
        "role_id:name": values.get("role_id:name", ["Attendee"]),
        "register_date": _civi_time(when),
        "is_test": bool(values.get("is_test", False)),
    }
    record, _ = FLAVOUR.upsert(npo, "progress", patch, when)
    record_enrolment(request, npo, record["id"], event, {"contact_id": int(contact)}, params)
    return _shown(record)


@route(_kind)
async def api4(request: web.Request, npo: SimulatedNpo) -> web.Response:
    entity, action = request.match_info["entity"], request.match_info["action"]
    if request.headers.get("X-Requested-With") != "XMLHttpRequest":
        return _answer(
            CiviError(
                "SECURITY ALERT: Ajax requests can only be issued by javascript clients, "
                "eg. CRM.api4().",
                status=400,
                code=400,
            )
        )
    if request.method == "GET" and not action.lower().startswith("get"):
        return _answer(
            CiviError(
                "SECURITY: All requests that modify the database must be http POST, not GET.",
                status=405,
                code=405,
            )
        )
    kind = _KINDS.get((entity, action))
    try:
        params = await _params(request)
        if "_invalid" in params:
            raise CiviError("params is not valid JSON")
        if kind in ("offerings", "progress"):
            values, matched = _get(npo, kind, params)
            return _result(entity, action, values, matched)
        if kind == "enrol":
            return _result(entity, action, [await _create(request, npo, params)], None)
        if kind == "unenrol":
            records = FLAVOUR.records(npo, "progress")
            gone = [r for r in records.values() if _matches(r, params.get("where", []))]
            for record in gone:
                del records[str(record["id"])]
                npo.mark_enrolment(record["id"], "unenrolled")
            return _result(entity, action, [{"id": r["id"]} for r in gone], None)
        raise CiviError(f"Api4 {entity}::{action} not found.")
    except CiviError as exc:
        return _answer(exc)


def register(router: web.UrlDispatcher) -> None:
    path = "/npos/{npo_id}/civicrm/ajax/api4/{entity}/{action}"
    router.add_get(path, api4)
    router.add_post(path, api4)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "id", "progress": "id"},
    ids={"offerings": IdFormat(integer=True), "progress": IdFormat(integer=True)},
    modified_field="modified_date",
    stamp=_civi_time,
    endpoints={
        kind: f"GET|POST /civicrm/ajax/api4/{entity}/{action}"
        for (entity, action), kind in _KINDS.items()
    },
)
