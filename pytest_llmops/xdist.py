"""pytest-xdist: workers publish what they collected, the controller merges it.

Each feature that gathers data over the session (usage records, scores, ...) registers a
``Channel``: a name, a function returning the worker's data as builtins (lists/dicts/str/numbers:
execnet can only send those), and a function merging one worker's data into the controller's state.
Workers put every channel's data on ``config.workeroutput`` once, at the end; xdist hands it to the
controller in ``pytest_testnodedown``. Nothing goes through shared files, so nothing is lost or doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Channel", "Channels", "is_worker"]

_KEY = "pytest_llmops"


def is_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")


@dataclass
class Channel:
    name: str
    collect: Callable[[], Any]  # on a worker: this worker's data, as builtins (None: nothing to send)
    merge: Callable[[Any], None]  # on the controller: add one worker's data


class Channels:
    """The session's channels (one ``Channels`` per ``LLMSession``)."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def register(self, channel: Channel) -> None:
        self._channels[channel.name] = channel

    def publish(self, config: Any) -> None:
        """On a worker, at session finish: hand every channel's data to xdist (a channel whose
        ``collect`` returns None has nothing to send: the worker never used that feature)."""
        if is_worker(config):
            data = {name: c.collect() for name, c in self._channels.items()}
            config.workeroutput[_KEY] = {name: value for name, value in data.items() if value is not None}

    def receive(self, workeroutput: dict[str, Any]) -> None:
        """On the controller, when a worker finishes: merge its data."""
        for name, data in workeroutput.get(_KEY, {}).items():
            channel = self._channels.get(name)
            if channel is not None and data is not None:
                channel.merge(data)
