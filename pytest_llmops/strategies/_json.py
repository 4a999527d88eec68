"""Strategies for JSON as models break it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ..faults import MALFORMED_STYLES, malform
from ._common import json_documents

__all__ = ["malformed_json", "MALFORMED_STYLES"]


@st.composite
def malformed_json(draw: st.DrawFn, documents: st.SearchStrategy[dict[str, Any]] | None = None,
                   styles: Sequence[str] | None = None) -> str:
    """Text a model produced instead of the JSON asked for, which ``json.loads`` rejects: ``styles``
    (default all of ``MALFORMED_STYLES``) — truncated, trailing or leading prose, Markdown fences,
    single quotes, raw newlines in strings, trailing commas, Python literals. ``documents``: the JSON
    objects that get broken (default: ``json_documents()``)."""
    chosen = list(styles or MALFORMED_STYLES)
    unknown = set(chosen) - set(MALFORMED_STYLES)
    if unknown:
        raise ValueError(f"styles: unknown {sorted(unknown)}; expected some of {MALFORMED_STYLES}")
    document = draw(documents if documents is not None else json_documents())
    style = draw(st.sampled_from(chosen))
    text = malform(document, style)
    try:
        json.loads(text)
    except ValueError:
        return text
    # Rare: the breakage vanished (e.g. single quotes on a document with no strings). Break it for sure.
    return text + "\n\nHope this helps!"
