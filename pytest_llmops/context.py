"""What the running test has done so far: its provider calls, the prompts it used, its scores.

Assertions such as ``assert_faithful`` are plain functions a test imports, yet their scores must be
recorded against the test that called them (for the baseline and the report). The plugin opens a
``TestContext`` when a test starts and closes it when it ends; ``current()`` returns it (or ``None``
outside a pytest test, where the functions still work and simply record nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TestContext", "current", "open_context", "close_context"]


@dataclass
class TestContext:
    """Per-test record shared by the plugin's modules."""

    nodeid: str
    item: Any = None
    #: Provider calls (``transport.Exchange``), in order.
    exchanges: list[Any] = field(default_factory=list)
    #: Lineage of the prompt most recently rendered in this test: {"prompt": "name@v", "prompt_digest": ...}
    active_prompt: dict[str, str] | None = None
    #: Every prompt lineage used by the test, in order of first use.
    prompts: list[dict[str, str]] = field(default_factory=list)
    #: Lineage of the prompt version the test is about (``@pytest.mark.llm_prompt``): its scores carry
    #: this one even if the test renders other prompts (a grader's, ...) afterwards.
    prompt_under_test: dict[str, str] | None = None
    #: Scores recorded by assertions and ``llm_baseline.check`` (``scores.Score``).
    scores: list[Any] = field(default_factory=list)
    #: The test's LLM judge (``judge.Judge``), set by the ``llm_judge`` fixture or on first use by
    #: ``assert_judge``; ``None`` until then.
    judge: Any = None
    #: A repeated test (``--llm-repeat``, ``@pytest.mark.llm(repeat=N)``): how many times its body
    #: runs, and which repetition is running (1-based; ``None`` outside the body). In repetition
    #: k > 1 a score joins the same metric's score of the earlier repetitions (``scores.record_score``).
    repetitions: int = 1
    episode: int | None = None
    #: Scores recorded per metric in the running repetition (reset at each repetition).
    episode_counts: dict[str, int] = field(default_factory=dict)

    def use_prompt(self, lineage: dict[str, str]) -> None:
        self.active_prompt = lineage
        if lineage not in self.prompts:
            self.prompts.append(lineage)

    @property
    def models(self) -> list[str]:
        """Models the test's calls used, in order of first use."""
        seen: list[str] = []
        for exchange in self.exchanges:
            model = getattr(exchange, "model", None)
            if model and model not in seen:
                seen.append(model)
        return seen


_current: TestContext | None = None


def current() -> TestContext | None:
    """The running test's context, or ``None`` outside a test."""
    return _current


def open_context(nodeid: str, item: Any = None) -> TestContext:
    global _current
    _current = TestContext(nodeid, item)
    return _current


def close_context() -> None:
    global _current
    _current = None
