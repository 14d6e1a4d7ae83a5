"""``salesforce``: Nonprofit Cloud style REST: SOQL queries paged by ``nextRecordsUrl``.

    GET    /npos/{id}/services/data/v60.0/query?q=SELECT Id FROM Program__c
               [WHERE LastModifiedDate > 2026-11-20T10:00:00Z]          offerings
    GET    ...same with FROM ProgramEngagement__c                         progress
    GET    /npos/{id}/services/data/v60.0/query/{locator}                 next batch
    POST   /npos/{id}/services/data/v60.0/sobjects/ProgramEngagement__c   enrol (JSON)
    DELETE /npos/{id}/services/data/v60.0/sobjects/ProgramEngagement__c/{Id}

Any ``vNN.N`` version works. Batch size is the ``Sforce-Query-Options:
batchSize=N`` header, else the NPO's ``page_size``. A query result is a
snapshot, as in Salesforce: changes after the first batch do not shift it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from ..datagen import candidate_email, candidate_number, offering_seeds, progress_seeds
from ..pipeline import npo_route
from ..state import SimulatedNpo
from ..timefmt import salesforce_time
from . import soql
from .base import Flavour, IdFormat, Record, by_modified, record_enrolment

NAME = "salesforce"
PROGRAM = "Program__c"
ENGAGEMENT = "ProgramEngagement__c"
MAX_CURSORS = 50
_KINDS = {PROGRAM: "offerings", ENGAGEMENT: "progress"}
_STAGES = {"enrolled": "Enrolled", "in_progress": "In Progress", "completed": "Completed"}
_PROGRAM_ID = IdFormat("a0P", 12, "AAA")
_ENGAGEMENT_ID = IdFormat("a0E", 12, "AAA")
_CONTACT_ID = IdFormat("003", 12, "AAA")
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class _Cursor:
    """A query's snapshot, kept so its nextRecordsUrl keeps working."""

    sobject: str
    rows: list[Record]
    batch: int


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return web.json_response([error], status=status)


def unauthorized(reason: str) -> web.Response:
    return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")


route = partial(npo_route, NAME, unauthorized=unauthorized)


