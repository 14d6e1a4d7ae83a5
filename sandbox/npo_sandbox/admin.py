"""Control API under ``/_sandbox/``: create NPOs, edit their data, inject faults, inspect.

No auth: this is a test tool. The same operations are available in-process on
``SandboxServer``; this HTTP form serves tests that run the sandbox as a
subprocess, the demo and the benchmark.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .auth import AuthSettings
from .faults import FaultSpec, FaultUpdate, apply_update
from .flavours import FLAVOURS, get_flavour
from .state import STATE_KEY, NpoOptions, SandboxState, SimulatedNpo

log = logging.getLogger(__name__)

NPO_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
Model = TypeVar("Model", bound=BaseModel)
routes = web.RouteTableDef()


class NpoSpec(BaseModel):
    """Body of ``PUT /_sandbox/npos/{npo_id}``."""

    model_config = ConfigDict(extra="forbid")

    flavour: str = "simple"
    auth: AuthSettings = Field(default_factory=AuthSettings)
    offerings: int = Field(default=10, ge=0, le=100_000)
    progress: int = Field(default=0, ge=0, le=1_000_000)
    options: NpoOptions = Field(default_factory=NpoOptions)

    @field_validator("flavour")
    @classmethod
    def _known_flavour(cls, value: str) -> str:
        if value not in FLAVOURS:
            raise ValueError(f"unknown flavour {value!r}; known: {', '.join(FLAVOURS)}")
        return value


class BulkSpec(NpoSpec):
    """Body of ``POST /_sandbox/bulk``: ``count`` NPOs named ``{prefix}{i:04d}``."""

    count: int = Field(ge=1, le=100_000)
    prefix: str = "bench-"
    offerings: int = Field(default=30, ge=0, le=100_000)
    page_size: int | None = Field(default=None, ge=1)
    latency_ms: int | None = Field(default=None, ge=0)
    generate: bool = False
    """Make each NPO's records now rather than on its first request: a benchmark that times
    requests then times the API, not the simulator making up its data."""


def create_npo(state: SandboxState, npo_id: str, spec: NpoSpec) -> SimulatedNpo:
    """Create or replace an NPO; its data is generated when first used."""
    if not NPO_ID.match(npo_id):
        raise ValueError(f"npo_id {npo_id!r} must match {NPO_ID.pattern}")
    npo = SimulatedNpo(
        npo_id=npo_id,
        flavour=spec.flavour,
        auth=spec.auth,
        options=spec.options,
        offering_count=spec.offerings,
        progress_count=spec.progress,
    )
    return state.put(npo)


def describe_npo(npo: SimulatedNpo, root_url: str) -> dict[str, Any]:
    """What a client needs to be configured against this NPO (no secrets)."""
    base_url = f"{root_url}/npos/{npo.npo_id}"
    endpoints = dict(get_flavour(npo.flavour).endpoints)
    if npo.auth.kind == "oauth2_client_credentials":
        endpoints["token"] = "POST /oauth/token"
    if npo.auth.kind == "oauth2_authorization_code":
        endpoints["authorize"] = "GET /oauth2/authorization"
        endpoints["token"] = "POST /oauth2/token"
    return {
        "npo_id": npo.npo_id,
        "flavour": npo.flavour,
        "base_url": base_url,
        "auth": npo.auth.public(),
        "options": npo.options.model_dump(),
        "offerings": npo.offering_count,
        "progress": npo.progress_count,
        "endpoints": {kind: ep.replace(" /", f" {base_url}/", 1) for kind, ep in endpoints.items()},
        "grant": None if npo.grant is None else npo.grant.counters(),
    }


def _json_error(cls: type[web.HTTPException], error: str, detail: Any) -> web.HTTPException:
    body = json.dumps({"error": error, "message": detail})
    return cls(text=body, content_type="application/json")


async def _body(request: web.Request, model: type[Model]) -> Model:
    try:
        raw = await request.json() if request.body_exists else {}
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _json_error(
            web.HTTPBadRequest, "invalid", json.loads(exc.json(include_url=False))
        ) from exc
    except ValueError as exc:
        raise _json_error(web.HTTPBadRequest, "invalid", f"body must be JSON: {exc}") from exc


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


def _npo(request: web.Request) -> SimulatedNpo:
    npo_id = request.match_info["npo_id"]
    npo = _state(request).npos.get(npo_id)
    if npo is None:
        raise _json_error(web.HTTPNotFound, "unknown_npo", f"no simulated NPO {npo_id!r}")
    return npo


def _root(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@routes.get("/_sandbox/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "npos": len(_state(request).npos)})


@routes.get("/_sandbox/npos")
async def list_npos(request: web.Request) -> web.Response:
    return web.json_response({"npos": list(_state(request).npos)})


@routes.put("/_sandbox/npos/{npo_id}")
async def put_npo(request: web.Request) -> web.Response:
    spec = await _body(request, NpoSpec)
    try:
        npo = create_npo(_state(request), request.match_info["npo_id"], spec)
    except ValueError as exc:
        raise _json_error(web.HTTPBadRequest, "invalid", str(exc)) from exc
    log.info(
        "sandbox NPO %s created (%s, %d offerings)", npo.npo_id, npo.flavour, npo.offering_count
    )
    return web.json_response(describe_npo(npo, _root(request)))


@routes.get("/_sandbox/npos/{npo_id}")
async def get_npo(request: web.Request) -> web.Response:
    return web.json_response(describe_npo(_npo(request), _root(request)))


@routes.delete("/_sandbox/npos/{npo_id}")
async def delete_npo(request: web.Request) -> web.Response:
    _state(request).remove(_npo(request).npo_id)
    return web.Response(status=204)


async def _upsert(request: web.Request, kind: str) -> web.Response:
    npo = _npo(request)
    try:
        patch = await request.json()
    except ValueError:
        raise _json_error(web.HTTPBadRequest, "invalid", "body must be a JSON object") from None
    if not isinstance(patch, dict):
        raise _json_error(web.HTTPBadRequest, "invalid", "body must be a JSON object")
    when = npo.next_stamp(_state(request).now())
    record, created = get_flavour(npo.flavour).upsert(npo, kind, patch, when)
    return web.json_response(record, status=201 if created else 200)


@routes.get("/_sandbox/npos/{npo_id}/records/{kind}")
async def list_records(request: web.Request) -> web.Response:
    """Every current record of one kind, as the NPO serves it: what a full pull must bring back."""
    kind = request.match_info["kind"]
    if kind not in ("offerings", "progress"):
        raise _json_error(web.HTTPNotFound, "not_found", "kind must be offerings or progress")
    npo = _npo(request)
    return web.json_response(
        {"records": list(get_flavour(npo.flavour).records(npo, kind).values())}
    )


@routes.post("/_sandbox/npos/{npo_id}/offerings")
async def upsert_offering(request: web.Request) -> web.Response:
    return await _upsert(request, "offerings")


@routes.post("/_sandbox/npos/{npo_id}/progress")
async def upsert_progress(request: web.Request) -> web.Response:
    return await _upsert(request, "progress")


async def _delete_record(request: web.Request, kind: str) -> web.Response:
    npo = _npo(request)
    record_id = request.match_info["record_id"]
    if get_flavour(npo.flavour).records(npo, kind).pop(record_id, None) is None:
        raise _json_error(web.HTTPNotFound, "not_found", f"no {kind} record {record_id!r}")
    return web.Response(status=204)


@routes.delete("/_sandbox/npos/{npo_id}/offerings/{record_id}")
async def delete_offering(request: web.Request) -> web.Response:
    return await _delete_record(request, "offerings")


@routes.delete("/_sandbox/npos/{npo_id}/progress/{record_id}")
async def delete_progress(request: web.Request) -> web.Response:
    return await _delete_record(request, "progress")


def _faults(npo: SimulatedNpo) -> dict[str, Any]:
    return {"faults": {kind: spec.describe() for kind, spec in npo.faults.items()}}


@routes.get("/_sandbox/npos/{npo_id}/faults")
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_faults(_npo(request)))


@routes.put("/_sandbox/npos/{npo_id}/faults")
async def put_faults(request: web.Request) -> web.Response:
    npo = _npo(request)
    apply_update(npo.faults, await _body(request, FaultUpdate))
    return web.json_response(_faults(npo))


@routes.delete("/_sandbox/npos/{npo_id}/faults")
async def clear_faults(request: web.Request) -> web.Response:
    npo = _npo(request)
    endpoint = request.query.get("endpoint")
    if endpoint:
        npo.faults.pop(endpoint, None)
    else:
        npo.faults.clear()
    return web.Response(status=204)


@routes.get("/_sandbox/npos/{npo_id}/requests")
async def get_requests(request: web.Request) -> web.Response:
    npo = _npo(request)
    endpoint = request.query.get("endpoint")
    entries = [e.to_dict() for e in npo.requests if endpoint is None or e.endpoint == endpoint]
    return web.json_response({"total": npo.request_count, "requests": entries})


@routes.delete("/_sandbox/npos/{npo_id}/requests")
async def clear_requests(request: web.Request) -> web.Response:
    _npo(request).requests.clear()
    return web.Response(status=204)


@routes.get("/_sandbox/npos/{npo_id}/enrolments")
async def get_enrolments(request: web.Request) -> web.Response:
    return web.json_response({"enrolments": [r.to_dict() for r in _npo(request).enrolments]})


@routes.get("/_sandbox/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(_state(request).stats())


@routes.post("/_sandbox/bulk")
async def bulk(request: web.Request) -> web.Response:
    spec = await _body(request, BulkSpec)
    options = spec.options
    if spec.page_size is not None:
        options = options.model_copy(update={"page_size": spec.page_size})
    npo_spec = NpoSpec(
        flavour=spec.flavour,
        auth=spec.auth,
        offerings=spec.offerings,
        progress=spec.progress,
        options=options,
    )
    state = _state(request)
    npo_ids = [f"{spec.prefix}{i:04d}" for i in range(spec.count)]
    try:
        for npo_id in npo_ids:
            npo = create_npo(state, npo_id, npo_spec)
            if spec.latency_ms:
                npo.faults["any"] = FaultSpec(latency_ms=spec.latency_ms)
            if spec.generate:
                get_flavour(npo.flavour).records(npo, "offerings")
    except ValueError as exc:
        raise _json_error(web.HTTPBadRequest, "invalid", str(exc)) from exc
    log.info("sandbox bulk-created %d %s NPOs (%s...)", spec.count, spec.flavour, spec.prefix)
    return web.json_response(
        {
            "created": len(npo_ids),
            "npo_ids": npo_ids,
            "base_url_template": f"{_root(request)}/npos/{{npo_id}}",
        }
    )


@routes.post("/_sandbox/reset")
async def reset(request: web.Request) -> web.Response:
    """Forget every NPO: lets one long-lived sandbox process serve many tests."""
    _state(request).npos.clear()
    return web.Response(status=204)


def register(router: web.UrlDispatcher) -> None:
    router.add_routes(routes)
