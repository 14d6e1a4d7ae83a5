"""``GET /metrics``: Prometheus text format, unauthenticated like any scrape
endpoint (no secrets in it)."""

from __future__ import annotations

from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from npo_integration.app import app
from npo_integration.metrics import registry


@app.page("/metrics")
class Metrics(web.View):
    async def get(self, request: web.Request) -> web.Response:
        return self.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])