def _attributes(sobject: str, ident: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v60.0/sobjects/{sobject}/{ident}"}


def generate(npo_id: str, offerings: int, progress: int) -> tuple[list[Record], list[Record]]:
    seeds = offering_seeds(npo_id, offerings)
    programs = []
    for s in seeds:
        ident = str(_PROGRAM_ID.make(s.number))
        programs.append(
            {
                "attributes": _attributes(PROGRAM, ident),
                "Id": ident,
                "Name": s.title,
                "Description__c": s.description_html,
                "Status__c": "Active" if s.active else "Inactive",
                "StartDate__c": s.starts_on.isoformat(),
                "Capacity__c": s.capacity,
                "LastModifiedDate": salesforce_time(s.updated_at),
            }
        )
    engagements = []
    for p in progress_seeds(npo_id, progress, [s.number for s in seeds]):
        ident = str(_ENGAGEMENT_ID.make(p.number))
        engagements.append(
            {
                "attributes": _attributes(ENGAGEMENT, ident),
                "Id": ident,
                "Program__c": _PROGRAM_ID.make(p.offering_number),
                "Contact__c": _CONTACT_ID.make(p.candidate_number),
                "Contact__r": {"Email": candidate_email(p.candidate_number)},
                "Stage__c": _STAGES[p.state],
                "Progress__c": p.percent,
                "LastModifiedDate": salesforce_time(p.updated_at),
            }
        )
    return programs, engagements


def _batch_size(request: web.Request, npo: SimulatedNpo) -> int:
    match = _BATCH_SIZE.search(request.headers.get("Sforce-Query-Options", ""))
    return max(1, min(int(match.group(1)), 2000)) if match else npo.options.page_size


def _respond(
    request: web.Request, npo: SimulatedNpo, token: str, cursor: _Cursor, offset: int
) -> web.Response:
    batch = cursor.rows[offset : offset + cursor.batch]
    end = offset + len(batch)
    done = end >= len(cursor.rows)
    body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": done, "records": batch}
    if not done:
        version = request.match_info["version"]
        base = f"/npos/{npo.npo_id}/services/data/{version}"
        body["nextRecordsUrl"] = f"{base}/query/01g{token}-{end}"
    return web.json_response(body)


async def _query_kind(request: web.Request, npo: SimulatedNpo) -> str:
    try:
        return _KINDS.get(soql.parse(request.query.get("q", "")).sobject, "other")
    except soql.SoqlError:
        return "other"


async def _locator_kind(request: web.Request, npo: SimulatedNpo) -> str:
    token = request.match_info["locator"].rpartition("-")[0].removeprefix("01g")
    cursor = npo.cursors.get(token)
    return _KINDS.get(cursor.sobject, "other") if cursor else "other"


@route(_query_kind)
async def query(request: web.Request, npo: SimulatedNpo) -> web.Response:
    try:
        parsed = soql.parse(request.query.get("q", ""))
    except soql.SoqlError as exc:
        return _error(400, "MALFORMED_QUERY", str(exc))
    kind = _KINDS.get(parsed.sobject)
    if kind is None:
        return _error(400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.")
    ordered = by_modified(FLAVOUR.records(npo, kind).values(), "LastModifiedDate", "Id")
    rows = [r for r in ordered if parsed.matches(r)][: parsed.limit]
    token = secrets.token_hex(8)
    npo.cursors[token] = cursor = _Cursor(parsed.sobject, rows, _batch_size(request, npo))
    while len(npo.cursors) > MAX_CURSORS:
        npo.cursors.popitem(last=False)
    return _respond(request, npo, token, cursor, 0)


@route(_locator_kind)
async def query_more(request: web.Request, npo: SimulatedNpo) -> web.Response:
    token, _, offset = request.match_info["locator"].rpartition("-")
    cursor = npo.cursors.get(token.removeprefix("01g"))
    if cursor is None or not token.startswith("01g") or not offset.isdigit():
        return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    npo.cursors.move_to_end(token.removeprefix("01g"))
    return _respond(request, npo, token.removeprefix("01g"), cursor, int(offset))


def _missing(field: str) -> web.Response:
    message = f"Required fields are missing: [{field}]"
    return _error(400, "REQUIRED_FIELD_MISSING", message, [field])


def _not_found() -> web.Response:
    return _error(404, "NOT_FOUND", "The requested resource does not exist")


@route("enrol")
async def create_engagement(request: web.Request, npo: SimulatedNpo) -> web.Response:
    if request.match_info["sobject"] != ENGAGEMENT:
        return _not_found()
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "JSON_PARSER_ERROR", "request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "JSON_PARSER_ERROR", "expected a JSON object")
    program = body.get("Program__c")
    if not program:
        return _missing("Program__c")
    if str(program) not in FLAVOUR.records(npo, "offerings"):
        message = "invalid cross reference id"
        return _error(400, "INVALID_CROSS_REFERENCE_KEY", message, ["Program__c"])
    relation = body.get("Contact__r")
    email = relation.get("Email") if isinstance(relation, dict) else None
    contact = body.get("Contact__c")
    if not contact and email:
        contact = _CONTACT_ID.make(candidate_number(email))
    if not contact:
        return _missing("Contact__c")
    if npo.options.rejects_duplicates and any(
        e.get("Contact__c") == contact and str(e.get("Program__c")) == str(program)
        for e in FLAVOUR.records(npo, "progress").values()
    ):
        message = "duplicate value found: Contact_Program__c duplicates value on record"
        return _error(400, "DUPLICATE_VALUE", message, ["Contact__c", "Program__c"])
    ident = str(FLAVOUR.new_id(npo, "progress"))
    engagement = {
        **body,
        "attributes": _attributes(ENGAGEMENT, ident),
        "Id": ident,
        "Contact__c": contact,
        "Contact__r": {"Email": email},
        "Stage__c": body.get("Stage__c") or "Enrolled",
        "Progress__c": 0,
        "LastModifiedDate": FLAVOUR.touch(request, npo),
    }
    FLAVOUR.records(npo, "progress")[ident] = engagement
    candidate = {"Contact__c": contact, "Email": email}
    record_enrolment(request, npo, ident, program, candidate, body)
    return web.json_response({"id": ident, "success": True, "errors": []}, status=201)


@route("unenrol")
async def delete_engagement(request: web.Request, npo: SimulatedNpo) -> web.Response:
    ident = request.match_info["record_id"]
    engagements = FLAVOUR.records(npo, "progress")
    if request.match_info["sobject"] != ENGAGEMENT or engagements.pop(ident, None) is None:
        return _not_found()
    npo.mark_enrolment(ident, "unenrolled")
    return web.Response(status=204)


def register(router: web.UrlDispatcher) -> None:
    base = r"/npos/{npo_id}/services/data/{version:v\d+\.\d+}"
    router.add_get(f"{base}/query", query)
    router.add_get(f"{base}/query/{{locator}}", query_more)
    router.add_post(f"{base}/sobjects/{{sobject}}", create_engagement)
    router.add_delete(f"{base}/sobjects/{{sobject}}/{{record_id}}", delete_engagement)


FLAVOUR = Flavour(
    name=NAME,
    generate=generate,
    register=register,
    keys={"offerings": "Id", "progress": "Id"},
    ids={"offerings": _PROGRAM_ID, "progress": _ENGAGEMENT_ID},
    modified_field="LastModifiedDate",
    stamp=salesforce_time,
    endpoints={
        "offerings": "GET /services/data/v60.0/query?q=SELECT ... FROM Program__c",
        "progress": "GET /services/data/v60.0/query?q=SELECT ... FROM ProgramEngagement__c",
        "next": "GET /services/data/v60.0/query/{locator}",
        "enrol": "POST /services/data/v60.0/sobjects/ProgramEngagement__c",
        "unenrol": "DELETE /services/data/v60.0/sobjects/ProgramEngagement__c/{Id}",
    },
)
