"""Tests of pytest_llmops.jsonparse: the extraction rule, the repairs, the errors."""

from __future__ import annotations

import contextlib
import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmops.jsonparse import (
    REPAIRS,
    ExtractionInfo,
    JSONExtractionError,
    extract_json,
    extract_json_with_info,
    find_json_candidates,
)

# --------------------------------------------------------------------------------------------
# strategies

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()


def _children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5)


json_values = st.recursive(json_scalars, _children, max_leaves=25)
json_containers = _children(json_values)

# prose that cannot itself start a span, a fence or a string
prose = st.text(alphabet=st.characters(exclude_characters="{}[]`\"'", exclude_categories=["Cs"]), max_size=60)

# local settings, not a global profile: other test files keep theirs. No deadline: CI machines vary.
fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dump(value: Any, *, indent: int | None = None, ensure_ascii: bool = True) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


def _string_single_quoted(s: str) -> str:
    """A JSON string literal rewritten with single quotes, as JavaScript/Python would."""
    body = json.dumps(s)[1:-1]

    def swap(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == '\\"':
            return '"'
        if tok == "'":
            return "\\'"
        return tok

    return "'" + re.sub(r"\\u[0-9a-fA-F]{4}|\\.|'", swap, body) + "'"


_RAW_ESCAPES = re.compile(r"(?<!\\)((?:\\\\)*)\\([nt])")


def dump_loose(
    value: Any,
    *,
    single_quotes: bool = False,
    trailing_commas: bool = False,
    python_literals: bool = False,
    comments: bool = False,
    unquoted_keys: bool = False,
    raw_newlines: bool = False,
) -> str:
    """Serialise like a sloppy model: each flag turns on one of the documented mistakes."""

    def string(s: str, key: bool = False) -> str:
        if key and unquoted_keys and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s):
            return s
        text = _string_single_quoted(s) if single_quotes else json.dumps(s)
        if raw_newlines:  # un-escape \n and \t (not an escaped backslash followed by n or t)
            text = _RAW_ESCAPES.sub(lambda m: m.group(1) + ("\n" if m.group(2) == "n" else "\t"), text)
        return text

    def go(v: Any) -> str:
        if v is None:
            return "None" if python_literals else "null"
        if v is True:
            return "True" if python_literals else "true"
        if v is False:
            return "False" if python_literals else "false"
        if isinstance(v, (int, float)):
            return json.dumps(v)
        if isinstance(v, str):
            return string(v)
        sep = ", // note\n" if comments else ", "
        if isinstance(v, list):
            items = [go(x) for x in v]
            open_, close = "[", "]"
        else:
            items = [f"{string(k, key=True)}: {go(x)}" for k, x in v.items()]
            open_, close = "{", "}"
        body = sep.join(items)
        if trailing_commas and items:
            body += ","
        if comments:
            return f"{open_} /* start */ {body}\n{close}"
        return f"{open_}{body}{close}"

    return go(value)


def prefix_consistent(got: Any, original: Any) -> bool:
    """Whether ``got`` is what a cut-off dump of ``original`` may honestly give back.

    Containers keep a prefix of their members, all equal but the last, which is itself
    prefix-consistent; a cut string is a prefix; a cut number is some number (``12`` of ``125``).
    """
    if isinstance(original, dict):
        if not isinstance(got, dict):
            return False
        got_keys, keys = list(got), list(original)
        if got_keys != keys[: len(got_keys)]:
            return False
        for i, k in enumerate(got_keys):
            if i < len(got_keys) - 1 and got[k] != original[k]:
                return False
        return not got_keys or prefix_consistent(got[got_keys[-1]], original[got_keys[-1]])
    if isinstance(original, list):
        if not isinstance(got, list) or len(got) > len(original):
            return False
        if not got:
            return True
        return got[:-1] == original[: len(got) - 1] and prefix_consistent(got[-1], original[len(got) - 1])
    if isinstance(original, str):
        return isinstance(got, str) and original.startswith(got)
    if original is None or isinstance(original, bool):
        return got is original
    return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isfinite(got)


