"""Helpers of the judge and assertion tests: a loopback "judge model" that answers judge requests
with the verdicts a test wants, and a conftest for pytester projects that writes every recorded
score to ``scores-<live|replay>.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_llmops.loopback import Reply, ToolCall

JUDGE_TOOLS = ("record_verdict", "record_claims")

SCORES_CONFTEST = """
import json
import pytest
from pytest_llmops.context import current

@pytest.fixture(autouse=True)
def _dump_scores(request):
    yield
    ctx = current()
    mode = "live" if request.config.getoption("llm_live") else "replay"
    with open(f"scores-{mode}.jsonl", "a") as f:
        for s in ctx.scores:
            row = {k: getattr(s, k) for k in ("test", "metric", "value", "source", "model", "prompt",
                                              "prompt_digest", "reason", "details")}
            row["samples"] = list(s.samples)
            f.write(json.dumps(row, default=str) + "\\n")
"""


def judge_tool(request_json: dict[str, Any]) -> str | None:
    """The judge tool a request asks for (OpenAI: response_format name; Anthropic: forced tool)."""
    body = request_json if isinstance(request_json, dict) else {}
    fmt = (body.get("response_format") or {}).get("json_schema") or {}
    if fmt.get("name") in JUDGE_TOOLS:
        return str(fmt["name"])
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("name") in JUDGE_TOOLS:
            return str(tool["name"])
    return None


class Verdicts:
    """A reply function serving the given verdicts, in order, to judge requests (other requests get
    the default reply): ``verdicts`` to the rubric prompt (record_verdict), ``claims`` to the
    faithfulness-claims prompt (record_claims). A verdict is a dict (OpenAI: its JSON as the text;
    Anthropic: the forced tool's input) or a str (the text the judge writes, for either provider).
    The last one of each queue repeats."""

    def __init__(self, *verdicts: dict[str, Any] | str, claims: Iterable[dict[str, Any] | str] = ()) -> None:
        self.queues: dict[str, list[dict[str, Any] | str]] = {"record_verdict": list(verdicts),
                                                               "record_claims": list(claims)}
        self.served = {name: 0 for name in self.queues}

    def __call__(self, request: Any, provider: str) -> Reply | None:
        tool = judge_tool(request.json)
        if tool is None or not self.queues[tool]:
            return None
        queue = self.queues[tool]
        verdict = queue[min(self.served[tool], len(queue) - 1)]
        self.served[tool] += 1
        if isinstance(verdict, str):
            return Reply(text=verdict)
        if provider == "anthropic":
            return Reply(tool_calls=[ToolCall(tool, verdict)])
        return Reply(text=json.dumps(verdict))


def setup_project(project: Any, *, judge_model: str | None = "openai:gpt-4o-mini", extra_ini: str = "") -> None:
    ini = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    if judge_model:
        ini += f"llm_judge_model = {judge_model}\n"
    project.pytester.makeini(ini + extra_ini)
    project.pytester.makeconftest(SCORES_CONFTEST)


def scores(project: Any, mode: str) -> list[dict[str, Any]]:
    path = Path(project.path) / f"scores-{mode}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def by_test(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["test"].split("::")[-1], []).append(row)
    return out
