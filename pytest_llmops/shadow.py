"""``pytest --llm-live --llm-shadow MODEL``: send every request of the run to a challenger model too.

The champion is what the tests run against: the model each request asks for (after ``--llm-model``).
With ``--llm-shadow gpt-4.1`` (or ``openai:gpt-4.1`` to shadow only that provider's requests), each
live request a test sends to a model endpoint (chat completions, Responses API, Anthropic messages) is
also sent, at the same moment, from a background thread, with ``model`` replaced by the challenger:

* nothing changes for the test: the application gets the champion's response, the test's
  assertions, scores, baseline verdicts, cassettes and usage are the champion's alone; a shadow
  call that fails (or the challenger's provider refusing the model name) is reported, never raised;
* retries (``x-stainless-retry-count`` > 0) and the LLM judge's own calls are not shadowed;
* the shadow answers are written, scrubbed like cassettes, to
  ``<llm_cassette_dir>/shadow/<MODEL>/<test module>/<test name>.yaml``;
* their spend counts against ``--llm-budget`` (a shadow call is not sent once it is used up).

What is compared, per call and per metric, champion vs challenger:

* the answer itself: ``similarity to champion`` (word-level, 0..1), finish reason, errors;
* usage: input/output tokens, estimated cost, latency;
* the scores the test computed on the champion's answer, recomputed on the challenger's answer with
  the same inputs, when the test gave an answer of the call to one of the built-in scorers:
  ``assert_faithful`` (offline: same context and threshold; ``method="judge"``: the same judge),
  ``assert_judge`` / ``llm_judge.score`` (the same judge model, rubric, scale, context and question:
  one more judge call per sample, recorded in the shadow cassette), and ``assert_schema`` (the same
  schema). The scorer's input is paired with a call when it is that call's answer text, or contains it.
* not recomputed: ``llm_baseline.check`` scores and anything else the test body computes itself
  (that needs the test body to run on the challenger's answer); the summary names them.

The ``llm shadow`` section of the terminal summary and of the ``--llm-html`` report put champion and
challenger side by side: per metric the means and how many tests got better, worse or stayed the same,
the cost and latency, then each test.
"""

from __future__ import annotations

import contextlib
import copy
import html
import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ShadowRun", "parse_shadow"]

#: How long a test's teardown waits for its shadow calls (and their judge calls) to finish.
WAIT_SECONDS = 300.0
_SAME = 1e-9


def parse_shadow(spec: str) -> tuple[str | None, str]:
    """``"gpt-4.1"`` -> ``(None, "gpt-4.1")``; ``"openai:gpt-4.1"`` -> ``("openai", "gpt-4.1")``."""
    spec = (spec or "").strip()
    provider, sep, model = spec.partition(":")
    if sep and provider in ("openai", "anthropic"):
        spec = model.strip()
    else:
        provider = ""
    if not spec:
        raise ValueError("--llm-shadow expects the challenger model, e.g. --llm-shadow gpt-4.1 "
                         "(or openai:gpt-4.1 to shadow only OpenAI requests)")
    return provider or None, spec


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\-@=+]", "_", name)[:120]


@dataclass
class _Result:
    interaction: Any = None
    latency_ms: float = 0.0
    error: str | None = None


@dataclass
class _Call:
    key: Any  # the champion request's match key (as recorded: scrubbed)
    kind: str
    champion_model: str | None
    future: Future[_Result]


@dataclass
class _TestShadow:
    nodeid: str
    calls: list[_Call] = field(default_factory=list)
    scorings: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[Any] = field(default_factory=list)  # what the shadow cassette gets
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Sender:
    """Sends a request to the real provider through the transport as it was before any test patched
    it (so nothing lands in the test's cassette), and records it (scrubbed) for the shadow cassette."""

    def __init__(self, original: Any, filter_headers: Sequence[str]) -> None:
        import httpx2

        self.original = original
        self.transport = httpx2.HTTPTransport()
        self.filter_headers = tuple(filter_headers)

    def send(self, request: Any) -> tuple[Any, _Result]:
        import httpx2

        from .transport import scrubbed_interaction

        started = time.perf_counter()
        response = self.original(self.transport, request)
        try:
            body = response.read()
        finally:
            response.close()
        latency = (time.perf_counter() - started) * 1000
        interaction = scrubbed_interaction(
            request.method, str(request.url), request.headers.multi_items(), request.content, response.status_code,
            response.reason_phrase, response.headers.multi_items(), body, latency, filter_headers=self.filter_headers,
        )
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        served = httpx2.Response(response.status_code, headers=headers, content=body, request=request)
        return served, _Result(interaction, latency)