# --------------------------------------------------------------------------------------------
# properties


@fuzz
@given(json_values, st.sampled_from([None, 2]), st.booleans())
def test_whole_text_round_trips(value: Any, indent: int | None, ensure_ascii: bool) -> None:
    text = dump(value, indent=indent, ensure_ascii=ensure_ascii)
    got, info = extract_json_with_info(f"\n {text} \n")
    assert got == value
    assert info.source == "whole" and info.repairs == ()


@fuzz
@given(json_containers, prose, prose)
def test_container_in_prose(value: Any, before: str, after: str) -> None:
    got, info = extract_json_with_info(before + dump(value, indent=2) + after)
    assert got == value
    assert info.repairs == ()


@fuzz
@given(json_values, prose, prose, st.sampled_from(["json", "JSON", "", "jsonc", "text"]))
def test_fenced_block(value: Any, before: str, after: str, tag: str) -> None:
    text = f"{before}\n```{tag}\n{dump(value, indent=2)}\n```\n{after}"
    got, info = extract_json_with_info(text)
    assert got == value
    if text.strip() != dump(value, indent=2):  # a prose-free text is "whole" only if the fence is
        assert info.source == "fenced"
        assert info.language == tag.lower()


@fuzz
@given(json_containers, prose, prose)
def test_trailing_commas(value: Any, before: str, after: str) -> None:
    got, info = extract_json_with_info(before + dump_loose(value, trailing_commas=True) + after)
    assert got == value
    assert set(info.repairs) <= {"trailing_comma"}


@fuzz
@given(json_containers, prose, prose)
def test_single_quotes(value: Any, before: str, after: str) -> None:
    got, info = extract_json_with_info(before + dump_loose(value, single_quotes=True) + after)
    assert got == value
    assert set(info.repairs) <= {"single_quotes"}


@fuzz
@given(json_containers)
def test_python_literals_and_comments_and_unquoted_keys(value: Any) -> None:
    text = dump_loose(value, python_literals=True, comments=True, unquoted_keys=True, trailing_commas=True)
    got, info = extract_json_with_info("Answer:\n" + text + "\nDone.")
    assert got == value
    assert set(info.repairs) <= set(REPAIRS) - {"truncated", "control_characters"}


@fuzz
@given(json_containers)
def test_raw_newlines_in_strings(value: Any) -> None:
    text = dump_loose(value, raw_newlines=True)
    assert extract_json(text) == value


printable = st.text(st.characters(categories=("L", "N", "P", "S"), include_characters=" "))  # repr keeps these as is
python_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | printable,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(printable, inner, max_size=4),
    max_leaves=20,
)


@fuzz
@given(st.dictionaries(printable, python_values, max_size=5))
def test_python_repr_of_a_dict(value: dict[str, Any]) -> None:
    got = extract_json(f"The result is {value!r}.")
    assert got == value


@fuzz
@given(st.dictionaries(st.text(), json_values, min_size=1), st.data(), st.sampled_from([None, 2]))
def test_truncated_object_gives_a_prefix_or_a_clear_error(
    value: dict[str, Any], data: st.DataObject, indent: int | None
) -> None:
    text = dump(value, indent=indent)
    cut = data.draw(st.integers(min_value=1, max_value=len(text) - 1))
    try:
        got, info = extract_json_with_info("Here it is: " + text[:cut])
    except JSONExtractionError:
        return
    assert prefix_consistent(got, value), (text[:cut], got)
    assert "truncated" in info.repairs


no_brackets = st.text(st.characters(exclude_characters="{}[]", exclude_categories=["Cs"]))


flat_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | no_brackets
)


@fuzz
@given(st.dictionaries(no_brackets, flat_scalars, min_size=1), st.data())
def test_truncated_object_without_repair_is_an_error(value: dict[str, Any], data: st.DataObject) -> None:
    text = dump(value)  # one bracket span, cut open
    cut = data.draw(st.integers(min_value=1, max_value=len(text) - 1))
    with pytest.raises(JSONExtractionError):
        extract_json(text[:cut], repair=False)


