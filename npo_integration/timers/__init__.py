"""Timers and start-up tasks: the pull scheduler, re-drives, enrolment retries, the config file loader."""

from npo_integration.timers import config_file, pull_scheduler  # noqa: F401
from npo_integration.timers import ingest_redrive  # noqa: F401
from npo_integration.timers import enrolment_retries  # noqa: F401
