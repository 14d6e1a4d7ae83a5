"""What a call to an NPO gives back: an immutable response, and one page of a stream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from npo_integration.json_input import JsonInputError, JsonTooDeepError, loads


@dataclass(frozen=True, slots=True)
class NpoResponse:
    """An NPO's answer, read in full; ``url`` is the public URL (no auth query parameters)."""

    status: int
    url: str
    headers: CIMultiDictProxy[str] = field(repr=False)
    text: str = field(repr=False)
    json: Any = field(default=None, repr=False)
    is_json: bool = False
    json_error: str | None = field(default=None, repr=False)
    """Why a body that may look like JSON is not (nested too deeply), for the caller's message."""
    links: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        *,
        status: int,
        url: str,
        headers: Mapping[str, str] | CIMultiDictProxy[str],
        raw: bytes,
        charset: str | None,
        links: Mapping[str, str],
    ) -> NpoResponse:
        """Decode ``raw`` once: JSON whatever the content type says (NPOs mislabel), else text.

        Bytes that are not valid in the charset are replaced, never an error; a body that does
        not parse (nested too deeply included) is text, with ``json_error`` saying why."""
        try:
            text = raw.decode(charset or "utf-8", errors="replace")
        except LookupError:
            text = raw.decode("utf-8", errors="replace")
        body: Any = None
        is_json = False
        json_error = None
        if raw.strip():
            try:
                body = loads(text)
                is_json = True
            except JsonTooDeepError as exc:
                json_error = str(exc)  # the sample would not say why
            except JsonInputError:
                pass
        return cls(
            status=status,
            url=url,
            headers=CIMultiDictProxy(CIMultiDict(headers)),
            text=text,
            json=body,
            is_json=is_json,
            json_error=json_error,
            links=dict(links),
        )