jsonish = st.text(alphabet=st.sampled_from(list("{}[]\"':,` \n\\/*-0123456789.eEtrufalsnTFN#xy~")), max_size=80)


@fuzz
@given(st.one_of(st.text(), jsonish), st.booleans())
def test_any_text_gives_a_value_or_extraction_error(text: str, repair: bool) -> None:
    try:
        extract_json_with_info(text, repair=repair)
    except JSONExtractionError as exc:
        assert str(exc)
    find_json_candidates(text)


@fuzz
@given(st.binary(max_size=60))
def test_any_bytes_give_a_value_or_extraction_error(data: bytes) -> None:
    with contextlib.suppress(JSONExtractionError):
        extract_json(data)


# --------------------------------------------------------------------------------------------
# the rule, one example per step


def test_whole_text_scalars() -> None:
    assert extract_json("42") == 42
    assert extract_json('  "hi" ') == "hi"
    assert extract_json("null") is None
    assert extract_json(b'{"a": 1}') == {"a": 1}
    assert extract_json('\ufeff{"a": 1}') == {"a": 1}


def test_scalar_in_prose_is_not_extracted() -> None:
    with pytest.raises(JSONExtractionError):
        extract_json("The answer is 42.")


def test_json_fence_wins_over_other_fences_and_spans() -> None:
    text = (
        "Example input:\n```python\nx = [1, 2, 3]\n```\n"
        'Answer:\n```json\n{"answer": 42}\n```\n'
        "Bigger aside: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]"
    )
    value, info = extract_json_with_info(text)
    assert value == {"answer": 42}
    assert info == ExtractionInfo("fenced", info.start, info.end, 6, (), "json")
    assert text[info.start : info.end].strip() == '{"answer": 42}'


def test_first_parsing_json_fence_wins() -> None:
    text = "```json\nnot json at all\n```\n```json\n[1]\n```\n```json\n[2]\n```"
    assert extract_json(text) == [1]


def test_untagged_fence_when_no_json_fence_parses() -> None:
    text = '```\n{"a": 1}\n```\n~~~\n{"b": 2}\n~~~'
    value, info = extract_json_with_info(text)
    assert value == {"a": 1} and info.source == "fenced" and info.language == ""


def test_repaired_fence_beats_valid_span() -> None:
    text = "```json\n{'a': 1,}\n```\nSee [1]."
    value, info = extract_json_with_info(text)
    assert value == {"a": 1}
    assert info.source == "fenced" and info.repairs == ("trailing_comma", "single_quotes")


def test_unclosed_fence_runs_to_the_end() -> None:
    value, info = extract_json_with_info('Here:\n```json\n{"a": [1, 2')
    assert value == {"a": [1, 2]}
    assert info.source == "fenced" and info.repairs == ("truncated",)


def test_closed_fence_is_not_truncation_repaired() -> None:
    with pytest.raises(JSONExtractionError):
        extract_json('```json\n{"a": [1, 2\n```\n')


def test_longest_span_wins() -> None:
    text = 'As shown in [1], the result is {"items": [1, 2], "ok": true}. See also [2].'
    value, info = extract_json_with_info(text)
    assert value == {"items": [1, 2], "ok": True}
    assert info.source == "span" and text[info.start : info.end] == '{"items": [1, 2], "ok": true}'


def test_checkbox_does_not_beat_payload() -> None:
    assert extract_json('- [ ] todo\n- [x] done\n{"k": "v"}') == {"k": "v"}


def test_equal_length_spans_earlier_wins() -> None:
    assert extract_json("first [1] then [2]") == [1]


def test_brackets_inside_strings_do_not_count() -> None:
    text = 'Result: {"text": "a } and a ] and \\" quote {", "n": [1]} end'
    assert extract_json(text) == {"text": 'a } and a ] and " quote {', "n": [1]}


def test_apostrophes_in_prose_do_not_open_strings() -> None:
    assert extract_json("I can't say {it's odd} but here: {\"a\": 1}") == {"a": 1}


def test_stray_open_bracket_in_prose() -> None:
    assert extract_json('Use { for blocks. Result: {"a": "b"}') == {"a": "b"}


