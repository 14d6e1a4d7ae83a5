"""The plug-in registry: built-ins, entry points, declarative configs, checks at load, caching."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.transforms.contract import (
    CONTRACT_VERSION,
    EnrolmentRequest,
    PluginLoadError,
    check_plugin,
)
from npo_integration.transforms.declarative.mapper import DeclarativePlugin
from npo_integration.transforms.plugins.canvas import CanvasPlugin
from npo_integration.transforms.plugins.simple import SimplePlugin
from npo_integration.transforms.registry import ENTRY_POINT_GROUP, PluginRegistry

from .conftest import example_config

FAKE_MODULE = "acme_npo_transforms_for_tests"


class AcmePlugin:
    name = "acme"
    contract_version = CONTRACT_VERSION

    def __init__(self, options: dict[str, Any]) -> None:
        if "region" not in options:
            raise ValueError("option 'region' is required")
        self.options = options

    def offering(self, record: Any) -> None:
        return None

    def progress(self, record: Any) -> None:
        return None

    def enrolment_request(self, assignment: Any) -> EnrolmentRequest:
        return EnrolmentRequest()

    def unenrol_request(self, assignment: Any, npo_enrolment_ref: str) -> EnrolmentRequest:
        return EnrolmentRequest()

    def enrolment_ref(self, response_body: Any, assignment: Any) -> str | None:
        return None


class HalfPlugin:
    """Malformed: no progress(), wrong arity, future contract."""

    name = "half"
    contract_version = 2

    def __init__(self, options: dict[str, Any]) -> None:
        pass

    def offering(self, record: Any) -> None:
        return None

    enrolment_request = "not callable"

    def unenrol_request(self, assignment: Any) -> None:
        return None

    def enrolment_ref(self, response_body: Any, assignment: Any) -> None:
        return None


def make_acme(options: dict[str, Any]) -> AcmePlugin:
    return AcmePlugin({"region": "eu", **options})


@pytest.fixture
def fake_package(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType(FAKE_MODULE)
    module.AcmePlugin = AcmePlugin  # type: ignore[attr-defined]
    module.HalfPlugin = HalfPlugin  # type: ignore[attr-defined]
    module.make_acme = make_acme  # type: ignore[attr-defined]
    module.NOT_A_FACTORY = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, FAKE_MODULE, module)
    return module


class FakeEntryPoints:
    """Stands in for importlib.metadata.entry_points(group=...);
    packages can be 'installed' later."""

    def __init__(self, **targets: str) -> None:
        self.targets = dict(targets)
        self.scans = 0

    def __call__(self) -> list[EntryPoint]:
        self.scans += 1
        return [
            EntryPoint(name, f"{FAKE_MODULE}:{attr}", ENTRY_POINT_GROUP)
            for name, attr in self.targets.items()
        ]


def plugin_config(name: str, npo_id: str = "acme", **options: Any) -> NpoIntegrationConfig:
    return NpoIntegrationConfig.model_validate(
        {
            "npo_id": npo_id,
            "display_name": npo_id.title(),
            "base_url": f"http://127.0.0.1:8900/npos/{npo_id}",
            "transform": {"kind": "plugin", "name": name, "options": options},
        }
    )


def declarative_config(mapping: dict[str, Any], **extra: Any) -> NpoIntegrationConfig:
    return NpoIntegrationConfig.model_validate(
        {
            "npo_id": "decl",
            "display_name": "Decl",
            "base_url": "http://127.0.0.1:8900/npos/decl",
            "transform": {"kind": "declarative", "mapping": mapping},
            **extra,
        }
    )


OFFERING_MAPPING = {"offering": {"fields": {"npo_offering_ref": "id", "title": "name"}}}


def test_built_in_plugins() -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints())
    assert isinstance(registry.for_config(example_config("simple")), SimplePlugin)
    assert isinstance(registry.for_config(example_config("canvas")), CanvasPlugin)


def test_built_in_with_bad_options_is_a_load_error() -> None:
    with pytest.raises(
        PluginLoadError, match=r"'canvas' \(built-in .*\) failed to start with options \['colour'\]"
    ):
        PluginRegistry(entry_points=FakeEntryPoints()).for_config(
            plugin_config("canvas", colour="red")
        )


def test_built_in_that_cannot_be_imported() -> None:
    registry = PluginRegistry(
        builtins={"gone": "npo_integration.transforms.plugins.nope:Gone"},
        entry_points=FakeEntryPoints(),
    )
    with pytest.raises(PluginLoadError, match=r"'gone' .* cannot be imported"):
        registry.for_config(plugin_config("gone"))


def test_entry_point_class_and_factory(fake_package: types.ModuleType) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(acme="AcmePlugin", acme2="make_acme"))
    plugin = registry.for_config(plugin_config("acme", region="us"))
    assert isinstance(plugin, AcmePlugin) and plugin.options == {"region": "us"}
    assert isinstance(registry.for_config(plugin_config("acme2", npo_id="other")), AcmePlugin)
    assert registry.available()["acme"] == f"entry point {FAKE_MODULE}:AcmePlugin"
    assert registry.available()["simple"].startswith("built-in ")


def test_entry_point_options_error(fake_package: types.ModuleType) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(acme="AcmePlugin"))
    with pytest.raises(PluginLoadError, match=r"failed to start .* option 'region' is required"):
        registry.for_config(plugin_config("acme"))


def test_malformed_entry_point_plugin_is_rejected_naming_every_problem(
    fake_package: types.ModuleType,
) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(half="HalfPlugin"))
    with pytest.raises(PluginLoadError) as info:
        registry.for_config(plugin_config("half"))
    message = str(info.value)
    assert (
        f"transform plug-in 'half' (entry point {FAKE_MODULE}:HalfPlugin) is malformed" in message
    )
    assert "contract_version 2 is not supported (supported: 1)" in message
    assert "method progress() is missing" in message
    assert "enrolment_request is not callable" in message
    assert "unenrol_request(assignment) does not take 2 positional argument(s)" in message


def test_entry_point_that_is_not_a_factory(fake_package: types.ModuleType) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(num="NOT_A_FACTORY"))
    with pytest.raises(
        PluginLoadError, match="must name a class or a factory taking options, found int"
    ):
        registry.for_config(plugin_config("num"))


def test_entry_point_that_fails_to_import() -> None:
    scan = lambda: [EntryPoint("broken", "no_such_module_xyz:Plugin", ENTRY_POINT_GROUP)]  # noqa: E731
    with pytest.raises(PluginLoadError, match=r"'broken' .* cannot be imported: No module named"):
        PluginRegistry(entry_points=scan).for_config(plugin_config("broken"))


def test_unknown_name_rescans_so_a_package_installed_later_is_found(
    fake_package: types.ModuleType,
) -> None:
    scan = FakeEntryPoints()
    registry = PluginRegistry(entry_points=scan, min_rescan_seconds=0)
    with pytest.raises(
        PluginLoadError,
        match=r"no transform plug-in named 'acme' \(known: canvas, civicrm, simple\)",
    ):
        registry.for_config(plugin_config("acme", region="eu"))
    scan.targets["acme"] = "AcmePlugin"  # `pip install acme-npo` while running
    assert isinstance(registry.for_config(plugin_config("acme", region="eu")), AcmePlugin)
    scans = scan.scans
    # known now: no rescan
    registry.for_config(plugin_config("acme", npo_id="acme-two", region="eu"))
    assert scan.scans == scans


def test_rescans_are_rate_limited(fake_package: types.ModuleType) -> None:
    scan = FakeEntryPoints()
    registry = PluginRegistry(entry_points=scan, min_rescan_seconds=60)
    for _ in range(3):
        with pytest.raises(PluginLoadError):
            registry.for_config(plugin_config("ghost"))
    assert scan.scans == 1


def test_entry_point_cannot_shadow_a_built_in(fake_package: types.ModuleType) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(simple="AcmePlugin"))
    assert registry.available()["simple"].startswith("built-in")
    assert isinstance(registry.for_config(example_config("simple")), SimplePlugin)


def test_declarative_config() -> None:
    plugin = PluginRegistry(entry_points=FakeEntryPoints()).for_config(example_config("moodle"))
    assert isinstance(plugin, DeclarativePlugin) and plugin.name == "declarative:moodle"


@pytest.mark.parametrize(
    ("mapping", "extra", "message"),
    [
        (
            OFFERING_MAPPING,
            {"streams": {"assignments": {"path": "/p"}}},
            "streams.assignments is enabled but the mapping has no progress section",
        ),
        (
            {"progress": {"fields": {"status": {"const": "enrolled"}}}},
            {"streams": {"offerings": {"path": "/o"}}},
            "streams.offerings is enabled but the mapping has no offering section",
        ),
        (
            OFFERING_MAPPING,
            {"enrolment": {"enabled": True, "enrol": {"path": "/e"}}},
            "enrolment.enrol is configured but the mapping has no enrolment section",
        ),
        (
            {"enrolment": {"body": {}}},
            {"enrolment": {"enabled": True, "enrol": {"path": "/c/{course_id}/e"}}},
            "endpoint path '/c/{course_id}/e' needs path_vars.course_id",
        ),
        (
            {"enrolment": {"body": {"a": {"b": "c"}}}},
            {"enrolment": {"enabled": True, "enrol": {"path": "/e", "body_format": "form"}}},
            "body fields must be flat; nested: ['a']",
        ),
        (
            {"enrolment": {"body": {"a": "b"}}},
            {"enrolment": {"enabled": True, "enrol": {"path": "/e", "body_format": "none"}}},
            "body_format is none but the mapping has a body",
        ),
        (
            {"enrolment": {"body": {}}},
            {
                "enrolment": {
                    "enabled": True,
                    "enrol": {"path": "/e"},
                    "unenrol": {"path": "/u", "method": "DELETE"},
                }
            },
            "enrolment.unenrol is configured but the mapping has no enrolment.unenrol",
        ),
    ],
)
def test_declarative_mapping_must_fit_its_config(
    mapping: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(PluginLoadError) as info:
        PluginRegistry(entry_points=FakeEntryPoints()).for_config(
            declarative_config(mapping, **extra)
        )
    assert message in str(info.value)


def test_cache_per_npo_and_config(fake_package: types.ModuleType) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(acme="AcmePlugin"))
    first = registry.for_config(plugin_config("acme", region="eu"))
    # equal config, new object
    assert registry.for_config(plugin_config("acme", region="eu")) is first
    other_npo = registry.for_config(plugin_config("acme", npo_id="beta", region="eu"))
    assert other_npo is not first  # one instance per NPO: no shared state
    changed = registry.for_config(plugin_config("acme", region="us"))
    assert changed is not first and changed.options == {"region": "us"}  # type: ignore[attr-defined]
    assert registry.for_config(plugin_config("acme", npo_id="beta", region="eu")) is other_npo


def test_changed_declarative_mapping_takes_effect_immediately() -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints())
    record = {"id": 1, "name": "Course", "label": "Better title"}
    before = registry.for_config(declarative_config(OFFERING_MAPPING))
    assert before.offering(record).title == "Course"  # type: ignore[union-attr]
    after = registry.for_config(
        declarative_config({"offering": {"fields": {"npo_offering_ref": "id", "title": "label"}}})
    )
    assert after.offering(record).title == "Better title"  # type: ignore[union-attr]


def test_a_failing_config_does_not_evict_another_npo(fake_package: types.ModuleType) -> None:
    registry = PluginRegistry(entry_points=FakeEntryPoints(acme="AcmePlugin"))
    good = registry.for_config(plugin_config("acme", region="eu"))
    with pytest.raises(PluginLoadError):
        registry.for_config(plugin_config("acme", npo_id="beta"))
    assert registry.for_config(plugin_config("acme", region="eu")) is good


def test_check_plugin_accepts_the_built_ins_and_rejects_objects() -> None:
    check_plugin(SimplePlugin(), "simple")
    with pytest.raises(PluginLoadError, match="attribute 'name'"):
        check_plugin(object(), "object")


def test_real_entry_point_scan_runs() -> None:
    registry = PluginRegistry()
    assert {"simple", "canvas"} <= set(registry.available())
