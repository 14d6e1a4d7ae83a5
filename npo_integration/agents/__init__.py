"""Faust agents, one module per path: registry, pull, ingestion, push."""

from npo_integration.agents import (  # noqa: F401
    config_commands,
    enrol,
    enrolment_links,
    fetch,
    ingest,
    npo_assessed,
)