def test_mismatched_brackets_are_dropped() -> None:
    assert extract_json('odd (see [x}) then {"a": 1}') == {"a": 1}


def test_span_that_is_the_whole_text_is_reported_whole() -> None:
    value, info = extract_json_with_info("  {'a': None}  ")
    assert value == {"a": None}
    assert info.source == "whole" and info.repairs == ("single_quotes", "python_literals")


def test_inner_span_of_a_broken_object_is_not_returned() -> None:
    # the outer span is closed but broken: its parts are not candidates
    with pytest.raises(JSONExtractionError):
        extract_json('{"a": 1, "b": [1, 2], oops}')


def test_truncated_answer_beats_earlier_citation() -> None:
    value, info = extract_json_with_info('See [1]. Result: {"a": [1, 2], "b": {"c": "hel')
    assert value == {"a": [1, 2], "b": {"c": "hel"}}
    assert info.repairs == ("truncated",)


# --------------------------------------------------------------------------------------------
# each repair


@pytest.mark.parametrize(
    ("text", "value", "repairs"),
    [
        ('{"a": 1, // one\n "b": /* two */ 2}', {"a": 1, "b": 2}, ("comments",)),
        ('{"a": [1, 2,],}', {"a": [1, 2]}, ("trailing_comma",)),
        ("{'a': 'it\\'s \"x\"'}", {"a": 'it\'s "x"'}, ("single_quotes",)),
        ('{name: "x", _id2: 1}', {"name": "x", "_id2": 1}, ("unquoted_keys",)),
        ('{"a": True, "b": False, "c": None}', {"a": True, "b": False, "c": None}, ("python_literals",)),
        ('{"a": "line 1\nline 2\tend"}', {"a": "line 1\nline 2\tend"}, ("control_characters",)),
        ('{"a": [1, 2', {"a": [1, 2]}, ("truncated",)),
        ('{"a": "abc', {"a": "abc"}, ("truncated",)),
        ('{"a": "abc\\', {"a": "abc"}, ("truncated",)),
        ('{"a": "abc\\u00e', {"a": "abc"}, ("truncated",)),
        ('{"a": "x\\ud83d', {"a": "x"}, ("truncated",)),
        ('{"a": 1, "b', {"a": 1}, ("truncated",)),
        ('{"a": 1, "b":', {"a": 1}, ("truncated",)),
        ('{"a": 1,', {"a": 1}, ("truncated",)),
        ('{"a": tru', {}, ("truncated",)),
        ('{"a": 1.5e', {}, ("truncated",)),
        ('{"a": 12', {"a": 12}, ("truncated",)),
        ('{"a": {"b": [{"c": null', {"a": {"b": [{"c": None}]}}, ("truncated",)),
        ('{"a": 1, /* cut', {"a": 1}, ("comments", "truncated")),
        ("[", [], ("truncated",)),
    ],
)
def test_repairs(text: str, value: Any, repairs: tuple[str, ...]) -> None:
    got, info = extract_json_with_info(text)
    assert got == value
    assert info.repairs == repairs
    assert info.repaired
    with pytest.raises(JSONExtractionError):
        extract_json(text, repair=False)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1 "b": 2}',  # missing comma
        '{"a": "say "hi""}',  # unescaped quote
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": undefined}',
        "{'a': __import__('os').system('true')}",  # never evaluated
        '{"a": 01}',
        "[1,, 2]",
    ],
)
def test_not_repaired(text: str) -> None:
    with pytest.raises(JSONExtractionError):
        extract_json(text)


def test_repair_false_accepts_only_valid_json() -> None:
    assert extract_json('Sure: {"a": 1}', repair=False) == {"a": 1}
    with pytest.raises(JSONExtractionError):
        extract_json("Sure: {'a': 1}", repair=False)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(JSONExtractionError):
        extract_json("[" * 5000 + "]" * 4999)
    with pytest.raises(JSONExtractionError):
        extract_json("[" * 5000)


