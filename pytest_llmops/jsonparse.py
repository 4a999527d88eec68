"""Get a JSON value out of what a language model wrote.

Models asked for JSON answer with bare JSON, with JSON inside a Markdown code fence, with JSON in
the middle of a sentence, or with something that is almost JSON (a Python dict, a trailing comma,
an answer cut off by ``max_tokens``). :func:`extract_json` finds the value by one fixed rule, so a
test knows exactly what it is checking.

The extraction rule
-------------------

The first step that yields a value wins:

1. **whole** - the whole text, without surrounding whitespace, is one JSON value (any value,
   ``"hi"`` and ``42`` included).
2. **fenced** - the Markdown code fences (lines opening with three or more backticks or tildes),
   first those tagged ``json``, ``jsonc`` or ``json5`` (any case), then all the others, each in the
   order they appear. The content of the first one that is a JSON value wins. A fence left open at
   the end of the text runs to the end of the text.
3. **span** - the bracket spans: scanning from the left, every ``{`` or ``[`` that is not inside an
   earlier span opens a span that ends at its matching bracket. The scan knows about strings, so
   brackets inside ``"..."`` (and inside ``'...'`` where a key or value may start, i.e. after
   ``{ [ , :``; an apostrophe in prose opens nothing) do not count. The spans inside a span are not
   candidates (a broken object never yields one of its parts), with two exceptions: a span whose
   closing bracket is of the wrong kind is dropped and the spans inside it count on their own; and
   a span never closed runs to the end of the text (an *open* span, as in an answer cut short)
   while the spans inside it count on their own as well. Spans are tried longest first, and the
   longest span that is a JSON value wins (the earlier on a tie), so a citation like ``[1]`` or a
   checkbox ``[ ]`` in the prose does not beat the real payload.

With ``repair=True`` (the default), a fence or span that is not valid JSON as written is tried
again after the cheap repairs below, before moving on; a fence that needs repair still beats any
span, and in step 3 a repaired span competes on length like any other. Repairs are never applied
to prose: the whole text counts only as written (step 1), or as a span or fence.

The repairs, under the names reported in :attr:`ExtractionInfo.repairs`:

``comments``
    ``// line`` and ``/* block */`` comments outside strings are removed.
``trailing_comma``
    a comma right before ``}`` or ``]`` is removed.
``single_quotes``
    ``'...'`` strings (keys or values) become ``"..."`` strings (``\\'`` and ``"`` handled).
``unquoted_keys``
    an identifier used as a key (``{name: 1}``) is quoted.
``python_literals``
    ``True``, ``False`` and ``None`` used as values become ``true``, ``false`` and ``null``.
``control_characters``
    raw newlines, tabs and other control characters inside strings are escaped.
``truncated``
    the text ends inside the value (only for an open span or a fence left open at the end of the
    text): an open string is closed (a half-written escape dropped), a half-written ``true``/``false``/
    ``null``/number, a dangling ``,`` or ``:`` and a key without a value are dropped, and the open
    brackets are closed. A number that is well-formed where the text stops is kept as written
    (``[1, 2`` gives ``[1, 2]`` though the model may have been writing ``25``), and so is the start
    of a string.

Nothing else is repaired (no missing commas, no unescaped quotes inside strings, no ``NaN``), and
nothing is ever evaluated: the repairs rewrite tokens, then :func:`json.loads` rules. ``NaN`` and
``Infinity`` are not JSON and are refused everywhere.

The value comes back plain; :func:`extract_json_with_info` also says where it came from and which
repairs it needed. When no step yields a value, :class:`JSONExtractionError` (a :class:`ValueError`)
says what was tried and shows an excerpt of the text.

Every step is linear in the size of the text: the scan remembers what it has matched, a quick
look at what follows a bracket skips most prose spans, and a failed parse stops at its first
error. A text built to defeat the scan (many thousands of nested unclosed brackets) stops being
searched after an amount of work proportional to its length, and the error message says so.
Repairs give up on values nested more than 500 deep.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

__all__ = [
    "REPAIRS",
    "ExtractionInfo",
    "JSONExtractionError",
    "extract_json",
    "extract_json_with_info",
    "find_json_candidates",
]

#: Every repair :func:`extract_json` may apply, in the order they are reported.
REPAIRS: tuple[str, ...] = (
    "comments",
    "trailing_comma",
    "single_quotes",
    "unquoted_keys",
    "python_literals",
    "control_characters",
    "truncated",
)

Source = Literal["whole", "fenced", "span"]


class JSONExtractionError(ValueError):
    """No JSON value could be found in a text.

    The message says what was tried, why the most promising candidate failed, and shows an excerpt
    of the text. The same facts are on the exception: :attr:`tried` (one phrase per kind of
    candidate), :attr:`closest` (the failure of the longest candidate, or ``None``) and
    :attr:`excerpt`.
    """

    def __init__(
        self,
        message: str,
        *,
        tried: tuple[str, ...] = (),
        closest: str | None = None,
        excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.tried = tried
        self.closest = closest
        self.excerpt = excerpt


@dataclass(frozen=True)
class ExtractionInfo:
    """Where :func:`extract_json_with_info` found the value.

    ``source`` is ``"whole"`` (the whole text, possibly repaired), ``"fenced"`` (a Markdown code
    fence; ``language`` is its tag, ``""`` if untagged) or ``"span"`` (a ``{...}`` or ``[...]``
    span in prose). ``start``/``end`` are the offsets of the parsed text and ``line`` the 1-based
    line it starts on (for a fence, the line of the opening ```). ``repairs`` names the repairs
    applied, in :data:`REPAIRS` order.
    """

    source: Source
    start: int
    end: int
    line: int = 1
    repairs: tuple[str, ...] = ()
    language: str | None = None

    @property
    def repaired(self) -> bool:
        """Whether the JSON needed any repair."""
        return bool(self.repairs)

    @property
    def extracted(self) -> bool:
        """Whether the JSON was picked out of a larger text (a fence or a span)."""
        return self.source != "whole"

    def describe(self) -> str:
        """A phrase for humans: ``the ```json fenced block at line 3, repaired (truncated)``."""
        if self.source == "whole":
            where = "the whole text"
        elif self.source == "fenced":
            where = f"the ```{self.language or ''} fenced block at line {self.line}"
        else:
            where = f"the {{...}}/[...] span at line {self.line} (characters {self.start}-{self.end})"
        if self.repairs:
            where += f", repaired ({', '.join(self.repairs)})"
        return where


# --------------------------------------------------------------------------------------------
# strict parsing, in place


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WS = re.compile(r"[ \t\r\n]*")


def _skip_ws(text: str, i: int, end: int | None = None) -> int:
    """Index of the first non-whitespace (JSON whitespace) character at or after ``i``."""
    m = _WS.match(text, i, len(text) if end is None else end)
    return m.end() if m else i


class _Failed(Exception):
    """A candidate is not JSON: ``why`` says why, ``pos`` is where in the candidate (if known)."""

    def __init__(self, why: str, pos: int | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.pos = pos


def _strict(candidate: str) -> Any:
    """Parse a candidate as strict JSON (surrounding whitespace allowed)."""
    try:
        return _DECODER.decode(candidate)
    except json.JSONDecodeError as exc:
        raise _Failed(exc.msg, exc.pos) from None
    except RecursionError:
        raise _Failed("nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, integers with too many digits
        raise _Failed(str(exc)) from None


# --------------------------------------------------------------------------------------------
# repairs

_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PARTIAL_NUM = re.compile(r"-?[0-9]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]*)?")
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_LITERALS = {"true": "true", "false": "false", "null": "null", "True": "true", "False": "false", "None": "null"}
_CTRL = re.compile(r"[\x00-\x1f]")
_CTRL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_SQ_ESCAPE = re.compile(r'\\(.)|"', re.S)
_PARTIAL_U = re.compile(r"u[0-9a-fA-F]{0,3}\Z")
_HIGH_SURROGATE = re.compile(r"u[dD][89abAB][0-9a-fA-F]{2}\Z")
_CLOSE_OF = {"{": "}", "[": "]"}
_MAX_DEPTH = 500  # repairs give up deeper than this (json itself fails near 1000)
_OPEN_OF = {"}": "{", "]": "["}

# parser states
_VALUE, _ARR_FIRST, _ARR_NEXT, _OBJ_FIRST, _OBJ_NEXT, _COLON, _AFTER, _DONE = range(8)
_VALUE_STATES = (_VALUE, _ARR_FIRST, _ARR_NEXT)
_KEY_STATES = (_OBJ_FIRST, _OBJ_NEXT)


def _string_end(text: str, i: int, quote: str, end: int) -> int:
    """Index just past the quote closing a string whose body starts at ``i``, or -1."""
    while True:
        j = text.find(quote, i, end)
        if j < 0:
            return -1
        k = j - 1
        while k >= i and text[k] == "\\":
            k -= 1
        if (j - 1 - k) % 2 == 0:
            return j + 1
        i = j + 1


def _escapes_open_at_end(body: str, pos: int) -> bool:
    """Whether the backslash just before ``pos`` starts an escape (an odd run of backslashes)."""
    k = pos
    while k > 0 and body[k - 1] == "\\":
        k -= 1
    return (pos - k) % 2 == 1


def _trim_cut_string(body: str) -> str:
    """Drop a half-written escape (and a lone high surrogate) from the end of a cut string body."""
    m = _PARTIAL_U.search(body, max(0, len(body) - 4))
    if m and _escapes_open_at_end(body, m.start()):
        body = body[: m.start() - 1]
    elif _escapes_open_at_end(body, len(body)):
        body = body[:-1]
    m = _HIGH_SURROGATE.search(body, max(0, len(body) - 5))
    if m and _escapes_open_at_end(body, m.start()):
        body = body[: m.start() - 1]
    return body


def _sq_body(body: str) -> str:
    def fix(m: re.Match[str]) -> str:
        if m.group(0) == '"':
            return '\\"'
        return "'" if m.group(1) == "'" else m.group(0)

    return _SQ_ESCAPE.sub(fix, body)


def _ctrl_escape(m: re.Match[str]) -> str:
    c = m.group(0)
    return _CTRL_ESCAPES.get(c) or f"\\u{ord(c):04x}"


def _repair(text: str, start: int, end: int, *, allow_truncation: bool) -> tuple[str, set[str]]:
    """Rewrite ``text[start:end]`` into strict JSON text, or raise :class:`_Failed`.

    A single left-to-right pass over tokens with a small state machine; it stops at the first
    token it cannot place, so a failed attempt costs only the text up to that token.
    """
    out: list[str] = []
    stack: list[str] = []
    state = _VALUE
    repairs: set[str] = set()
    safe = 0  # len(out) at the last point where closing the open brackets gives valid JSON
    cut = False  # the text ended inside the value
    i = start

    def fail(why: str) -> _Failed:
        return _Failed(why, i - start)

    while i < end:
        c = text[i]
        if c in " \t\r\n":
            i = _skip_ws(text, i, end)
            continue
        if c == "/":
            nxt = text[i + 1] if i + 1 < end else ""
            if nxt == "/":
                j = text.find("\n", i, end)
                i = end if j < 0 else j
                repairs.add("comments")
                continue
            if nxt == "*":
                j = text.find("*/", i + 2, end)
                repairs.add("comments")
                if j < 0:
                    cut = True
                    i = end
                    break
                i = j + 2
                continue
            raise fail("unexpected '/'")
        if state == _DONE:
            raise fail("extra text after the value")

        if c == '"' or c == "'":
            is_key = state in _KEY_STATES
            if not is_key and state not in _VALUE_STATES:
                raise fail(f"unexpected {c}")
            j = _string_end(text, i + 1, c, end)
            if j < 0:
                if not allow_truncation:
                    raise fail("unterminated string")
                cut = True
                body = _trim_cut_string(text[i + 1 : end])
                i = end
            else:
                body = text[i + 1 : j - 1]
                i = j
            if c == "'":
                body = _sq_body(body)
                repairs.add("single_quotes")
            if _CTRL.search(body):
                body = _CTRL.sub(_ctrl_escape, body)
                repairs.add("control_characters")
            if cut and is_key:
                break
            out.append(f'"{body}"')
            if is_key:
                state = _COLON
                continue
        elif c == "{" or c == "[":
            if state not in _VALUE_STATES:
                raise fail(f"unexpected {c!r}")
            if len(stack) >= _MAX_DEPTH:
                raise fail("nested too deeply")
            out.append(c)
            stack.append(c)
            state = _OBJ_FIRST if c == "{" else _ARR_FIRST
            safe = len(out)
            i += 1
            continue
        elif c == "}" or c == "]":
            if not stack or stack[-1] != _OPEN_OF[c]:
                raise fail(f"unmatched {c!r}")
            if state in (_OBJ_NEXT, _ARR_NEXT):
                out.pop()  # the comma is the last token written
                repairs.add("trailing_comma")
            elif state not in (_OBJ_FIRST, _ARR_FIRST, _AFTER):
                raise fail(f"unexpected {c!r}")
            out.append(c)
            stack.pop()
            i += 1
        elif c == ",":
            if state != _AFTER:
                raise fail("unexpected ','")
            out.append(",")
            state = _OBJ_NEXT if stack[-1] == "{" else _ARR_NEXT
            i += 1
            continue
        elif c == ":":
            if state != _COLON:
                raise fail("unexpected ':'")
            out.append(":")
            state = _VALUE
            i += 1
            continue
        elif c == "-" or "0" <= c <= "9":
            if state not in _VALUE_STATES:
                raise fail("unexpected number")
            m = _NUM.match(text, i, end)
            j = m.end() if m else i
            if j < end and (text[j].isalnum() or text[j] in "._+-"):
                m = None
            if m is None:
                partial = _PARTIAL_NUM.match(text, i, end)
                if allow_truncation and partial is not None and partial.end() == end:
                    cut = True  # a half-written number at the very end: dropped
                    i = end
                    break
                raise fail("malformed number")
            out.append(m.group(0))
            i = j
        else:
            m = _WORD.match(text, i, end)
            if m is None:
                raise fail(f"unexpected {c!r}")
            word = m.group(0)
            j = m.end()
            if state in _KEY_STATES:
                if j == end and allow_truncation:
                    cut = True  # a key the text stops in: it has no value anyway
                    i = end
                    break
                out.append(f'"{word}"')
                repairs.add("unquoted_keys")
                state = _COLON
                i = j
                continue
            if state not in _VALUE_STATES:
                raise fail(f"unexpected {word!r}")
            literal = _LITERALS.get(word)
            if literal is None:
                if j == end and allow_truncation and any(w.startswith(word) for w in _LITERALS):
                    cut = True
                    i = end
                    break
                raise fail(f"unexpected {word!r}")
            if literal != word:
                repairs.add("python_literals")
            out.append(literal)
            i = j

        # a value is complete (string, number, literal, or a closed container)
        if stack:
            state = _AFTER
            safe = len(out)
        else:
            state = _DONE

    if state != _DONE:
        if not stack or not allow_truncation:
            raise fail("the text ends inside the value")
        cut = True
        # Nothing after the last safe point pushed or popped a bracket, so the open brackets then
        # are the open brackets now.
        del out[safe:]
        out.extend(_CLOSE_OF[b] for b in reversed(stack))
    if cut:
        repairs.add("truncated")
    return "".join(out), repairs


def _repaired_at(text: str, start: int, end: int, *, allow_truncation: bool) -> tuple[Any, tuple[str, ...]]:
    fixed, repairs = _repair(text, start, end, allow_truncation=allow_truncation)
    return _strict(fixed), tuple(r for r in REPAIRS if r in repairs)


# --------------------------------------------------------------------------------------------
# candidates

_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\n]*?)[ \t]*$", re.M)
_JSON_TAGS = frozenset({"json", "jsonc", "json5"})


class _Fence(NamedTuple):
    start: int  # content offsets
    end: int
    language: str
    closed: bool
    line_start: int  # offset of the opening fence line


def _fences(text: str) -> list[_Fence]:
    """Markdown code fences in order; an unclosed one runs to the end of the text."""
    fences: list[_Fence] = []
    opening: tuple[str, str, int, int] | None = None
    for m in _FENCE_LINE.finditer(text):
        marker, info = m.group(1), m.group(2)
        if opening is None:
            if marker[0] == "`" and "`" in info:
                continue  # inline code, not a fence
            language = info.split()[0].lower() if info else ""
            opening = (marker, language, min(m.end() + 1, len(text)), m.start())
        elif marker[0] == opening[0][0] and len(marker) >= len(opening[0]) and not info:
            fences.append(_Fence(opening[2], max(opening[2], m.start()), opening[1], True, opening[3]))
            opening = None
    if opening is not None:
        fences.append(_Fence(opening[2], len(text), opening[1], False, opening[3]))
    # json-tagged first, then the rest, each in order of appearance
    return [f for f in fences if f.language in _JSON_TAGS] + [f for f in fences if f.language not in _JSON_TAGS]


_OPENER = re.compile(r"[\[{]")
# What must follow the opening bracket for a parse to have a chance: a cheap filter that saves
# parsing the many bracket spans of prose. It never turns away a span that would parse.
_STRICT_START = re.compile(r'\{[ \t\r\n]*["}]|\[[ \t\r\n]*(?:[\[\]{"0-9-]|true|false|null)')
_REPAIR_START = re.compile(
    r"""\{[ \t\r\n]*(?:["'}/]|[A-Za-z_$][A-Za-z0-9_$]*[ \t\r\n]*(?:[:/]|\Z)|\Z)"""
    r"""|\[[ \t\r\n]*(?:[\[\]{"'0-9/tfnTFN-]|\Z)"""
)
_SPAN_TOKEN = re.compile(r"[\[\]{}\"']")
_OPEN = -1  # memo: the bracket is never closed
_BAD = -2  # memo: the bracket is closed by the wrong kind


class _Span(NamedTuple):
    start: int
    end: int
    closed: bool


def _quote_opens_string(text: str, j: int, lo: int) -> bool:
    """A ``'`` opens a string only where a key or value may start (after ``{ [ , :``)."""
    k = j - 1
    while k >= lo and text[k] in " \t\r\n":
        k -= 1
    return k >= lo and text[k] in "{[,:"


def _scan(text: str, s: int, memo: dict[int, int]) -> tuple[int, int]:
    """Match the bracket at ``s``; return (end or _OPEN/_BAD, characters scanned).

    Every bracket met outside strings gets its own answer in ``memo``: scanning from it would run
    through the same states, so it is never scanned again.
    """
    stack = [s]
    i = s + 1
    n = len(text)
    search = _SPAN_TOKEN.search
    while True:
        m = search(text, i)
        if m is None:
            for p in stack:
                memo[p] = _OPEN
            return _OPEN, n - s
        j = m.start()
        c = text[j]
        if c == '"' or c == "'":
            if c == "'" and not _quote_opens_string(text, j, s):
                i = j + 1
                continue
            i = _string_end(text, j + 1, c, n)
            if i < 0:
                for p in stack:
                    memo[p] = _OPEN
                return _OPEN, n - s
            continue
        if c == "{" or c == "[":
            stack.append(j)
            i = j + 1
            continue
        o = stack.pop()
        if _CLOSE_OF[text[o]] != c:
            memo[o] = _BAD
            for p in stack:
                memo[p] = _BAD
            return _BAD, j - s
        memo[o] = j + 1
        if not stack:
            return j + 1, j + 1 - s
        i = j + 1


def _spans(text: str) -> tuple[list[_Span], bool]:
    """The bracket spans in order of appearance, and whether the search was cut short."""
    n = len(text)
    budget = 10 * n + 100_000
    memo: dict[int, int] = {}
    spans: list[_Span] = []
    pos = 0
    work = 0
    while True:
        m = _OPENER.search(text, pos)
        if m is None:
            return spans, False
        s = m.start()
        status = memo.get(s)
        if status is None:
            if work > budget:
                return spans, True
            status, cost = _scan(text, s, memo)
            work += cost
        if status >= 0:
            spans.append(_Span(s, status, True))
            pos = status
        else:
            if status == _OPEN:
                spans.append(_Span(s, n, False))
            pos = s + 1


def _reaches_end(text: str, end: int) -> bool:
    return _skip_ws(text, end) == len(text)


def _normalize(text: str | bytes | bytearray) -> str:
    if isinstance(text, (bytes, bytearray)):
        raw = bytes(text)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONExtractionError(f"the bytes are not UTF-8 text: {exc}", excerpt=repr(raw[:80])) from None
    elif not isinstance(text, str):
        raise TypeError(f"extract_json() takes str or bytes, not {type(text).__name__}")
    return text.removeprefix("\ufeff")


def _excerpt(text: str, limit: int = 200) -> str:
    if len(text) <= limit:
        return repr(text)
    head = text[: limit * 2 // 3]
    tail = text[-(limit // 3) :]
    return f"{head!r} ... {tail!r}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _span_info(text: str, span: _Span, lo: int, hi: int, repairs: tuple[str, ...]) -> ExtractionInfo:
    source: Source = "whole" if span.start == lo and span.end >= hi else "span"
    return ExtractionInfo(source, span.start, span.end, text.count("\n", 0, span.start) + 1, repairs)


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def extract_json_with_info(text: str | bytes | bytearray, *, repair: bool = True) -> tuple[Any, ExtractionInfo]:
    """Like :func:`extract_json`, also returning an :class:`ExtractionInfo` on where it was found.

    >>> value, info = extract_json_with_info("Sure! {'a': 1,}")
    >>> value, info.source, info.repairs
    ({'a': 1}, 'span', ('trailing_comma', 'single_quotes'))
    """
    text = _normalize(text)
    n = len(text)
    lo = _skip_ws(text, 0)
    hi = len(text.rstrip(" \t\r\n"))
    if lo >= n:
        raise JSONExtractionError(
            "no JSON value found: the text is " + ("empty" if not text else "only whitespace"),
            excerpt=repr(text[:80]),
        )

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    # 1. the whole text, as written
    try:
        return _strict(text[lo:hi]), ExtractionInfo("whole", lo, hi, line_of(lo))
    except _Failed as exc:
        whole_error = _Failed(exc.why, exc.pos)  # without the traceback

    # the longest failed candidate: (length, start, what it is, why, where in it); reported if all fail
    closest_failure: tuple[int, int, str, str, int | None, int] | None = None

    # 2. fenced blocks
    fences = _fences(text)
    for fence in fences:
        repairs: tuple[str, ...] = ()
        try:
            value = _strict(text[fence.start : fence.end])
        except _Failed as exc:
            try:
                if not repair:
                    raise
                truncatable = not fence.closed and _reaches_end(text, fence.end)
                value, repairs = _repaired_at(text, fence.start, fence.end, allow_truncation=truncatable)
            except _Failed:
                if closest_failure is None or fence.end - fence.start > closest_failure[0]:
                    kind = f"```{fence.language} fenced block"
                    closest_failure = (fence.end - fence.start, fence.start, kind, exc.why, exc.pos, fence.line_start)
                continue
        return value, ExtractionInfo(
            "fenced", fence.start, fence.end, line_of(fence.line_start), repairs, fence.language
        )

    # 3. bracket spans, longest first
    spans, cut_short = _spans(text)
    ordered = sorted(spans, key=lambda sp: (sp.start - sp.end, sp.start))
    budget = 4 * n + 100_000  # characters parsed by failed attempts; only pathological texts run out
    for span in ordered:
        if budget < 0:
            cut_short = True
            break
        budget -= 32
        if span.closed and _STRICT_START.match(text, span.start):
            try:
                value = _strict(text[span.start : span.end])
            except _Failed as exc:
                budget -= exc.pos or 0
            else:
                return value, _span_info(text, span, lo, hi, ())
        if repair and _REPAIR_START.match(text, span.start):
            try:
                value, repairs = _repaired_at(text, span.start, span.end, allow_truncation=not span.closed)
            except _Failed as exc:
                budget -= span.end - span.start if exc.pos is None else exc.pos
            else:
                return value, _span_info(text, span, lo, hi, repairs)
    if ordered and (closest_failure is None or ordered[0].end - ordered[0].start > closest_failure[0]):
        span = ordered[0]
        why, pos = "the text ends before its closing bracket", None
        if span.closed:
            try:
                _strict(text[span.start : span.end])
            except _Failed as exc:
                why, pos = exc.why, exc.pos
        kind = f"{text[span.start]}...{_CLOSE_OF[text[span.start]]} span"
        closest_failure = (span.end - span.start, span.start, kind, why, pos, span.start)

    # nothing: say what was tried, and why the longest candidate failed
    tried = ["the whole text"]
    if fences:
        tried.append(_plural(len(fences), "fenced block"))
    if spans:
        tried.append(_plural(len(spans), "{...}/[...] span"))
    if closest_failure is not None:
        _, start, kind, why, pos, where = closest_failure
        closest = f"the {kind} at line {line_of(where)}: {why}"
    else:
        start, why, pos = lo, whole_error.why, whole_error.pos
        closest = f"the whole text: {why}"
    if pos is not None:
        line, col = _line_col(text, start + pos)
        closest += f" (line {line} column {col})"
    if not fences and not spans:
        closest += "; there is no ``` fenced block and no '{' or '['"
    message = (
        f"no JSON value found in the text ({_plural(n, 'character')}); tried "
        + (", ".join(tried[:-1]) + " and " + tried[-1] if len(tried) > 1 else tried[0])
        + (", with repairs" if repair else ", without repairs")
        + "."
    )
    if cut_short:
        message += " The search stopped early on this text's many unmatched brackets."
    message += f"\nclosest: {closest}"
    excerpt = _excerpt(text)
    message += f"\ntext: {excerpt}"
    raise JSONExtractionError(message, tried=tuple(tried), closest=closest, excerpt=excerpt)


def extract_json(text: str | bytes | bytearray, *, repair: bool = True) -> Any:
    """Return the JSON value in ``text``, found by the rule in this module's docstring.

    ``text`` may be ``str`` or UTF-8 ``bytes``. With ``repair=False`` only valid JSON is accepted
    (the whole text, a fence or a span). Raises :class:`JSONExtractionError` when there is none.

    >>> extract_json('Here you go:\\n```json\\n{"ok": true}\\n```')
    {'ok': True}
    """
    return extract_json_with_info(text, repair=repair)[0]


def find_json_candidates(text: str | bytes | bytearray) -> list[str]:
    """The candidate texts :func:`extract_json` considers, in the order it tries them.

    The stripped whole text first, then the contents of the fenced blocks (``json``-tagged first),
    then the bracket spans longest first (an open span runs to the end of the text). Useful to see
    why a text did or did not yield the value you expected; :func:`extract_json` returns the first
    candidate that parses, as written or after repairs.
    """
    text = _normalize(text)
    out: list[str] = []
    whole = text.strip(" \t\r\n")
    if whole:
        out.append(whole)
    out.extend(text[f.start : f.end].strip(" \t\r\n") for f in _fences(text))
    spans, _ = _spans(text)
    out.extend(text[sp.start : sp.end] for sp in sorted(spans, key=lambda sp: (sp.start - sp.end, sp.start)))
    return out
