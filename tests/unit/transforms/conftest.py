"""Fixtures for the transform tests: example configs, recorded NPO records, assignments."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.config_input import read_config
from npo_integration.transforms.testing import load_recorded, sample_assignment

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "npos"
RECORDED = Path(__file__).parent / "recorded"


def example_config(name: str) -> NpoIntegrationConfig:
    return read_config(json.loads((EXAMPLES / f"{name}.json").read_text()))


@pytest.fixture
def example_factory() -> Callable[[str], NpoIntegrationConfig]:
    return example_config


@pytest.fixture
def recorded_factory() -> Callable[[str], dict[str, Any]]:
    return lambda name: load_recorded(RECORDED / f"{name}.json")


@pytest.fixture
def assignment() -> CandidateAssignmentEvent:
    return sample_assignment(npo_offering_ref="101", npo_user_ref="42")
