"""What a log line is about: ``npo_id``, ``stream``, ``record_key``, ``assignment_id``,
``trace_id``, carried in a context variable so that every line logged inside a block (and in
the tasks it starts) carries them without each call passing them along.

``NPO_LOG_FORMAT=json`` writes them as fields of each line (``log_format.py``); the text format
leaves them out. Set them where the work for one NPO, record or assignment starts::

    with log_context(npo_id=config.npo_id, stream="offerings", trace_id=request.trace_id):
        ...

Inner blocks add to (or override) the outer ones; leaving a block restores what was before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Final

FIELDS: Final = ("npo_id", "stream", "record_key", "assignment_id", "trace_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_current: ContextVar[Mapping[str, str]] = ContextVar("npo_log_context", default=_EMPTY)


@contextmanager
def log_context(
    *,
    npo_id: str | None = None,
    stream: str | None = None,
    record_key: str | None = None,
    assignment_id: str | None = None,
    trace_id: str | None = None,
) -> Iterator[None]:
    """Within the block, log lines carry the given fields (``None``: keep the outer value)."""
    given = {
        "npo_id": npo_id,
        "stream": stream,
        "record_key": record_key,
        "assignment_id": assignment_id,
        "trace_id": trace_id,
    }
    added = {name: value for name, value in given.items() if value is not None}
    token = _current.set(MappingProxyType({**_current.get(), **added}))
    try:
        yield
    finally:
        _current.reset(token)


def current_log_context() -> Mapping[str, str]:
    """The fields set by the enclosing :func:`log_context` blocks."""
    return _current.get()
