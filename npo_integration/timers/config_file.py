"""Seed the registry from ``NPO_CONFIG_FILE`` at start.

The file is read and validated on import, so a broken file stops the worker
with one clear line before it connects. Unchanged configs make no new version.

The file creates the NPOs that are not registered and updates those it manages: whose last
change was the file's own (``registry.versioning.file_may_change``, applied by the config
agent). An NPO changed since through the admin API, the CLI or npo-assessed (a new config, a
pause, a resume, a deactivation) keeps that change across restarts: the file's entry is skipped.
"""

from __future__ import annotations

import logging
import sys

from npo_integration.app import app, settings
from npo_integration.boot import topics_ready
from npo_integration.errors import ConfigError
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.config_file import load_config_file
from npo_integration.worker_resources import config_submitter

log = logging.getLogger(__name__)


def _read() -> list[NpoIntegrationConfig]:
    if settings.config_file is None:
        return []
    try:
        configs = load_config_file(settings.config_file)
        for config in configs:
            config_submitter.upsert_command(config, "file")  # validates URL policy too
    except ConfigError as exc:
        sys.exit(f"npo-integration: invalid setting NPO_CONFIG_FILE: {exc}")
    return configs


_configs = _read()


@app.task
async def seed_configs_from_file() -> None:
    if not _configs:
        return
    await topics_ready.wait()
    # Send all, then wait for all: a thousand NPOs are not a thousand broker round trips in a row.
    await config_submitter.send_commands(
        [config_submitter.upsert_command(config, "file") for config in _configs]
    )
    log.info("seeded %d NPO config(s) from %s", len(_configs), settings.config_file)
