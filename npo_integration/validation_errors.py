"""Pydantic's validation errors in words: the one formatter of every message about invalid input.

Configs, settings, decoded messages, plug-in output and declarative mappings all
say what is wrong the same way: where (a dotted field path) and why (pydantic's
reason, without its ``Value error,`` prefix), the first few errors and a count
of the rest. Imports nothing of the project, so that any layer may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

Location = Sequence[int | str]


def dotted(location: Location) -> str:
    """``auth.kind``, ``streams.offerings.0``; ``(root)`` for the value as a whole."""
    return ".".join(str(part) for part in location) or "(root)"


def first_field(exc: ValidationError) -> str:
    """The top-level field of the first error; ``""`` when the value as a whole is wrong."""
    location = exc.errors(include_url=False)[0]["loc"]
    return str(location[0]) if location else ""


def describe_validation_error(
    exc: ValidationError,
    *,
    limit: int | None = 5,
    name: Callable[[Location], str] | None = dotted,
    show_input: bool = False,
) -> str:
    """``where: why`` per error, ``; ``-separated, at most ``limit`` and ``(and N more)``.

    ``name`` says where an error is (``None``: the reason only, for a caller that
    names the field itself); ``show_input`` adds ``, got <the value>``.
    """
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors if limit is None else errors[:limit]:
        reason = error["msg"].removeprefix("Value error, ")
        if show_input:
            reason = f"{reason}, got {error.get('input')!r}"
        parts.append(f"{name(error['loc'])}: {reason}" if name is not None else reason)
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
