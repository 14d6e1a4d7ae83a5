"""Every JSON example in docs/contracts.md parses as the model it is labelled with."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from npo_integration.registry.config_input import Location, decode_with_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
EXAMPLE = re.compile(r"<!-- model: ([\w.]+) -->\s*```json\n(.*?)```", re.S)
EXAMPLES = EXAMPLE.findall(DOC.read_text())
CONFIG_AT: dict[str, Location] = {
    "NpoIntegrationConfig": (),
    "NpoAssessed": ("integration",),
    "ConfigCommand": ("config",),
    "NpoConfigVersion": ("config",),
}
"""Where a model carries a config, read in any accepted shape as the service reads it."""


def test_the_contract_page_has_examples() -> None:
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize(
    ("dotted", "text"), EXAMPLES, ids=[d.rsplit(".", 1)[1] for d, _ in EXAMPLES]
)
def test_example_matches_its_model(dotted: str, text: str) -> None:
    module, name = dotted.rsplit(".", 1)
    model = getattr(importlib.import_module(module), name)
    if name in CONFIG_AT:
        decode_with_config(model, text.encode(), at=CONFIG_AT[name])
    else:
        model.model_validate_json(text)
