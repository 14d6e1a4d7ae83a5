"""The one ``MISSING`` sentinel: "there is nothing at this path", distinct from a JSON null."""

from __future__ import annotations

from typing import Final


class Missing:
    """The type of :data:`MISSING`; falsy, so ``value or default`` reads naturally."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = Missing()
