"""Finds the transform plug-in for an NPO config, from three sources behind one interface.

1. built-ins: modules of ``npo_integration.transforms.plugins``, named lazily in
   ``BUILTIN_PLUGINS``;
2. installed packages: entry points in the group ``npo_integration.transforms``, re-scanned
   whenever a name is unknown, so a package installed after start is found without a restart;
3. ``transform.kind: declarative``: a ``DeclarativePlugin`` over the config's mapping.

Code plug-ins are a class or factory called with the config's ``options`` dict. Every
plug-in is checked at load (``check_plugin``); a malformed one raises ``PluginLoadError``.
Plug-ins are cached per NPO and config, so a changed config takes effect on the next
call, and each NPO has its own instance.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from npo_integration.expressions import parse_template
from npo_integration.models.npo_config import (
    DeclarativeTransform,
    EnrolmentEndpoint,
    NpoSource,
    SourceOrConfig,
    one_source,
)
from npo_integration.transforms.contract import PluginLoadError, TransformPlugin, check_plugin
from npo_integration.transforms.declarative.mapper import DeclarativePlugin
from npo_integration.transforms.declarative.spec import DeclarativeMapping, RequestTemplate
from npo_integration.transforms.sources import SourcePlugin, for_source

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "npo_integration.transforms"
BUILTIN_PACKAGE = "npo_integration.transforms.plugins."
BUILTIN_PLUGINS: Mapping[str, str] = MappingProxyType(
    {
        "simple": "npo_integration.transforms.plugins.simple:SimplePlugin",
        "canvas": "npo_integration.transforms.plugins.canvas:CanvasPlugin",
        "civicrm": "npo_integration.transforms.plugins.civicrm:CiviCrmPlugin",
    }
)
PluginFactory = Callable[[dict[str, Any]], object]
EntryPointScan = Callable[[], Iterable[importlib.metadata.EntryPoint]]


def scan_entry_points() -> list[importlib.metadata.EntryPoint]:
    importlib.invalidate_caches()  # see packages installed since the last scan
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def runs_inline(plugin: object) -> bool:
    """Whether the plug-in is the service's own code (a built-in, or a declarative
    mapping): called on the event loop. Code from installed packages runs in the plug-in
    pool, where a hang costs a thread only."""
    plugin = getattr(plugin, "inner", plugin) if isinstance(plugin, SourcePlugin) else plugin
    return isinstance(plugin, DeclarativePlugin) or type(plugin).__module__.startswith(
        BUILTIN_PACKAGE
    )


def check_declarative(config: NpoSource, mapping: DeclarativeMapping) -> None:
    """The mapping covers what the source uses: its streams and its enrolment endpoints."""
    problems: list[str] = []
    sections = {"offerings": mapping.offering, "progress": mapping.progress}
    section_names = {"offerings": "offering", "progress": "progress"}
    for stream in config.streams:
        if stream.enabled and sections[stream.kind] is None:
            problems.append(
                f"streams.{stream.name} is enabled but the mapping has no "
                f"{section_names[stream.kind]} section"
            )
    enrolment = config.enrolment
    if enrolment.enabled and enrolment.enrol is not None:
        if mapping.enrolment is None:
            problems.append(
                "enrolment.enrol is configured but the mapping has no enrolment section"
            )
        else:
            problems += _mapping_problems("enrolment", enrolment.enrol, mapping.enrolment)
            if enrolment.unenrol is not None:
                if mapping.enrolment.unenrol is None:
                    problems.append(
                        "enrolment.unenrol is configured but the mapping has no enrolment.unenrol"
                    )
                else:
                    problems += _mapping_problems(
                        "enrolment.unenrol", enrolment.unenrol, mapping.enrolment.unenrol
                    )
    if problems:
        raise PluginLoadError(
            f"declarative mapping of {_described(config)} does not fit its config: "
            + "; ".join(problems)
        )


def _mapping_problems(
    where: str, endpoint: EnrolmentEndpoint, template: RequestTemplate
) -> list[str]:
    return endpoint_problems(where, endpoint, template.path_vars, template.body, source="mapping")


def endpoint_problems(
    where: str,
    endpoint: EnrolmentEndpoint,
    path_vars: Collection[str],
    body: Mapping[str, Any] | None,
    *,
    source: Literal["mapping", "plug-in"],
) -> list[str]:
    """What an enrol/unenrol request lacks for its endpoint: path variables, a body it may not have,
    nested fields in a form. ``source`` words it for whom reads it: a mapping's author at
    validation, or a plug-in's author in the conformance kit's report of a request it returned."""
    by_mapping = source == "mapping"
    problems = [
        f"{where}: endpoint path {endpoint.path!r} needs "
        + (f"path_vars.{name}" if by_mapping else f"path_vars[{name!r}]")
        for name in parse_template(endpoint.path).names
        if name not in path_vars
    ]
    if endpoint.body_format == "none" and body is not None:
        has_body = "the mapping has a body" if by_mapping else "a body was returned"
        problems.append(f"{where}: body_format is none but {has_body}")
    if endpoint.body_format == "form" and body is not None:
        nested = [key for key, value in body.items() if isinstance(value, dict | list)]
        if nested:
            problems.append(
                f"{where}: body_format is form, so body fields must be flat; nested: {nested}"
                if by_mapping
                else f"{where}: form bodies must be flat; nested fields {nested}"
            )
    return problems


@dataclass(frozen=True, slots=True)
class _Cached:
    fingerprint: tuple[str, str, str]
    config: NpoSource
    plugin: TransformPlugin


def _fingerprint(config: NpoSource) -> tuple[str, str, str]:
    return (
        config.transform.model_dump_json(),
        config.model_dump_json(include={"name", "streams", "reserved_prefixes"}),
        config.enrolment.model_dump_json(),
    )


def _described(config: NpoSource) -> str:
    """``'acme'`` for an NPO's main source (as before sources), ``'acme' source 'crm'`` else."""
    if config.state_key == config.npo_id:
        return repr(config.npo_id)
    return f"{config.npo_id!r} source {config.name!r}"


