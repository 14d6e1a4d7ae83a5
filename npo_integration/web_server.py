"""The worker's web server: Faust's aiohttp driver serving only the views this service registers.

Faust mounts views of its own (``/table/...`` reads any table key, ``/router/...``
lists every worker and changelog, ``/``, ``/stats/``, ``/graph/``...). Our tables
hold candidates' personal data and NPO configs, so none of them is mounted, whatever
Faust's ``web_*_enabled`` settings or ``--debug`` say: the only routes are our own
views (``views/``), ``/health`` and ``/metrics`` public, every other one behind the
admin token. ``@app.table_route`` does not need ``/router``: it asks the partition
assignor which worker owns a key and forwards the request, token included.
"""

from __future__ import annotations

from faust.web.drivers.aiohttp import Web


class OwnViewsOnly(Web):
    """aiohttp driver with none of Faust's built-in blueprints."""

    default_blueprints = ()
    production_blueprints = ()
    debug_blueprints = ()
    optional_blueprints = ()
