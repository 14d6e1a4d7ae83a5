"""``salesforce``: NPSP Program Management Module REST: SOQL queries paged by ``nextRecordsUrl``.

    GET    /npos/{id}/services/data/v60.0/query?q=SELECT Id FROM Program__c
               [WHERE LastModifiedDate > 2026-11-20T10:00:00Z]          offerings
    GET    ...same with FROM ProgramEngagement__c                         progress
    GET    /npos/{id}/services/data/v60.0/query/{locator}                 next batch
    POST   /npos/{id}/services/data/v60.0/sobjects/ProgramEngagement__c   enrol (JSON)
    PATCH  /npos/{id}/services/data/v60.0/sobjects/ProgramEngagement__c/{ExtIdField}/{value}
               upsert by external id (JSON): 201 created, 200 updated (``created``
               says which), 300 when several records hold the value
    DELETE /npos/{id}/services/data/v60.0/sobjects/ProgramEngagement__c/{Id}

The objects are those of NPSP's Program Management Module without its ``pmdm__``
namespace. The one External ID field is ``Spotlight_Assignment_Id__c``, a custom
field an NPO adds to ProgramEngagement__c; another field name is 404 NOT_FOUND.

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
EXTERNAL_IDS = frozenset({"Spotlight_Assignment_Id__c"})
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


async def _engagement_body(request: web.Request) -> dict[str, Any] | web.Response:
    if request.match_info["sobject"] != ENGAGEMENT:
        return _not_found()
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "JSON_PARSER_ERROR", "request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "JSON_PARSER_ERROR", "expected a JSON object")
    return body


def _create(
    request: web.Request, npo: SimulatedNpo, body: dict[str, Any], extra: Record
) -> web.Response:
    """A new engagement from ``body`` (plus ``extra``, an upsert's external id): 201."""
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
        **extra,
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
    answer = {"id": ident, "success": True, "errors": [], **({"created": True} if extra else {})}
    return web.json_response(answer, status=201)


@route("enrol")
async def create_engagement(request: web.Request, npo: SimulatedNpo) -> web.Response:
    body = await _engagement_body(request)
    return body if isinstance(body, web.Response) else _create(request, npo, body, {})


@route("enrol")
async def upsert_engagement(request: web.Request, npo: SimulatedNpo) -> web.Response:
    """Upsert by external id: the record holding ``value`` in ``field`` is updated (200), else
    one is created (201); as Salesforce, from API v46 both answer ``{id, created}``."""
    field, value = request.match_info["field"], request.match_info["value"]
    body = await _engagement_body(request)
    if isinstance(body, web.Response):
        return body
    if field not in EXTERNAL_IDS:
        message = f"Provided external ID field does not exist or is not accessible: {field}"
        return _error(404, "NOT_FOUND", message)
    if field in body:
        message = f"The {field} field should not be specified in the sobject data."
        return _error(400, "INVALID_FIELD", message, [field])
    engagements = FLAVOUR.records(npo, "progress")
    held = [e for e in engagements.values() if e.get(field) == value]
    if len(held) > 1:
        urls = [e["attributes"]["url"] for e in held]
        return web.json_response(urls, status=300)
    if not held:
        return _create(request, npo, body, {field: value})
    [engagement] = held
    engagement.update({k: v for k, v in body.items() if k != "Contact__r"})
    engagement["LastModifiedDate"] = FLAVOUR.touch(request, npo)
    answer = {"id": engagement["Id"], "success": True, "errors": [], "created": False}
    return web.json_response(answer, status=200)


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
    router.add_patch(f"{base}/sobjects/{{sobject}}/{{field}}/{{value}}", upsert_engagement)
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
        "enrol": "POST /services/data/v60.0/sobjects/ProgramEngagement__c "
        "(or PATCH .../ProgramEngagement__c/Spotlight_Assignment_Id__c/{value}: upsert)",
        "unenrol": "DELETE /services/data/v60.0/sobjects/ProgramEngagement__c/{Id}",
    },
)
