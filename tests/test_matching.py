"""Matching: stable under what does not change the model's answer, strict under what does."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_llmops.matching import Candidate, explain_miss, request_key

URL = "https://api.openai.com/v1/chat/completions"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
bodies = st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5)


def shuffled(data, random):
    if isinstance(data, dict):
        items = list(data.items())
        random.shuffle(items)
        return {k: shuffled(v, random) for k, v in items}
    if isinstance(data, list):
        return [shuffled(v, random) for v in data]
    return data


@given(bodies, st.randoms(), st.sampled_from([None, 2, 4]), st.booleans())
def test_key_ignores_key_order_whitespace_and_host(body, random, indent, ascii_only):
    recorded = json.dumps(body, indent=indent, ensure_ascii=ascii_only)
    sent = json.dumps(shuffled(body, random), separators=(",", ":"))
    assert request_key("POST", URL, recorded) == request_key("post", "http://127.0.0.1:8765/v1/chat/completions", sent)


@given(st.integers(-1000, 1000))
def test_integral_floats_match_ints(n):
    assert request_key("POST", URL, json.dumps({"t": float(n)})) == request_key("POST", URL, json.dumps({"t": n}))


@given(bodies, st.text(max_size=8), json_values)
def test_any_changed_value_changes_the_key(body, key, value):
    changed = dict(body)
    changed[key] = value
    assume(json.dumps(changed, sort_keys=True) != json.dumps(body, sort_keys=True))
    assume(not (isinstance(value, float) and value.is_integer() and body.get(key) == value))
    assert request_key("POST", URL, json.dumps(body)) != request_key("POST", URL, json.dumps(changed))


@given(st.binary())
def test_non_json_bodies_match_byte_for_byte(body):
    assert request_key("POST", URL, body) == request_key("POST", URL, bytes(body))
    assert request_key("POST", URL, body) != request_key("POST", URL, body + b"x")


def test_query_order_ignored_but_values_count():
    assert request_key("GET", URL + "?a=1&b=2", b"") == request_key("GET", URL + "?b=2&a=1", b"")
    assert request_key("GET", URL + "?a=1", b"") != request_key("GET", URL + "?a=2", b"")


def test_method_and_path_count():
    body = b'{"model": "m"}'
    assert request_key("POST", URL, body) != request_key("PUT", URL, body)
    assert request_key("POST", URL, body) != request_key("POST", URL.replace("chat/completions", "responses"), body)


def test_explain_miss_names_the_closest_and_the_differences():
    recorded = [
        Candidate(0, "POST", URL, json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})),
        Candidate(1, "POST", "https://api.openai.com/v1/embeddings", json.dumps({"input": "x"})),
    ]
    sent = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hullo"}], "temperature": 0})
    text = explain_miss("POST", URL, sent, recorded)
    assert text.splitlines() == [
        "request sent:      POST /v1/chat/completions",
        "closest recorded:  POST /v1/chat/completions  (interaction #1 of 2)",
        "how they differ (recorded -> sent):",
        "  body['messages'][0]['content']: recorded 'hello', sent 'hullo'",
        "  body['temperature']: only in the request sent (0)",
    ]


@given(st.binary(max_size=200), st.lists(st.binary(max_size=200), max_size=3))
def test_explain_miss_never_crashes_on_odd_bodies(sent, recorded):
    candidates = [Candidate(i, "POST", URL, body) for i, body in enumerate(recorded)]
    assert explain_miss("POST", URL, sent, candidates).startswith("request sent:")
