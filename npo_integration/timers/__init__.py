"""Timers and start-up tasks: the pull scheduler, re-drives, enrolment
retries, the state sweep, the config file loader."""

from npo_integration.timers import (  # noqa: F401
    config_file,
    enrolment_retries,
    ingest_redrive,
    pull_scheduler,
    state_sweep,
)
