"""Timers and start-up tasks: the pull scheduler, re-drives, enrolment
retries, the config file loader."""

from npo_integration.timers import (  # noqa: F401
    config_file,
    enrolment_retries,
    ingest_redrive,
    pull_scheduler,
)