def _judge_transport(sender: _Sender, state: _TestShadow) -> Any:
    """An httpx2 transport for the shadow judge: sends through ``sender``, records into ``state``."""
    import httpx2

    class ShadowJudgeTransport(httpx2.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            response, result = sender.send(request)
            with state.lock:
                state.interactions.append(result.interaction)
            return response

    return ShadowJudgeTransport()


class ShadowRun:
    """The session's shadow: sends, waits, scores, writes, and reports. One per process (xdist:
    workers send and score their tests; the controller merges the results and reports)."""

    def __init__(self, spec: str, settings: Any, *, pricing: Any = None, budget: Any = None, live: bool = True) -> None:
        self.provider, self.model = parse_shadow(spec)
        self.spec = spec
        self.settings = settings
        self.pricing = pricing
        self.budget = budget
        self.live = live
        self.results: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._tests: dict[str, _TestShadow] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._sender: _Sender | None = None
        self._monkeypatch: Any = None
        self._originals: dict[str, Any] = {}

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}" if self.provider else self.model

    # -- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Keep the unpatched transport, start the sending threads, and watch the built-in scorers."""
        import httpx2
        import pytest

        self._sender = _Sender(httpx2.HTTPTransport.handle_request, self.settings.filter_headers)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pytest-llmops-shadow")
        self._monkeypatch = pytest.MonkeyPatch()
        self._watch_scorers(self._monkeypatch)

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._monkeypatch is not None:
            self._monkeypatch.undo()

    def _watch_scorers(self, monkeypatch: Any) -> None:
        """Note the inputs of the built-in scorers while a test runs (their results are unchanged)."""
        from . import assertions, schema
        from .judge import Judge

        shadow = self
        original_faithful = assertions.check_faithfulness

        def check_faithfulness(answer: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            result = original_faithful(answer, context, *args, **kwargs)
            shadow._note("faithfulness", "faithfulness", answer, result.score,
                         context=context, threshold=kwargs.get("threshold", args[0] if args else None))
            return result

        original_score = Judge.score

        def score(judge: Any, output: Any, **kwargs: Any) -> Any:
            result = original_score(judge, output, **kwargs)
            metric = kwargs.get("metric", "judge")
            if metric:
                shadow._note("judge", metric, output, result.value, judge=judge,
                             kwargs={k: v for k, v in kwargs.items() if k not in ("metric", "details")})
            return result

        original_claims = Judge.check_faithfulness

        def judge_faithfulness(judge: Any, answer: Any, context: Any, **kwargs: Any) -> Any:
            result = original_claims(judge, answer, context, **kwargs)
            if kwargs.get("metric"):
                shadow._note("judge_faithfulness", kwargs["metric"], answer, result.score, judge=judge, context=context,
                             kwargs={"threshold": kwargs.get("threshold")} if kwargs.get("threshold") is not None else {})
            return result

        original_schema = schema.assert_schema

        def assert_schema(value: Any, schema_: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                data = original_schema(value, schema_, *args, **kwargs)
            except schema.SchemaAssertionError:
                shadow._note("schema", "schema", value, 0.0, schema=schema_, kwargs=kwargs)
                raise
            shadow._note("schema", "schema", value, 1.0, schema=schema_, kwargs=kwargs)
            return data

        self._originals = {"schema": original_schema, "score": original_score, "claims": original_claims}
        monkeypatch.setattr(assertions, "check_faithfulness", check_faithfulness)
        monkeypatch.setattr(Judge, "score", score)
        monkeypatch.setattr(Judge, "check_faithfulness", judge_faithfulness)
        monkeypatch.setattr(schema, "assert_schema", assert_schema)

    def _note(self, kind: str, metric: str, value: Any, champion: Any, **inputs: Any) -> None:
        with contextlib.suppress(Exception):
            from .context import current

            ctx = current()
            state = self._tests.get(ctx.nodeid) if ctx is not None else None
            if state is None or not isinstance(value, str):
                return
            state.scorings.append({"kind": kind, "metric": metric, "text": value, "champion": champion, **inputs})

    # -- sending (a send check of the session: called before each live request goes out) -------------
    def send_check(self, request: Any, item: Any = None) -> None:
        """Never raises: a shadow problem must not stop the champion's call."""
        try:
            self._shadow(request, item)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"{getattr(item, 'nodeid', '?')}: the shadow request was not sent ({type(exc).__name__}: {exc})")

    def _shadow(self, request: Any, item: Any) -> None:
        import httpx2

        from .answers import kind_of
        from .cassette import _scrubbed_key, provider_of
        from .context import current
        from .lastrun import is_judge_lineage

        if item is None or self._executor is None or self._sender is None:
            return
        ctx = current()
        if ctx is not None and is_judge_lineage(ctx.active_prompt):
            return
        if request.headers.get("x-stainless-retry-count", "0").strip() not in ("", "0"):
            return
        kind = kind_of(request.method, str(request.url))
        if kind is None:
            return
        if self.provider is not None and provider_of(str(request.url), request.headers) != self.provider:
            return
        content = request.read()
        data = json.loads(content)
        if not isinstance(data, dict) or not isinstance(data.get("model"), str):
            return
        state = self._state(item.nodeid)
        if self.budget is not None and self.budget.spent() >= self.budget.limit_usd:
            state.notes.append("a shadow call was not sent: the --llm-budget is used up")
            return
        body = json.dumps({**data, "model": self.model}).encode("utf-8")
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in ("content-length",)]
        shadow_request = httpx2.Request(request.method, request.url, headers=headers, content=body)
        future = self._executor.submit(self._send, shadow_request, state)
        state.calls.append(_Call(_scrubbed_key(request.method, str(request.url), content), kind, data["model"], future))

    def _state(self, nodeid: str) -> _TestShadow:
        with self._lock:
            state = self._tests.get(nodeid)
            if state is None:
                state = self._tests[nodeid] = _TestShadow(nodeid)
            return state

    def _send(self, request: Any, state: _TestShadow) -> _Result:
        assert self._sender is not None
        try:
            _, result = self._sender.send(request)
        except Exception as exc:  # noqa: BLE001 - a network error is the challenger's result
            return _Result(error=f"{type(exc).__name__}: {exc}")
        with state.lock:
            state.interactions.append(result.interaction)
        return result

    # -- after the test: wait, score, write ---------------------------------------------------------
    def finish_test(self, item: Any) -> None:
        """At teardown (the champion's cassette is saved): complete this test's shadow. Never raises."""
        with self._lock:
            state = self._tests.pop(item.nodeid, None)
        if state is None or (not state.calls and not state.notes):
            return
        try:
            self._finish(item, state)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"{item.nodeid}: the shadow comparison failed ({type(exc).__name__}: {exc})")

    def _finish(self, item: Any, state: _TestShadow) -> None:
        from .answers import Answer, answer_from_interaction, similarity
        from .context import current
        from .lastrun import is_judge_call
        from .transport import Exchange

        ctx = current()
        exchanges = [e for e in (ctx.exchanges if ctx is not None and ctx.nodeid == item.nodeid else [])
                     if not is_judge_call(e)]
        unused = list(exchanges)
        calls = []
        pairs: list[tuple[Answer, Answer]] = []
        for call in state.calls:
            try:
                result = call.future.result(timeout=WAIT_SECONDS)
            except Exception as exc:  # noqa: BLE001
                result = _Result(error=f"{type(exc).__name__}: {exc}")
            champion = next((e for e in unused if e.interaction.key == call.key), None)
            if champion is not None:
                unused.remove(champion)
            champion_answer = answer_from_interaction(champion.interaction) if champion is not None else None
            champion_record = self._usage(champion) if champion is not None else {}
            if result.interaction is not None:
                shadow_exchange = Exchange(result.interaction, False, result.latency_ms, test=item.nodeid,
                                           prompt=champion.prompt if champion is not None else None)
                shadow_answer = answer_from_interaction(result.interaction) or Answer(error="no answer")
                shadow_record = self._usage(shadow_exchange)
                if self.budget is not None and shadow_record:
                    with contextlib.suppress(Exception):
                        self.budget.spend(shadow_record)
            else:
                shadow_answer, shadow_record = Answer(error=result.error), {}
            if champion_answer is not None and not shadow_answer.error:
                pairs.append((champion_answer, shadow_answer))
            calls.append({
                "champion_model": (champion.model if champion is not None else call.champion_model),
                "champion": champion_answer.to_json() if champion_answer is not None else None,
                "challenger": shadow_answer.to_json(),
                "similarity": similarity(shadow_answer.text, champion_answer.text)
                if champion_answer is not None and not shadow_answer.error else None,
                "champion_usage": _usage_view(champion_record),
                "challenger_usage": _usage_view(shadow_record) if not shadow_answer.error else {},
            })
        scores = self._rescore(state, pairs)
        recomputed = {s["metric"] for s in scores}
        other = sorted({s.metric for s in (ctx.scores if ctx is not None else []) if s.metric not in recomputed})
        cassette = self._write(item, state)
        self.results.append({"test": item.nodeid, "calls": calls, "scores": scores, "not_recomputed": other,
                             "cassette": cassette, "notes": state.notes})

    def _usage(self, exchange: Any) -> dict[str, Any]:
        if self.pricing is None:
            return {}
        from .usage import call_record

        try:
            return call_record(exchange, self.pricing)
        except Exception:  # noqa: BLE001
            return {}

    def _pair(self, text: str, pairs: Sequence[tuple[Any, Any]]) -> str | None:
        """The challenger's version of a scorer's input: the input with the champion answer swapped."""
        stripped = text.strip()
        for champion, challenger in pairs:
            if champion.text.strip() and champion.text.strip() == stripped:
                return challenger.text
        for champion, challenger in pairs:
            if len(champion.text.strip()) >= 20 and champion.text.strip() in text:
                return text.replace(champion.text.strip(), challenger.text.strip())
        return None

    def _rescore(self, state: _TestShadow, pairs: Sequence[tuple[Any, Any]]) -> list[dict[str, Any]]:
        out = []
        for scoring in state.scorings:
            text = self._pair(scoring["text"], pairs)
            if text is None:
                continue
            value: Any
            reason = ""
            try:
                value = self._score(scoring, text, state)
            except Exception as exc:  # noqa: BLE001 - an unscored challenger, never a fake 0
                value, reason = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            out.append({"metric": scoring["metric"], "kind": scoring["kind"], "champion": scoring["champion"],
                        "challenger": value, "reason": reason})
        return out

    def _score(self, scoring: Mapping[str, Any], text: str, state: _TestShadow) -> float | None:
        kind = scoring["kind"]
        if kind == "faithfulness":
            from .faithfulness import DEFAULT_THRESHOLD, check_faithfulness

            threshold = scoring.get("threshold")
            return check_faithfulness(text, scoring["context"],
                                      threshold=DEFAULT_THRESHOLD if threshold is None else threshold).score
        if kind == "schema":
            from . import schema

            try:
                self._originals["schema"](text, scoring["schema"], **scoring.get("kwargs", {}))
            except schema.SchemaAssertionError:
                return 0.0
            return 1.0
        if kind in ("judge", "judge_faithfulness"):
            judge = self._shadow_judge(scoring["judge"], state)
            if kind == "judge":
                return self._originals["score"](judge, text, metric=None, **scoring.get("kwargs", {})).value
            return self._originals["claims"](judge, text, scoring["context"], metric=None,
                                             **scoring.get("kwargs", {})).score
        return None

    def _shadow_judge(self, judge: Any, state: _TestShadow) -> Any:
        """The same judge (model, prompts), its calls sent and recorded by the shadow, not the test."""
        import httpx2

        assert self._sender is not None
        clone = copy.copy(judge)
        http_client = httpx2.Client(transport=_judge_transport(self._sender, state))
        base = getattr(judge.client, "base_url", None)
        settings: dict[str, Any] = {"http_client": http_client, "api_key": getattr(judge.client, "api_key", None)}
        if base:
            settings["base_url"] = str(base)
        if judge.provider == "openai":
            import openai

            clone._client = openai.OpenAI(**settings)
        else:
            import anthropic

            clone._client = anthropic.Anthropic(**settings)
        return clone

    def _write(self, item: Any, state: _TestShadow) -> str | None:
        from .cassette import recorded_with, save_cassette
        from .session import cassette_path

        with state.lock:
            interactions = list(state.interactions)
        if not interactions:
            return None
        champion_path, _ = cassette_path(self.settings, item, None)
        try:
            relative = champion_path.relative_to(self.settings.cassette_dir)
        except ValueError:
            relative = Path(champion_path.parent.name) / champion_path.name
        path = self.settings.cassette_dir / "shadow" / _safe(self.model) / relative
        save_cassette(path, interactions, {"recorded_with": recorded_with(), "shadow_of": str(relative),
                                           "shadow_model": self.model})
        try:
            return str(path.relative_to(self.settings.rootpath))
        except ValueError:
            return str(path)

    # -- xdist ----------------------------------------------------------------------------------------
    def collect(self) -> dict[str, Any]:
        return {"results": self.results, "errors": self.errors}

    def merge(self, data: Mapping[str, Any]) -> None:
        self.results.extend(data.get("results") or [])
        self.errors.extend(data.get("errors") or [])

    # -- reporting ------------------------------------------------------------------------------------
    def metric_rows(self) -> list[dict[str, Any]]:
        """Per metric: champion and challenger means over the calls/tests where both exist, and counts
        of better / worse / same (higher is better; for cost and latency lower is better)."""
        rows: dict[str, dict[str, Any]] = {}

        def add(metric: str, champion: Any, challenger: Any, lower_is_better: bool = False) -> None:
            row = rows.setdefault(metric, {"metric": metric, "champion": [], "challenger": [], "better": 0, "worse": 0,
                                           "same": 0, "unscored": 0, "lower_is_better": lower_is_better})
            if not isinstance(champion, (int, float)) or not isinstance(challenger, (int, float)):
                row["unscored"] += 1
                return
            row["champion"].append(float(champion))
            row["challenger"].append(float(challenger))
            delta = (champion - challenger) if lower_is_better else (challenger - champion)
            row["better" if delta > _SAME else "worse" if delta < -_SAME else "same"] += 1

        for result in self.results:
            for score in result["scores"]:
                add(score["metric"], score["champion"], score["challenger"])
        for result in self.results:
            for call in result["calls"]:
                if call.get("similarity") is not None:
                    add("similarity to champion", 1.0, call["similarity"])
        for name, key, lower in (("output tokens", "output_tokens", True), ("cost (USD)", "cost_usd", True),
                                 ("latency (ms)", "latency_ms", True)):
            for result in self.results:
                for call in result["calls"]:
                    champion = (call.get("champion_usage") or {}).get(key)
                    challenger = (call.get("challenger_usage") or {}).get(key)
                    if champion is not None and challenger is not None:
                        add(name, champion, challenger, lower)
        return list(rows.values())

    def folder(self) -> str:
        path = self.settings.cassette_dir / "shadow" / _safe(self.model)
        try:
            return str(path.relative_to(self.settings.rootpath))
        except ValueError:
            return str(path)

    def counts(self) -> tuple[int, int, int]:
        calls = sum(len(r["calls"]) for r in self.results)
        failed = sum(1 for r in self.results for c in r["calls"] if (c.get("challenger") or {}).get("error"))
        return len(self.results), calls, failed

    def champions(self) -> str:
        models = sorted({c.get("champion_model") or "?" for r in self.results for c in r["calls"]})
        return ", ".join(models) or "?"

    def summary_lines(self, verbose: bool = False) -> list[str]:
        tests, calls, failed = self.counts()
        if not tests and not self.errors:
            return ["no request was shadowed (shadow calls are made for live requests: run with --llm-live)"]
        lines = [f"champion {self.champions()} vs challenger {self.model}: {calls} call(s) in {tests} test(s)"
                 + (f", {failed} challenger error(s)" if failed else "")]
        rows = self.metric_rows()
        if rows:
            width = max(len(r["metric"]) for r in rows)
            lines.append(f"  {'metric':<{width}}  {'champion':>10}  {'challenger':>10}  better  worse  same")
            for row in rows:
                n = len(row["champion"])
                champion = _fmt(sum(row["champion"]) / n, row["metric"]) if n else "-"
                challenger = _fmt(sum(row["challenger"]) / n, row["metric"]) if n else "-"
                if row["metric"] == "similarity to champion":
                    champion = "-"
                extra = f"  ({row['unscored']} not comparable)" if row["unscored"] else ""
                lines.append(f"  {row['metric']:<{width}}  {champion:>10}  {challenger:>10}  {row['better']:>6}  "
                             f"{row['worse']:>5}  {row['same']:>4}{extra}")
        shown = [r for r in sorted(self.results, key=lambda r: r["test"])
                 if verbose or any(_worse(s) for s in r["scores"])
                 or any((c.get("challenger") or {}).get("error") for c in r["calls"])]
        if shown:
            lines.append("tests" + ("" if verbose else " where the challenger did worse or failed (-v: all)") + ":")
            for result in shown:
                parts = [f"{s['metric']} {_fmt(s['champion'], s['metric'])} -> {_fmt(s['challenger'], s['metric'])}"
                         for s in result["scores"]]
                parts += [f"similarity {_fmt(c['similarity'], '')}" for c in result["calls"] if c.get("similarity") is not None]
                parts += [f"challenger error: {(c.get('challenger') or {}).get('error')}" for c in result["calls"]
                          if (c.get("challenger") or {}).get("error")]
                lines.append(f"  {result['test']}  {'; '.join(parts)}")
        not_recomputed = sorted({m for r in self.results for m in r.get("not_recomputed") or []})
        if not_recomputed:
            lines.append(f"not recomputed for the challenger (computed by the test body): {', '.join(not_recomputed)}")
        if any(r.get("cassette") for r in self.results):
            lines.append(f"shadow cassettes: {self.folder()}/")
        for note in sorted({n for r in self.results for n in r.get("notes") or []}):
            lines.append(f"note: {note}")
        for error in self.errors[:5]:
            lines.append(f"error: {error}")
        return lines

    def html_section(self) -> str:
        if not self.results:
            return ""
        e = html.escape
        tests, calls, failed = self.counts()
        out = [f"<h2>Shadow: champion vs challenger <code>{e(self.model)}</code></h2>",
               f'<p class="meta">champion {e(self.champions())}; {calls} call(s) in {tests} test(s)'
               + (f", {failed} challenger error(s)" if failed else "") + ". The challenger got the same requests; "
               "the tests ran on the champion's answers.</p>",
               ("<table><tr><th>metric</th><th>champion</th><th>challenger</th><th>better</th><th>worse</th>"
               "<th>same</th></tr>")]
        for row in self.metric_rows():
            n = len(row["champion"])
            champion = _fmt(sum(row["champion"]) / n, row["metric"]) if n and row["metric"] != "similarity to champion" else "-"
            challenger = _fmt(sum(row["challenger"]) / n, row["metric"]) if n else "-"
            out.append(f"<tr><td><code>{e(row['metric'])}</code></td><td class='num'>{e(champion)}</td>"
                       f"<td class='num'>{e(challenger)}</td><td class='num'>{row['better']}</td>"
                       f"<td class='num'>{row['worse']}</td><td class='num'>{row['same']}</td></tr>")
        out.append("</table>")
        out.append("<table><tr><th>test</th><th>scores (champion &rarr; challenger)</th><th>champion answer</th>"
                   "<th>challenger answer</th></tr>")
        for result in sorted(self.results, key=lambda r: r["test"]):
            scores = "<br>".join(f"<code>{e(s['metric'])}</code> {e(_fmt(s['champion'], s['metric']))} &rarr; "
                                 f"{e(_fmt(s['challenger'], s['metric']))}" for s in result["scores"])
            for call in result["calls"]:
                champion_answer: dict[str, Any] = call.get("champion") or {}
                challenger_answer: dict[str, Any] = call.get("challenger") or {}
                sim = f"<br><span class='muted'>similarity {e(_fmt(call['similarity'], ''))}</span>" \
                    if call.get("similarity") is not None else ""
                out.append(f"<tr><td class='test'>{e(result['test'])}</td><td>{scores}{sim}</td>"
                           f"<td><pre>{e(str(champion_answer.get('text') or ''))}</pre><span class='muted'>"
                           f"{e(str(champion_answer.get('model') or ''))}</span></td>"
                           f"<td><pre>{e(str(challenger_answer.get('text') or challenger_answer.get('error') or ''))}"
                           f"</pre><span class='muted'>{e(str(challenger_answer.get('model') or ''))}</span></td></tr>")
        out.append("</table>")
        return "\n".join(out)


def _worse(score: Mapping[str, Any]) -> bool:
    champion, challenger = score.get("champion"), score.get("challenger")
    if not isinstance(champion, (int, float)) or not isinstance(challenger, (int, float)):
        return True
    return challenger < champion - _SAME


def _fmt(value: Any, metric: str) -> str:
    if value is None:
        return "?"
    if not isinstance(value, (int, float)):
        return str(value)
    if metric == "cost (USD)":
        return f"${value:.6f}".rstrip("0").rstrip(".") if value else "$0"
    if metric in ("latency (ms)", "output tokens"):
        return f"{value:,.0f}"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _usage_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("model", "input_tokens", "output_tokens", "cost_usd", "latency_ms",
                                       "finish_reason", "error")} if record else {}
