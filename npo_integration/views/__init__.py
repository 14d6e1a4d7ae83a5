"""Web views on the Faust web server: health, metrics, the admin API and operator read views."""

from npo_integration.views import (  # noqa: F401
    candidates,
    enrolments,
    health,
    ingestion,
    metrics,
    npos,
    oauth,
    openapi,
    ops,
    pausing,
    preview,
    pulls,
    removals,
    replay,
    status,
)
