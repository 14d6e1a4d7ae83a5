"""Against a running worker: every route it serves needs the admin token but /health and /metrics,
Faust's own views (the tables' contents, the cluster's layout) are not served at all, and the admin
views, routed ones included, still answer with the token.

The routes are read from the router the worker builds (tests/web_routes.py), not listed here.
"""

from __future__ import annotations

import uuid

from npo_integration.app import app as built_app
from npo_integration.partitioning import partition_for
from tests.integration.conftest import Deployment, Stack
from tests.integration.support.admin import admin
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_registry import npo_config
from tests.web_routes import FAUST_BUILT_IN_PATHS, head_without_get, worker_routes

UNKNOWN_NPO = "no-such-npo"
TOKEN_REFUSED = {"error": "missing or wrong admin token"}


async def _known_npo(stack: Stack) -> str:
    npo_id = f"walk-{uuid.uuid4().hex[:8]}"
    await stack.sandbox.add_npo(
        npo_id, flavour="simple", auth={"kind": "bearer", "token": "tok"}, offerings=2
    )
    status, body = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "PUT",
        f"/admin/npos/{npo_id}?wait=true",
        npo_config(npo_id, stack.sandbox.npo_url(npo_id)),
    )
    assert status == 200, body
    return npo_id


async def test_every_route_but_health_and_metrics_needs_the_admin_token(stack: Stack) -> None:
    routes = worker_routes()
    url = stack.worker.url
    npo_id = await _known_npo(stack)
    assert {r.template for r in routes if r.public} == {"/health", "/metrics"}

    for route in routes:
        path = route.path(npo_id)
        if route.public:
            assert (await admin(url, None, route.method, path))[0] == 200, route
            continue
        for wrong in (None, "wrong-token", ""):
            status, body = await admin(url, wrong, route.method, path)
            if head_without_get(route, routes):
                assert status == 405, (route, wrong, status, body)
            else:
                assert status == 401, (route, wrong, status, body)
                if route.ops:  # the login form, for a browser
                    assert route.method == "HEAD" or 'action="/ops/login"' in body, (route, body)
                    continue
                assert body in (TOKEN_REFUSED, ""), (route, body)  # HEAD answers have no body


NEEDS_AN_OAUTH_NPO = frozenset({"/admin/npos/{npo_id}/oauth/consent"})
"""Reads that only an NPO with an ``oauth2_authorization_code`` source has an answer to."""


async def test_with_the_token_the_admin_routes_answer_from_their_views(stack: Stack) -> None:
    """Reads of a known NPO answer 200 (the routed ones through ``table_route``); changes are
    asked of an unknown NPO or with no body, so the walk changes nothing but a re-seal."""
    routes = worker_routes()
    url, token = stack.worker.url, stack.deployment.admin_token
    npo_id = await _known_npo(stack)
    for route in routes:
        if route.public or head_without_get(route, routes):
            continue
        if route.method in ("GET", "HEAD"):
            status, body = await admin(url, token, route.method, route.path(npo_id))
            if route.template in NEEDS_AN_OAUTH_NPO:  # the walk's NPO has a static token: refused
                assert status == 422, (route, status, body)
                assert route.method == "HEAD" or "oauth2_authorization_code" in str(body), body
                continue
            assert status == 200, (route, status, body)
            continue
        status, body = await admin(url, token, route.method, route.path(UNKNOWN_NPO))
        if route.ops:  # HTML: a login refused (no form token), a logout, an unknown action
            assert status in (200, 401, 404), (route, status, body)
            continue
        assert status in (202, 400, 404), (route, status, body)
        assert isinstance(body, dict) and body != TOKEN_REFUSED, (route, body)
        if status == 404:
            assert body == {"error": f"unknown npo_id {UNKNOWN_NPO!r}"}, (route, body)


async def test_faust_built_in_views_are_not_served(stack: Stack) -> None:
    """What the issue found open: ``/table/<table>/<key>/`` read candidates' data, ``/router/``
    listed every changelog. Nothing of Faust's answers, with or without the token."""
    url, token = stack.worker.url, stack.deployment.admin_token
    npo_id = await _known_npo(stack)
    paths = list(FAUST_BUILT_IN_PATHS)
    for name in built_app.tables:
        paths += [f"/table/{name}/", f"/table/{name}/{npo_id}/", f"/router/{name}/{npo_id}/"]
    assert any(p.startswith("/table/npo-enrolments") for p in paths), paths
    for path in paths:
        for credentials in (None, token):
            status, body = await admin(url, credentials, "GET", path)
            assert status == 404, (path, status, body)


async def test_a_routed_admin_view_answers_from_the_worker_that_owns_the_key(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    """``@app.table_route`` needs no ``/router/`` view. One NPO on each partition, two workers:
    asked of either worker, the records view of every NPO answers from the worker that holds its
    partition (``partition_held``), so each worker forwarded some requests, token and all."""
    partitions = int(deployment.env["NPO_TOPIC_PARTITIONS"])
    by_partition: dict[int, str] = {}
    while len(by_partition) < partitions:
        npo_id = f"routed-{uuid.uuid4().hex[:8]}"
        by_partition.setdefault(partition_for(npo_id, partitions), npo_id)
    npo_ids = sorted(by_partition.values())
    for npo_id in npo_ids:
        await sandbox.add_npo(
            npo_id, flavour="simple", auth={"kind": "bearer", "token": "tok"}, offerings=1
        )
    deployment.write_configs([npo_config(n, sandbox.npo_url(n)) for n in npo_ids])
    workers = [await deployment.start_worker("first"), await deployment.start_worker("second")]
    token = deployment.admin_token

    async def both_hold_partitions() -> bool:
        for worker in workers:
            status, body = await admin(worker.url, None, "GET", "/health")
            if status != 200 or body["rebalancing"] or not body["active_partitions"]:
                return False
        return True

    await eventually(both_hold_partitions, timeout=60, what="both workers holding partitions")
    for npo_id in npo_ids:
        path = f"/admin/npos/{npo_id}/records?state=unprocessed"
        for worker in workers:
            assert (await admin(worker.url, None, "GET", path))[0] == 401

            async def from_owner(url: str = worker.url, path: str = path) -> dict | None:
                status, body = await admin(url, token, "GET", path)
                return body if status == 200 and body["partition_held"] else None

            body = await eventually(from_owner, timeout=30, what=f"{path} from its owner")
            assert body["npo_id"] == npo_id
