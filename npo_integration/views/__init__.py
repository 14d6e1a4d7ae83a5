"""Web views on the Faust web server: health, metrics, the admin API and operator read views."""

from npo_integration.views import health, metrics, npos, pulls  # noqa: F401
from npo_integration.views import ingestion  # noqa: F401
from npo_integration.views import enrolments  # noqa: F401
