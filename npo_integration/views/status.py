"""Admin API of an NPO's status across workers, and the list of every NPO's health.

``GET /admin/npos/{npo_id}/status`` is routed to the owner of the NPO's partition, which holds
everything of the NPO but its enrolments (``views/status_local.py``); the owner asks every other
worker for its share of the enrolments (``.../status/here``) and names who answered what.

``GET /admin/status/npos`` asks every worker for the lines of the NPOs whose partitions it owns
(``/admin/status/npos/here``) and sorts them: by staleness (stalest first) or by npo_id.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust import web

from npo_integration.app import app
from npo_integration.tables import npo_configs, pull_state
from npo_integration.views import peers
from npo_integration.views import status_local as local
from npo_integration.views.admin_answers import unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import documented

LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000
SORTS = ("staleness", "npo_id")


@app.page("/admin/npos/{npo_id}/status")
class NpoStatus(web.View):
    @admin_only
    # Faust types a routed handler as (View, Request, *args, **kwargs): ours takes npo_id by name.
    @app.table_route(table=pull_state.table, match_info="npo_id")  # type: ignore[arg-type]
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """The NPO's status, answered by the owner of its partition with every worker's share of
        its enrolments (``enrolments.workers`` names each, and any that did not answer)."""
        version = npo_configs.current(npo_id)
        if version is None:
            return unknown_npo(self, npo_id)
        answer = local.owner_status(version)
        shares = [{**local.enrolment_share(version), "error": None}]
        for peer in await peers.ask_others(f"/admin/npos/{npo_id}/status/here"):
            shares.append(peer.body or {"url": peer.url, "error": peer.error})
        counts: Counter[str] = Counter()
        for share in shares:
            counts.update(share.get("counts") or {})
        answer["enrolments"] = {
            "counts": dict(counts),
            "complete": all(share.get("error") is None for share in shares),
            "workers": shares,
        }
        return self.json(answer)


@app.page("/admin/npos/{npo_id}/status/here")
class NpoStatusShare(web.View):
    @admin_only
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """This worker's share of the NPO's status: enrolments on its partitions, by status, and
        its circuit breakers (the status view gathers it from every worker)."""
        version = npo_configs.current(npo_id)
        if version is None:
            return unknown_npo(self, npo_id)
        return self.json({**local.enrolment_share(version), "error": None})


def _list_query(request: web.Request) -> tuple[int, int, str] | str:
    try:
        limit = int(request.query.get("limit", str(LIST_LIMIT)))
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        return "limit and offset: must be whole numbers"
    if not 1 <= limit <= MAX_LIST_LIMIT or offset < 0:
        return f"limit: between 1 and {MAX_LIST_LIMIT}; offset: 0 or more"
    sort = request.query.get("sort", "staleness")
    if sort not in SORTS:
        return f"sort: one of {', '.join(SORTS)}"
    return limit, offset, sort


LIST_QUERY: list[tuple[str, dict[str, Any], str]] = [
    ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT}, "page size"),
    ("offset", {"type": "integer", "minimum": 0}, "lines skipped"),
    ("sort", {"type": "string", "enum": list(SORTS)}, "stalest first (default), or npo_id"),
]


def _sorted(lines: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    if sort == "npo_id":
        return sorted(lines, key=lambda line: line["npo_id"])
    return sorted(lines, key=local.staleness_order)


def _share(request: web.Request) -> tuple[list[dict[str, Any]], int] | str:
    query = _list_query(request)
    if isinstance(query, str):
        return query
    limit, offset, sort = query
    lines = local.owned_lines(list(npo_configs.stored()))
    return _sorted(lines, sort)[: offset + limit], len(lines)


@app.page("/admin/status/npos")
class NpoHealthList(web.View):
    @admin_only
    @documented(query=LIST_QUERY)
    async def get(self, request: web.Request) -> web.Response:
        """One health line per NPO, from every worker: stalest first (``?sort=staleness``, the
        default) or by npo_id, ``?limit=`` lines after ``?offset=``."""
        query = _list_query(request)
        if isinstance(query, str):
            return self.json({"error": query}, status=400)
        limit, offset, sort = query
        share = _share(request)
        assert not isinstance(share, str)  # the query was checked above
        lines, total = share
        workers: list[dict[str, Any]] = [{**local.worker(), "npos": total, "error": None}]
        for peer in await peers.ask_others(f"/admin/status/npos/here?{request.query_string}"):
            if peer.body is None:
                workers.append({"url": peer.url, "error": peer.error})
                continue
            lines += peer.body["npos"]
            total += peer.body["total"]
            workers.append({**peer.body["worker"], "npos": peer.body["total"], "error": None})
        return self.json(
            {
                "sort": sort,
                "offset": offset,
                "total": total,
                "complete": all(w["error"] is None for w in workers),
                "workers": workers,
                "npos": _sorted(lines, sort)[offset : offset + limit],
            }
        )


@app.page("/admin/status/npos/here")
class NpoHealthShare(web.View):
    @admin_only
    @documented(query=LIST_QUERY)
    async def get(self, request: web.Request) -> web.Response:
        """The health lines of the NPOs whose partitions this worker owns (the first
        ``offset + limit`` in the order asked): this worker's share of the list."""
        share = _share(request)
        if isinstance(share, str):
            return self.json({"error": share}, status=400)
        lines, total = share
        return self.json({"worker": local.worker(), "total": total, "npos": lines})
