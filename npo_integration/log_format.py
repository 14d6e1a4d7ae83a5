"""``NPO_LOG_FORMAT=json``: one JSON object per log line, for a log pipeline to index.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the fields of the
enclosing :func:`~npo_integration.log_context.log_context` (``npo_id``, ``stream``,
``record_key``, ``assignment_id``, ``trace_id``, where set) and ``exc_info`` for an exception.
An ``extra=`` value that is not a plain string, number or boolean is written as its type name
only: a config or settings object handed to a log call can never spill its fields (secrets
among them) into the line. The text format stays Faust's own.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from npo_integration.log_context import current_log_context

LogFormat = Literal["text", "json"]
_PLAIN = (str, int, float, bool, type(None))
_FIRST = ("time", "level", "logger", "message")


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter with the service's field names and log context."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_default=_opaque,
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        context = current_log_context()
        fields = {
            **{name: log_data.pop(name) for name in _FIRST if name in log_data},
            **{name: value for name, value in context.items() if name not in log_data},
            **log_data,  # extra= fields, a field given with extra= winning over the context's
        }
        log_data.clear()
        for name, value in fields.items():
            if isinstance(value, datetime):  # the timestamp
                log_data[name] = value.isoformat()
            elif isinstance(value, _PLAIN):
                log_data[name] = value
            else:
                log_data[name] = _opaque(value)


def _opaque(value: object) -> str:
    return f"<{type(value).__name__}>"


def logging_config(log_format: LogFormat) -> dict[str, Any] | None:
    """Faust's ``logging_config`` for ``log_format``: ``None`` keeps Faust's text lines; for
    ``json`` the formatters Faust's worker configures its handler with (``default`` for a log
    file, ``colored`` for the console) become :class:`JsonFormatter`, merged into the rest of
    Faust's logging set-up (level, handler, ``-f`` file)."""
    if log_format == "text":
        return None
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    return {"merge": True, "formatters": {"default": json_formatter, "colored": json_formatter}}