class PluginRegistry:
    """``for_config(source)`` is the one way the service gets a source's transform plug-in."""

    def __init__(
        self,
        *,
        builtins: Mapping[str, str] = BUILTIN_PLUGINS,
        entry_points: EntryPointScan = scan_entry_points,
        min_rescan_seconds: float = 1.0,
        cache_size: int = 2000,
    ) -> None:
        self._builtins = dict(builtins)
        self._scan = entry_points
        self._min_rescan = min_rescan_seconds
        self._entry_points: dict[str, importlib.metadata.EntryPoint] = {}
        self._scanned_at: float | None = None
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def for_config(self, given: SourceOrConfig) -> TransformPlugin:
        """The checked plug-in for this NPO source and config; loaded again when it changed.

        The most recently used ``cache_size`` sources' plug-ins are kept (each holds its
        config): a worker with 100,000 NPOs keeps the ones it is busy with.
        """
        config = one_source(given)
        key = config.state_key
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is not None and cached.config is config:
            return cached.plugin
        fingerprint = _fingerprint(config)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached.plugin
        plugin = self.load(config)
        with self._lock:
            self._cache[key] = _Cached(fingerprint, config, plugin)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        log.debug("transform plug-in loaded: %s plugin=%s", _described(config), plugin.name)
        return plugin

    def load(self, given: SourceOrConfig) -> TransformPlugin:
        """Load and check without caching (e.g. to refuse a config before it is stored); with the
        source's offering references prefixed (``transforms.sources``)."""
        config = one_source(given)
        return for_source(self._load(config), config.ref_prefix, config.reserved_prefixes)

    def _load(self, config: NpoSource) -> TransformPlugin:
        transform = config.transform
        if isinstance(transform, DeclarativeTransform):
            check_declarative(config, transform.mapping)
            name = f"declarative:{config.state_key}"
            return check_plugin(DeclarativePlugin(transform.mapping, name=name), name)
        factory, origin = self._factory(transform.name)
        try:
            plugin: object = factory(dict(transform.options))
        except PluginLoadError:
            raise
        except Exception as exc:
            raise PluginLoadError(
                f"transform plug-in {origin} failed to start with options "
                f"{sorted(transform.options)}: {type(exc).__name__}: {exc}"
            ) from exc
        return check_plugin(plugin, origin)

    def available(self) -> dict[str, str]:
        """Every plug-in name this registry can load, with where it comes from."""
        entry_points = self._rescan(force=True)
        found = {name: f"entry point {ep.value}" for name, ep in entry_points.items()}
        found.update({name: f"built-in {target}" for name, target in self._builtins.items()})
        return dict(sorted(found.items()))

    def _factory(self, name: str) -> tuple[PluginFactory, str]:
        if name in self._builtins:
            target = self._builtins[name]
            origin = f"{name!r} (built-in {target})"
            factory = _import(target, origin)
        else:
            entry_point = self._entry_points.get(name) or self._rescan().get(name)
            if entry_point is None:
                known = ", ".join(sorted({*self._builtins, *self._entry_points})) or "none"
                raise PluginLoadError(
                    f"no transform plug-in named {name!r} (known: {known}); a code plug-in is "
                    f"a built-in or an installed package with an entry point in the group "
                    f"{ENTRY_POINT_GROUP!r}"
                )
            origin = f"{name!r} (entry point {entry_point.value})"
            try:
                factory = entry_point.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"transform plug-in {origin} cannot be imported: {exc}"
                ) from exc
        if not callable(factory):
            raise PluginLoadError(
                f"transform plug-in {origin} must name a class or a factory taking options, "
                f"found {type(factory).__name__}"
            )
        return factory, origin

    def _rescan(self, *, force: bool = False) -> dict[str, importlib.metadata.EntryPoint]:
        now = time.monotonic()
        if not force and self._scanned_at is not None and now - self._scanned_at < self._min_rescan:
            return self._entry_points
        found: dict[str, importlib.metadata.EntryPoint] = {}
        for entry_point in self._scan():
            if entry_point.name in self._builtins:
                log.warning(
                    "entry point %s shadows a built-in plug-in; the built-in wins", entry_point.name
                )
            elif entry_point.name in found and found[entry_point.name].value != entry_point.value:
                log.warning(
                    "two entry points named %s (%s, %s); the first wins",
                    entry_point.name,
                    found[entry_point.name].value,
                    entry_point.value,
                )
            else:
                found[entry_point.name] = entry_point
        self._entry_points, self._scanned_at = found, now
        return found


def _import(target: str, origin: str) -> PluginFactory:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PluginLoadError(f"transform plug-in {origin} cannot be imported: {exc}") from exc
    return obj  # type: ignore[no-any-return]  # an imported name: Any until it is called
