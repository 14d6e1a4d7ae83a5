"""Faust agents, one module per path: registry, pull, ingestion, push."""

from npo_integration.agents import config_commands, fetch, ingest, npo_assessed  # noqa: F401
from npo_integration.agents import enrolment_links  # noqa: F401
from npo_integration.agents import enrol  # noqa: F401
