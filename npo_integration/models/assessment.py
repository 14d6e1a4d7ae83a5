"""The platform's assessment of an NPO (``spotlight.npo-assessed``): the one
event that carries a config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from npo_integration.models.events import Event, NpoId
from npo_integration.models.npo_config import NpoIntegrationConfig


class NpoAssessed(Event):
    """``spotlight.npo-assessed``, key npo_id: the assessment carries the NPO's API details.

    ``integration`` may also be a config of one system or a catalogue template input: the service
    makes it canonical as it reads the message (``registry.config_input``), before this model."""

    event_type: Literal["npo.assessed"] = "npo.assessed"
    npo_id: NpoId
    integration: NpoIntegrationConfig | None = Field(
        None, description="absent when the NPO has no API to integrate"
    )
