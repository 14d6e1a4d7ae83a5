"""``GET /health``: 200 once topics are declared and the worker holds an assignment, else 503."""

from __future__ import annotations

from faust import web

from npo_integration.app import app
from npo_integration.boot import topics_ready


@app.page("/health")
class Health(web.View):
    async def get(self, request: web.Request) -> web.Response:
        ready = (
            topics_ready.is_set() and not app.rebalancing and bool(app.assignor.assigned_actives())
        )
        body = {
            "status": "ready" if ready else "starting",
            "topics_declared": topics_ready.is_set(),
            "rebalancing": app.rebalancing,
            "active_partitions": len(app.assignor.assigned_actives()),
        }
        return self.json(body, status=200 if ready else 503)
