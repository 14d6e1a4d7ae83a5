"""The simulated NPO systems, by name."""

from __future__ import annotations

from . import blackbaud, canvas, civicrm, cursor, moodle, offset, salesforce, simple
from .base import Flavour

FLAVOURS: dict[str, Flavour] = {
    module.FLAVOUR.name: module.FLAVOUR
    for module in (simple, canvas, moodle, salesforce, civicrm, cursor, offset, blackbaud)
}


def get_flavour(name: str) -> Flavour:
    """The flavour called ``name``; KeyError names the known ones."""
    try:
        return FLAVOURS[name]
    except KeyError:
        raise KeyError(f"unknown flavour {name!r}; known: {', '.join(FLAVOURS)}") from None


__all__ = ["FLAVOURS", "Flavour", "get_flavour"]
