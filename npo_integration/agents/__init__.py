"""Faust agents, one module per path: registry, pull, ingestion, push."""

from npo_integration.agents import (  # noqa: F401
    config_commands,
    dead_letter_window,
    enrol,
    enrolment_links,
    fetch,
    ingest,
    npo_assessed,
    raw_expiry,
)