def test_huge_integer_is_an_error_not_a_crash() -> None:
    with pytest.raises(JSONExtractionError):
        extract_json("[" + "9" * 10_000 + "]")


# --------------------------------------------------------------------------------------------
# messages


def test_error_message_for_prose() -> None:
    with pytest.raises(JSONExtractionError) as err:
        extract_json("I am sorry, I cannot help with that.")
    assert str(err.value) == (
        "no JSON value found in the text (36 characters); tried the whole text, with repairs.\n"
        "closest: the whole text: Expecting value (line 1 column 1); "
        "there is no ``` fenced block and no '{' or '['\n"
        "text: 'I am sorry, I cannot help with that.'"
    )
    assert err.value.tried == ("the whole text",)


def test_error_message_names_the_closest_candidate() -> None:
    text = 'Here you go:\n```json\n{"a": 1 "b": 2}\n```\nand a note [x].'
    with pytest.raises(JSONExtractionError) as err:
        extract_json(text)
    message = str(err.value)
    assert message.splitlines()[0] == (
        "no JSON value found in the text (56 characters); tried the whole text, 1 fenced block "
        "and 2 {...}/[...] spans, with repairs."
    )
    assert message.splitlines()[1] == (
        "closest: the ```json fenced block at line 2: Expecting ',' delimiter (line 3 column 9)"
    )
    assert err.value.closest is not None and "line 3 column 9" in err.value.closest


def test_error_message_excerpt_is_short() -> None:
    text = "word " * 10_000
    with pytest.raises(JSONExtractionError) as err:
        extract_json(text)
    assert len(str(err.value)) < 600
    assert " ... " in err.value.excerpt


def test_error_messages_for_empty_and_bad_bytes() -> None:
    with pytest.raises(JSONExtractionError, match="the text is empty"):
        extract_json("")
    with pytest.raises(JSONExtractionError, match="only whitespace"):
        extract_json(" \n\t")
    with pytest.raises(JSONExtractionError, match="not UTF-8"):
        extract_json(b"\xff\xfe{")


def test_error_is_a_value_error() -> None:
    assert issubclass(JSONExtractionError, ValueError)


def test_non_text_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        extract_json(42)  # type: ignore[arg-type]


def test_info_describe() -> None:
    _, info = extract_json_with_info('Text\n```json\n{"a": 1,}\n```')
    assert info.describe() == "the ```json fenced block at line 2, repaired (trailing_comma)"
    _, info = extract_json_with_info('Text {"a": 1}')
    assert info.describe() == "the {...}/[...] span at line 1 (characters 5-13)"
    assert info.extracted and not info.repaired
    _, info = extract_json_with_info('{"a": 1}')
    assert info.describe() == "the whole text" and not info.extracted


def test_find_json_candidates_in_order() -> None:
    text = 'Hi [1]\n```json\n{"a": 1}\n```\n```\nx\n```\n'
    assert find_json_candidates(text) == [
        text.strip(),
        '{"a": 1}',
        "x",
        '{"a": 1}',
        "[1]",
    ]


# --------------------------------------------------------------------------------------------
# big inputs complete (the scan is linear; no timing asserted)


def test_large_prose_without_json() -> None:
    text = "the model said it's fine, really (mostly). " * 25_000  # ~1 MB
    with pytest.raises(JSONExtractionError):
        extract_json(text)


def test_large_prose_with_many_brackets_and_json_at_the_end() -> None:
    text = "see [note] and {placeholder} here; " * 20_000 + '{"found": true}'
    assert extract_json(text) == {"found": True}


def test_pathological_brackets_stop_with_a_clear_error() -> None:
    with pytest.raises(JSONExtractionError):
        extract_json('{"' * 100_000)
    with pytest.raises(JSONExtractionError):
        extract_json("[" * 100_000 + "x")


def test_large_truncated_document() -> None:
    items = [{"id": i, "name": f"item {i}"} for i in range(20_000)]
    text = json.dumps({"items": items})
    value, info = extract_json_with_info(text[: len(text) // 2])
    assert info.repairs == ("truncated",)
    assert prefix_consistent(value, {"items": items})
