"""A TOY stand-in for a real model, used only to record the example cassettes without a provider.

    python -m pytest_llmops.loopback --reply loopback_model:reply      (examples/record.sh does this)

It is not a model and not a judge, and its scores mean nothing about answer quality. It is here so
that the example tests can be recorded on any machine, with no key and no spend, and still exercise
every code path a real judge would:

* the assistant's requests get the loopback server's default reply (extractive: the context
  sentence that shares the most words with the question);
* requests made with pytest-llmops' judge prompts (recognised by their verdict tool:
  ``record_verdict`` for ``llm_judge.score`` / ``assert_judge``, ``record_claims`` for
  ``assert_faithful(method="judge")``) get a verdict computed from word overlap: the share of the
  output's content words that appear in the context, mapped onto the scale; a claim is
  "supported" when at least 80% of its words are in the context, "partial" from 50%.

The verdict comes back the way the judge asked for it: the forced tool's input (Anthropic) or JSON
text (OpenAI structured output). Record with a real judge by pointing the SDKs at the real APIs
(``pytest --llm-live``) instead; the cassettes then hold the real judge's verdicts.

Two more behaviours make the example's other features recordable:

* **structured output** (the assistant's ``cited_answer`` JSON schema, ``Assistant.ask_structured``):
  ``{"answer": <the extractive answer>, "sources": [<the document it comes from>]}``, where the
  document is named by the ``# Title`` heading above the chosen sentence, in lower case;
* **a worse "new model"**, for the model-upgrade walkthrough (docs/model-upgrade.md): a request for
  ``UPGRADE_MODEL`` (``gpt-4.1-mini``, sent by ``--llm-model gpt-4o-mini=gpt-4.1-mini``) that has a
  system prompt gets the same answer followed by ``INVENTED``, a sentence of its own that no document
  supports: the toy stand-in for a model that follows "use only the context" less strictly. Requests
  without a system prompt (the resilience example's) and every other model are answered as before,
  so the upgrade changes exactly the assistant's answers, deterministically. The judge's requests
  are never affected: the judge is pinned to ``gpt-4o-mini-2024-07-18``, which the substitution does
  not name. This says nothing about the real gpt-4.1-mini.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_llmops.loopback import ReceivedRequest, Reply, ToolCall, default_reply

JUDGE_TOOLS = ("record_verdict", "record_claims")
#: The JSON schema name of the assistant's structured answers (prompts/answer-json/).
CITED_ANSWER = "cited_answer"
#: The toy "new model" of the model-upgrade walkthrough, and the sentence it adds to its answers.
UPGRADE_MODEL = "gpt-4.1-mini"
INVENTED = "Our support team usually replies within 24 hours."
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "is", "it", "its", "of", "on", "or", "our", "the", "their",
    "there", "this", "to", "was", "we", "what", "when", "which", "who", "will", "with", "within",
    "you", "your",
))
_SCALE = re.compile(r"scale from (-?[\d.]+) .*? to (-?[\d.]+) ", re.DOTALL)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _section(text: str, tag: str) -> str:
    found = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", text, re.DOTALL)
    return found.group(1).strip() if found else ""


def _overlap(claim: str, context: str) -> float:
    words = _words(claim)
    known = set(_words(context))
    return sum(w in known for w in words) / len(words) if words else 1.0


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _evidence(claim: str, context: str) -> str:
    words = set(_words(claim))
    ranked = sorted(_sentences(context), key=lambda s: -len(words & set(_words(s))))
    return ranked[0] if ranked and words & set(_words(ranked[0])) else ""


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _verdict(prompt: str) -> dict[str, Any]:
    output, context = _section(prompt, "output"), _section(prompt, "context")
    scale = _SCALE.search(prompt)
    lo, hi = (_number(scale.group(1)), _number(scale.group(2))) if scale else (1, 5)
    share = _overlap(output, context)
    score = lo + share * (hi - lo)
    score = round(score) if isinstance(lo, int) and isinstance(hi, int) else round(score, 2)
    words = _words(output)
    known = sum(w in set(_words(context)) for w in words)
    return {
        "reason": f"Toy judge (word overlap, not a real judgement): {known} of {len(words)} content words "
        "of the output appear in the context.",
        "score": score,
    }


def _claims(prompt: str) -> dict[str, Any]:
    answer, context = _section(prompt, "answer"), _section(prompt, "context")
    claims = []
    for sentence in _sentences(answer):
        share = _overlap(sentence, context)
        verdict = "supported" if share >= 0.8 else "partial" if share >= 0.5 else "unsupported"
        claims.append({
            "claim": sentence,
            "verdict": verdict,
            "evidence": _evidence(sentence, context),
            "reason": f"Toy judge: {share:.0%} of the claim's content words are in the context.",
        })
    return {"claims": claims}


def _judge_tool(body: dict[str, Any]) -> str | None:
    fmt = (body.get("response_format") or {}).get("json_schema") or {}
    if fmt.get("name") in JUDGE_TOOLS:
        return str(fmt["name"])
    names = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    return next((n for n in names if n in JUDGE_TOOLS), None)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
            return str(content or "")
    return ""


def _schema_name(body: dict[str, Any]) -> str | None:
    fmt = (body.get("response_format") or {}).get("json_schema") or {}
    return fmt.get("name")


def _has_system_prompt(body: dict[str, Any]) -> bool:
    if body.get("system"):  # Anthropic
        return True
    return any(isinstance(m, dict) and m.get("role") in ("system", "developer") for m in body.get("messages") or [])


def _source_of(sentence: str, prompt: str) -> str | None:
    """The ``# Title`` heading (lower case) of the document holding ``sentence`` in the prompt."""
    position = prompt.find(sentence)
    titles = list(re.finditer(r"^# (.+)$", prompt[:position] if position >= 0 else "", re.MULTILINE))
    return titles[-1].group(1).strip().lower() if titles else None


def _cited_answer(request: ReceivedRequest, provider: str, body: dict[str, Any]) -> Reply:
    answer = json.loads(default_reply(request, provider).text)["answer"]
    source = _source_of(answer, _last_user_text(body))
    if body.get("model") == UPGRADE_MODEL:
        answer = f"{answer} {INVENTED}"
    return Reply(text=json.dumps({"answer": answer, "sources": [source] if source else []}))


def reply(request: ReceivedRequest, provider: str) -> Reply | None:
    """The loopback reply function: a verdict for judge requests, a cited answer for the assistant's
    structured requests, the upgrade model's padded answer; else None (the server's default reply)."""
    body = request.json if isinstance(request.json, dict) else {}
    tool = _judge_tool(body)
    if tool is not None:
        prompt = _last_user_text(body)
        verdict = _verdict(prompt) if tool == "record_verdict" else _claims(prompt)
        if provider == "anthropic":
            return Reply(tool_calls=[ToolCall(tool, verdict)])
        return Reply(text=json.dumps(verdict))
    if _schema_name(body) == CITED_ANSWER:
        return _cited_answer(request, provider, body)
    if body.get("model") == UPGRADE_MODEL and _has_system_prompt(body):
        answer = default_reply(request, provider)
        if answer.text and not answer.tool_calls and answer.finish_reason is None:
            answer.text = f"{answer.text} {INVENTED}"
            return answer
    return None
