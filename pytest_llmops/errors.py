"""The errors pytest-llmops raises, and how they get past the SDKs' retry loops.

The SDKs retry (and sleep) on any transport exception that is not their own base error, then hide it
inside ``APIConnectionError("Connection error.")``. An unmatched request must instead reach the test
at once, with its real message. So the error raised from inside the HTTP transport is built at run time
as a subclass of both our own class and each SDK's base error that is imported (``openai.OpenAIError``,
``anthropic.AnthropicError``): the SDKs pass their own base errors through unretried and unwrapped.
``except CassetteMiss`` catches it either way.

``short_repr`` is how pytest shows them: the test's own frames and the message.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

__all__ = [
    "LLMOpsError",
    "CassetteError",
    "CassetteMiss",
    "LiveModeError",
    "sdk_compatible",
    "short_repr",
]


class LLMOpsError(Exception):
    """Base class of every error raised by pytest-llmops."""


class CassetteError(LLMOpsError):
    """A cassette file cannot be read or written (corrupt YAML, wrong layout, disk error)."""


class CassetteMiss(LLMOpsError):
    """A request made in replay mode has no recorded response (or no cassette exists)."""


class LiveModeError(LLMOpsError):
    """A live (recording) call cannot be made: no API key, budget spent, ..."""


_SDK_BASES = (("openai", "OpenAIError"), ("anthropic", "AnthropicError"))


@lru_cache(maxsize=None)
def _combined(cls: type[LLMOpsError], bases: tuple[type[BaseException], ...]) -> type[LLMOpsError]:
    return type(cls.__name__, (cls, *bases), {"__module__": cls.__module__, "__doc__": cls.__doc__})


def sdk_compatible(cls: type[LLMOpsError], message: str) -> LLMOpsError:
    """An instance of ``cls`` that also subclasses the imported SDKs' base errors (see module doc)."""
    bases = tuple(
        getattr(sys.modules[module], name)
        for module, name in _SDK_BASES
        if module in sys.modules and hasattr(sys.modules[module], name)
    )
    return _combined(cls, bases)(message)


_LIBRARY_PARTS = ("site-packages", "dist-packages", os.sep + "pytest_llmops" + os.sep)


def short_repr(excinfo: Any, test_path: Any, style: str) -> Any:
    """A test's failure by one of our errors as pytest shows it (``report.longrepr``): the test's own
    frames and the message, not fifty frames of SDK internals. ``style``: pytest's ``--tb``
    (``auto``, ``long`` or ``short``)."""
    frames = excinfo.traceback.cut(path=test_path)
    frames = frames.filter(lambda entry: not any(part in str(entry.path) for part in _LIBRARY_PARTS)) or frames
    return excinfo.getrepr(style="long" if style == "auto" else style, funcargs=True, tbfilter=lambda _: frames)
