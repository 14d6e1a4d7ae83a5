"""What outside input looks like to a fuzzer: any JSON, and text with the characters parsers trip
on."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

TRICKY = st.sampled_from(
    [*list("<>;,=\"'{}[]().|\\/:?#&%$@!*` \t\r\n\x00"), "\u2028", "�", "é", "𝄞", "-", "0"]
)
texts = st.text(st.one_of(TRICKY, st.characters()), max_size=40)
"""Short text mixing ordinary characters with the separators of paths, templates and headers."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    texts,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(texts, st.sampled_from(["id", "name", "data", "x"])), children, max_size=5
        ),
    ),
    max_leaves=25,
)
"""Any JSON document (nested a few levels)."""


def replace_at(document: Any, path: list[Any], value: Any) -> Any:
    """``document`` with the value at ``path`` (keys and indexes; a missing one is added)
    replaced: a valid document with one part made wrong."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        key = (
            head
            if isinstance(head, str)
            else (list(document) or ["x"])[head % max(len(document), 1)]
        )
        return {**document, key: replace_at(document.get(key), rest, value)}
    if isinstance(document, list) and document:
        index = head % len(document) if isinstance(head, int) else 0
        return [*document[:index], replace_at(document[index], rest, value), *document[index + 1 :]]
    return value
