"""Versioned prompts: the whole prompt configuration under change control.

A prompt version is one YAML file ``<prompt_dir>/<name>/<version>.yaml`` holding everything that
decides what is sent to the provider: the message templates, the pinned model, the parameters, the
tool definitions and optional retrieval settings.  :class:`PromptRegistry` finds and parses those
files (lazily), :class:`Prompt` renders them for the OpenAI Chat Completions, OpenAI Responses and
Anthropic Messages APIs, and a lock file (``<prompt_dir>/prompts.lock``) records the digest and a
snapshot of every released version so that editing a released version is an error that shows the
diff.

Everything here is plain Python and usable without pytest; the plugin wires it to the
``llm_prompts`` fixture, the ``llm_prompt`` marker, ``--llm-model OLD=NEW`` and
``--llm-lock-prompts`` (``prompt_session.py``).  The one link to pytest: ``Prompt.render()`` and
``call_kwargs()`` tell the running test's ``context.current()`` (``None`` outside a test) which version
they render, so its provider calls and scores carry the lineage whoever loaded the prompt.
See ``docs/prompts.md`` for the user guide.

Importing this module is cheap: PyYAML, difflib and the provider SDKs are imported only when needed.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .context import current as _current_test
from .errors import LLMOpsError
from .settings import PROMPT_LOCK_NAME

if TYPE_CHECKING:  # pragma: no cover
    import yaml

__all__ = [
    "ANTHROPIC_DEFAULT_MAX_TOKENS",
    "DEFAULT_LOCK_NAME",
    "LOCK_OPTION",
    "PROVIDERS",
    "DuplicatePromptError",
    "LockViolation",
    "MissingVariableError",
    "Prompt",
    "PromptError",
    "PromptFileError",
    "PromptLockError",
    "PromptNotFoundError",
    "PromptRegistry",
    "PromptRenderError",
    "PromptTemplateError",
    "RenderedPrompt",
    "UnexpectedVariableError",
    "UnknownProviderError",
    "load_prompt",
    "version_sort_key",
]

#: ``max_tokens`` sent to Anthropic when the prompt's params name none (the API requires it).
ANTHROPIC_DEFAULT_MAX_TOKENS = 1024
#: File name of the lock file inside the prompt directory.
DEFAULT_LOCK_NAME = PROMPT_LOCK_NAME
#: The command-line option that re-locks prompts after review (wired in the plugin).
LOCK_OPTION = "--llm-lock-prompts"
#: Provider shapes understood by :meth:`Prompt.call_kwargs`.
PROVIDERS = ("openai", "responses", "anthropic")

Provider = Literal["openai", "responses", "anthropic"]

_PROMPT_SUFFIXES = (".yaml", ".yml")
_TOP_LEVEL_KEYS = (
    "name",
    "version",
    "description",
    "model",
    "params",
    "tools",
    "retrieval",
    "system",
    "messages",
)
_REQUIRED_KEYS = ("model", "messages")
_TOOL_KEYS = ("name", "description", "parameters")
_MESSAGE_KEYS = ("role", "content")
_ROLES = ("user", "assistant")
# Keys that belong at the top level of the file (or to the call site), never in params.
_RESERVED_PARAMS = {
    "model": "top-level `model:` key",
    "messages": "top-level `messages:` key",
    "system": "top-level `system:` key",
    "instructions": "top-level `system:` key",
    "input": "top-level `messages:` key",
    "tools": "top-level `tools:` key",
}
_COMMON_PARAMS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "stop",
    "stop_sequences",
    "seed",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
)
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_stop(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


# Types of the params pytest-llmops maps between providers (others are passed through unchecked).
_PARAM_CHECKS: dict[str, tuple[Any, str]] = {
    "max_tokens": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "max_completion_tokens": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "max_output_tokens": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "temperature": (_is_num, "a number"),
    "top_p": (_is_num, "a number"),
    "seed": (_is_int, "an integer"),
    "stop": (_is_stop, "a string or a list of strings"),
    "stop_sequences": (_is_stop, "a string or a list of strings"),
    "parallel_tool_calls": (lambda v: isinstance(v, bool), "true or false"),
    "response_format": (lambda v: isinstance(v, dict), "a mapping"),
}
_MAX_TOKENS_ALIASES = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_TOOL_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING_LITERAL_RE = re.compile(r"""(?:"([^"]*)"|'([^']*)')""")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_MISSING: Any = object()


# --------------------------------------------------------------------------------------------------
# Errors


class PromptError(LLMOpsError):
    """Base class of every error of the prompt registry (a ``pytest_llmops.errors.LLMOpsError``).

    Each message says what is wrong, where (prompt, version, file, line) and what to do next.
    Nothing is written to disk when one is raised.
    """

    def __reduce__(self) -> tuple[Any, ...]:  # picklable with keyword-only attributes (xdist)
        return (_rebuild_error, (type(self), str(self), dict(self.__dict__)))


def _rebuild_error(cls: type[PromptError], message: str, state: dict[str, Any]) -> PromptError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class PromptNotFoundError(PromptError, LookupError):
    """An unknown prompt name or version; the message suggests close names and lists versions."""

    def __init__(
        self,
        message: str,
        *,
        name: str,
        version: str | None = None,
        suggestions: list[str] | None = None,
        available: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.version = version
        self.suggestions = suggestions or []
        self.available = available or []

    def __str__(self) -> str:  # LookupError/KeyError would repr() the message
        return str(self.args[0])


class PromptFileError(PromptError):
    """A prompt file (or the lock file) cannot be read: malformed YAML, wrong types, unknown keys.

    ``path``, ``line`` (1-based, when known) and ``key`` (dotted, when known) locate the problem.
    """

    def __init__(
        self, message: str, *, path: Path | None = None, line: int | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.key = key


class PromptTemplateError(PromptFileError):
    """A template in a prompt file is malformed (e.g. an unclosed ``{{``)."""


class DuplicatePromptError(PromptError):
    """Two files claim the same ``name@version``; ``paths`` holds both."""

    def __init__(self, message: str, *, ref: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.ref = ref
        self.paths = paths


class PromptRenderError(PromptError):
    """``render()``/``call_kwargs()`` was given the wrong variables."""

    def __init__(self, message: str, *, ref: str, names: list[str]) -> None:
        super().__init__(message)
        self.ref = ref
        self.names = names


class MissingVariableError(PromptRenderError):
    """A template variable was not given; ``names`` lists the missing ones."""


class UnexpectedVariableError(PromptRenderError):
    """A variable was given that no template uses; ``names`` lists them."""


class UnknownProviderError(PromptError, ValueError):
    """``call_kwargs()`` was asked for a provider shape it does not know."""


class PromptLockError(PromptError):
    """A locked (released) prompt version was edited or removed.

    ``violations`` holds one :class:`LockViolation` per offending version; the message shows each
    one's unified diff and says how to proceed (new version, or re-lock after review).
    """

    def __init__(self, violations: list[LockViolation]) -> None:
        self.violations = list(violations)
        super().__init__("\n\n".join(v.message for v in self.violations))


# --------------------------------------------------------------------------------------------------
# Small helpers


def _display(path: Path | str | None) -> str:
    """A path as shown in messages: relative to the current directory when below it."""
    if path is None:
        return "<no file>"
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return p.as_posix()


def _display_dir(path: Path) -> str:
    shown = _display(path)
    return shown if shown.endswith("/") else shown + "/"


def _close(word: str, candidates: list[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _digest(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical_json(config).encode("utf-8")).hexdigest()


_VERSION_CHUNK_RE = re.compile(r"([0-9]+)")  # ASCII digits only: int() must accept them


def _is_number(chunk: str) -> bool:
    return bool(chunk) and chunk.isascii() and chunk.isdigit()


def version_sort_key(version: str) -> tuple[Any, ...]:
    """The sort key that orders versions "naturally".

    The version is split into runs of digits and runs of other characters; digit runs compare as
    numbers, other runs case-insensitively as text, and a digit run sorts before a text run.  So
    ``v2 < v10``, ``1.2.9 < 1.2.10``, ``2024-05-01 < 2024-12-01``, and a version that is a prefix of
    another sorts first (``v1 < v1b``).  Ties (``v02`` / ``v2``) are broken by the plain string.
    """
    parts: list[tuple[int, Any]] = []
    for chunk in _VERSION_CHUNK_RE.split(version):
        if not chunk:
            continue
        if _is_number(chunk):
            parts.append((0, int(chunk)))
        else:
            parts.append((1, chunk.casefold()))
    return (tuple(parts), version)


def _next_version(latest: str, existing: set[str]) -> str:
    """A suggestion for the next version name after ``latest`` (v3 -> v4, 1.2.9 -> 1.2.10)."""
    candidate = latest
    for _ in range(1000):
        chunks = _VERSION_CHUNK_RE.split(candidate)
        digit_idx = [i for i, c in enumerate(chunks) if _is_number(c)]
        if digit_idx:
            i = digit_idx[-1]
            chunks[i] = str(int(chunks[i]) + 1).zfill(len(chunks[i]))
            candidate = "".join(chunks)
        else:
            candidate = candidate + "-2"
        if candidate not in existing:
            return candidate
    return latest + "-new"  # pragma: no cover


# --------------------------------------------------------------------------------------------------
# Templates


@dataclasses.dataclass(frozen=True)
class _Var:
    name: str


def _parse_template(text: str, where: str, path: Path | None, line: int | None) -> list[str | _Var]:
    """Split a template into literal strings and variables; raise PromptTemplateError if malformed.

    ``{{ name }}`` is a variable (``name`` a Python identifier, spaces optional); ``{{ "..." }}`` or
    ``{{ '...' }}`` is a literal (the way to write a literal ``{{``); single braces and a lone ``}}``
    are plain text.
    """
    parts: list[str | _Var] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            return parts
        while text.startswith("{", start + 2):  # "{{{ x }}}": a literal "{", then {{ x }}
            start += 1
        if start > pos:
            parts.append(text[pos:start])
        end = text.find("}}", start + 2)
        content_line = text.count("\n", 0, start) + 1
        if end < 0:
            snippet = text[start : start + 30].split("\n")[0]
            raise _template_error(
                f"'{{{{' is not closed by '}}}}' (line {content_line} of the text: {snippet!r})",
                where,
                path,
                line,
            )
        inner = text[start + 2 : end].strip()
        literal = _STRING_LITERAL_RE.fullmatch(inner)
        if _IDENT_RE.fullmatch(inner):
            parts.append(_Var(inner))
        elif literal:
            parts.append(literal.group(1) if literal.group(1) is not None else literal.group(2))
        else:
            raise _template_error(
                f"{text[start:end + 2]!r} (line {content_line} of the text) is not a variable: "
                "write {{ name }} with a plain name (letters, digits, _)",
                where,
                path,
                line,
            )
        pos = end + 2


def _template_error(problem: str, where: str, path: Path | None, line: int | None) -> PromptTemplateError:
    loc = _display(path) + (f":{line}" if line else "")
    return PromptTemplateError(
        f"{loc}: template error in {where}: {problem}.\n"
        "  Variables are written {{ name }}; to write a literal '{{' use {{ \"{{\" }}.",
        path=path,
        line=line,
        key=where,
    )


def _render_parts(parts: list[str | _Var], values: Mapping[str, str]) -> str:
    return "".join(values[p.name] if isinstance(p, _Var) else p for p in parts)


def _template_vars(parts: list[str | _Var]) -> set[str]:
    return {p.name for p in parts if isinstance(p, _Var)}


# --------------------------------------------------------------------------------------------------
# YAML reading with locations


class _Located:
    """A parsed YAML document plus its node tree, to report the line of a key."""

    def __init__(self, data: Any, node: Any, path: Path | None) -> None:
        self.data = data
        self.node = node
        self.path = path

    def line(self, *keys: str | int) -> int | None:
        """1-based line of the value at ``keys`` (or of the nearest enclosing node found)."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for key in keys:
            child = None
            if _is_mapping_node(node):
                for k_node, v_node in node.value:
                    if getattr(k_node, "value", None) == key:
                        line = k_node.start_mark.line + 1
                        child = v_node
                        break
            elif _is_sequence_node(node) and isinstance(key, int) and key < len(node.value):
                child = node.value[key]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


def _is_mapping_node(node: Any) -> bool:
    import yaml

    return isinstance(node, yaml.MappingNode)


def _is_sequence_node(node: Any) -> bool:
    import yaml

    return isinstance(node, yaml.SequenceNode)


def _read_yaml(path: Path, *, what: str = "prompt file") -> _Located:
    """Read and parse one YAML file; PromptFileError with file and line on any problem."""
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptFileError(
            f"{_display(path)}: cannot read the {what}: {exc.strerror or exc}.", path=path
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptFileError(
            f"{_display(path)}: the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8.",
            path=path,
        ) from None
    return _parse_yaml_text(text, path, what=what)


def _parse_yaml_text(text: str, path: Path | None, *, what: str = "prompt file") -> _Located:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_duplicate_keys(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        problem = exc.problem or exc.context or str(exc)
        if exc.context and exc.problem:
            ctx = exc.context
            if exc.context_mark is not None and exc.context_mark.line + 1 != line:
                ctx += f" that starts at line {exc.context_mark.line + 1}"
            problem += f" ({ctx})"
        loc = _display(path) + (f":{line}:{col}" if line else "")
        raise PromptFileError(
            f"{loc}: malformed YAML in the {what}: {problem}.\n"
            f"  Fix the YAML syntax at line {line} (check indentation, quotes and colons).",
            path=path,
            line=line,
        ) from None
    except yaml.YAMLError as exc:
        raise PromptFileError(f"{_display(path)}: malformed YAML in the {what}: {exc}.", path=path) from None
    finally:
        loader.dispose()
    return _Located(data, node, path)


def _check_duplicate_keys(node: Any, path: Path | None, prefix: str = "") -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for k_node, v_node in node.value:
            key = getattr(k_node, "value", None)
            if isinstance(k_node, yaml.ScalarNode) and key != "<<":
                line = k_node.start_mark.line + 1
                if key in seen:
                    dotted = f"{prefix}{key}"
                    raise PromptFileError(
                        f"{_display(path)}:{line}: key {dotted!r} appears twice "
                        f"(first at line {seen[key]}); keep one of them.",
                        path=path,
                        line=line,
                        key=dotted,
                    )
                seen[key] = line
            _check_duplicate_keys(v_node, path, f"{prefix}{key}.")
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicate_keys(item, path, f"{prefix.rstrip('.')}[{i}].")


# --------------------------------------------------------------------------------------------------
# Validation of a prompt file's content


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), type(value).__name__
    )


class _Validator:
    def __init__(self, doc: _Located, ref: str) -> None:
        self.doc = doc
        self.path = doc.path
        self.ref = ref

    def error(
        self, key_path: tuple[str | int, ...], problem: str, hint: str = "", *, subject: bool = True
    ) -> PromptFileError:
        """``<file>:<line>: prompt <ref>: '<key>' <problem>.`` (the key left out when not ``subject``)."""
        dotted = _dotted(key_path)
        line = self.doc.line(*key_path)
        loc = _display(self.path) + (f":{line}" if line else "")
        text = f"{dotted!r} {problem}" if subject and dotted else problem
        msg = f"{loc}: prompt {self.ref}: {text}."
        if hint:
            msg += f"\n  {hint}"
        return PromptFileError(msg, path=self.path, line=line, key=dotted or None)

    def json_value(self, value: Any, key_path: tuple[str | int, ...]) -> Any:
        """Check that ``value`` is JSON data (what is sent to a provider must be)."""
        if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
            return value
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise self.error(key_path, f"is {value}, not a finite number", "JSON has no NaN or infinity.")
            return value
        if isinstance(value, list):
            return [self.json_value(v, (*key_path, i)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise self.error(
                        key_path, f"has the key {k!r} ({_type_name(k)}): keys must be strings", f'Quote it: "{k}": ...'
                    )
                out[k] = self.json_value(v, (*key_path, k))
            return out
        raise self.error(
            key_path,
            f"is {value!r}, a {_type_name(value)}, which JSON cannot hold",
            "Quote the value to make it a string.",
        )

    def string(self, data: Mapping[str, Any], key: str, *, required: bool = False, nonempty: bool = False) -> Any:
        if key not in data:
            if required:
                raise self.error((), f"the required key {key!r} is missing", _REQUIRED_HINTS.get(key, ""))
            return None
        value = data[key]
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise self.error(
                (key,),
                f"must be a string, got {_type_name(value)} {value!r}",
                f'Quote it: {key}: "{value}"' if isinstance(value, (int, float)) or hasattr(value, "isoformat") else "",
            )
        if nonempty and not value.strip():
            raise self.error((key,), "must not be empty")
        return value

    def mapping(self, data: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error((key,), f"must be a mapping (key: value), got {_type_name(value)}")
        return self.json_value(value, (key,))


_REQUIRED_HINTS = {
    "model": "Pin the model the prompt was written for, e.g. model: gpt-4o-mini",
    "messages": "Add the message templates, e.g. messages: [{role: user, content: 'Summarise: {{ text }}'}]",
}


def _dotted(key_path: tuple[str | int, ...]) -> str:
    out = ""
    for k in key_path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def _validate_tool_choice(v: _Validator, value: Any, tool_names: list[str]) -> Any:
    key = ("params", "tool_choice")
    if not tool_names:
        raise v.error(key, "is set but the prompt has no tools", "Add tools: [...] or remove tool_choice.")
    if isinstance(value, str):
        if value in ("auto", "none", "required", "any"):
            return "required" if value == "any" else value
        if value in tool_names:
            return {"name": value}
    elif isinstance(value, dict) and set(value) == {"name"} and value["name"] in tool_names:
        return {"name": value["name"]}
    raise v.error(
        key,
        f"is {value!r}, not a tool choice",
        "Use auto, none, required, or {name: <tool>} with one of: " + ", ".join(tool_names) + ".",
    )


def _build_config(doc: _Located, name: str, version: str) -> tuple[dict[str, Any], str | None]:
    """Validate a parsed prompt file; return (canonical configuration, description)."""
    ref = f"{name}@{version}"
    v = _Validator(doc, ref)
    data = doc.data
    if data is None:
        raise v.error((), "the file is empty", "A prompt needs at least `model:` and `messages:`.")
    if not isinstance(data, dict):
        raise v.error((), f"the top level must be a mapping of keys, got {_type_name(data)}")
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            close = _close(str(key), list(_TOP_LEVEL_KEYS))
            hint = f"Did you mean {close[0]!r}? " if close else ""
            param = key if key in _COMMON_PARAMS else next(iter(_close(str(key), list(_COMMON_PARAMS))), None)
            if param is not None:
                hint = f"Model parameters go under params: (params: {{{param}: ...}}). "
            raise v.error(
                (key,) if isinstance(key, str) else (),
                f"unknown key {key!r}",
                hint + "Allowed keys: " + ", ".join(_TOP_LEVEL_KEYS) + ".",
                subject=False,
            )

    description = v.string(data, "description")
    model = v.string(data, "model", required=True, nonempty=True)

    params = v.mapping(data, "params")
    for key, where in _RESERVED_PARAMS.items():
        if key in params:
            raise v.error(("params", key), "does not belong in params", f"Use the {where} instead.")
    given_max = [k for k in _MAX_TOKENS_ALIASES if k in params]
    if len(given_max) > 1:
        raise v.error(("params", given_max[1]), f"repeats {given_max[0]!r}", "Give the token limit once.")
    if "stop" in params and "stop_sequences" in params:
        raise v.error(("params", "stop_sequences"), "repeats 'stop'", "Give the stop sequences once.")
    for key, value in params.items():
        check = _PARAM_CHECKS.get(key)
        if check is not None and not check[0](value):
            got = _type_name(value) + ("" if value is None else f" {value!r}")
            raise v.error(("params", key), f"must be {check[1]}, got {got}")

    tools_raw = data.get("tools")
    tools: list[dict[str, Any]] = []
    if tools_raw is not None:
        if not isinstance(tools_raw, list):
            raise v.error(("tools",), f"must be a list of tool definitions, got {_type_name(tools_raw)}")
        seen_tools: set[str] = set()
        for i, tool in enumerate(tools_raw):
            kp: tuple[str | int, ...] = ("tools", i)
            if not isinstance(tool, dict):
                raise v.error(kp, f"must be a mapping {{name, description, parameters}}, got {_type_name(tool)}")
            for key in tool:
                if key not in _TOOL_KEYS:
                    hint = "Tools are written in a neutral form: {name, description, parameters: <JSON schema>}"
                    if key in ("type", "function", "input_schema"):
                        hint += "; pytest-llmops converts them to each provider's format"
                    raise v.error(
                        (*kp, key) if isinstance(key, str) else kp,
                        f"unknown key {key!r} in {_dotted(kp)}",
                        hint + ".",
                        subject=False,
                    )
            tname = tool.get("name")
            if not isinstance(tname, str) or not _TOOL_NAME_RE.fullmatch(tname):
                raise v.error(
                    (*kp, "name") if "name" in tool else kp,
                    f"is missing or not a valid tool name (got {tname!r})",
                    "A tool name is 1-64 letters, digits, '_' or '-'.",
                )
            if tname in seen_tools:
                raise v.error((*kp, "name"), f"tool {tname!r} is defined twice ({_dotted(kp)})", subject=False)
            seen_tools.add(tname)
            tdesc = tool.get("description")
            if tdesc is not None and not isinstance(tdesc, str):
                raise v.error((*kp, "description"), f"must be a string, got {_type_name(tdesc)}")
            schema = tool.get("parameters")
            if schema is None:
                schema = copy.deepcopy(_EMPTY_SCHEMA)
            elif not isinstance(schema, dict):
                raise v.error((*kp, "parameters"), f"must be a JSON schema mapping, got {_type_name(schema)}")
            schema = v.json_value(schema, (*kp, "parameters"))
            if schema.get("type") != "object":
                raise v.error(
                    (*kp, "parameters"),
                    "must be a JSON schema with type: object",
                    "Both providers take tool arguments as an object: {type: object, properties: {...}}.",
                )
            tools.append({"name": tname, "description": tdesc or "", "parameters": schema})

    if "tool_choice" in params:
        params["tool_choice"] = _validate_tool_choice(v, params["tool_choice"], [t["name"] for t in tools])

    retrieval = v.mapping(data, "retrieval")
    system = v.string(data, "system")

    if "messages" not in data:
        raise v.error((), "the required key 'messages' is missing", _REQUIRED_HINTS["messages"])
    messages_raw = data["messages"]
    if not isinstance(messages_raw, list) or not messages_raw:
        raise v.error(
            ("messages",),
            f"must be a non-empty list of {{role, content}}, got {_type_name(messages_raw)}"
            + ("" if messages_raw != [] else " (empty)"),
            _REQUIRED_HINTS["messages"],
        )
    messages: list[dict[str, str]] = []
    for i, msg in enumerate(messages_raw):
        kp = ("messages", i)
        if not isinstance(msg, dict):
            raise v.error(kp, f"must be a mapping {{role, content}}, got {_type_name(msg)}")
        for key in msg:
            if key not in _MESSAGE_KEYS:
                raise v.error(
                    (*kp, key) if isinstance(key, str) else kp,
                    f"unknown key {key!r} in {_dotted(kp)}",
                    "A message has role and content.",
                    subject=False,
                )
        role = msg.get("role")
        if role == "system":
            raise v.error(
                (*kp, "role"),
                f"a system message ({_dotted(kp)}) goes in the top-level `system:` key",
                "Move its content there.",
                subject=False,
            )
        if role not in _ROLES:
            if "role" not in msg:
                raise v.error(kp, "has no role (user or assistant)")
            raise v.error((*kp, "role"), f"must be user or assistant, got {role!r}")
        content = msg.get("content")
        if not isinstance(content, str):
            if "content" not in msg:
                raise v.error(kp, "has no content")
            raise v.error((*kp, "content"), f"must be a string, got {_type_name(content)}")
        messages.append({"role": role, "content": content})

    # Template syntax is checked at load time, with the file line of the message.
    if system is not None:
        _parse_template(system, "system", doc.path, doc.line("system"))
    for i, msg in enumerate(messages):
        _parse_template(msg["content"], f"messages[{i}]", doc.path, doc.line("messages", i, "content"))

    config = {
        "model": model,
        "params": params,
        "tools": tools,
        "retrieval": retrieval,
        "system": system,
        "messages": messages,
    }
    return config, description


# --------------------------------------------------------------------------------------------------
# Rendered prompts


class RenderedPrompt(list):  # type: ignore[type-arg]
    """Rendered messages of a prompt, usable directly as OpenAI Chat ``messages=``.

    The list holds ``{"role", "content"}`` dicts, the system message first (when the prompt has one).
    The other shapes are properties returning fresh copies:

    - ``.system``: the rendered system text, or None;
    - ``.messages``: the messages without the system one;
    - ``.chat``: a plain list for ``client.chat.completions.create(messages=...)``;
    - ``.anthropic``: ``{"system": ..., "messages": [...]}`` for ``client.messages.create(**...)``;
    - ``.responses``: ``{"instructions": ..., "input": [...]}`` for ``client.responses.create(**...)``.

    ``system``/``instructions`` are left out of the dicts when the prompt has no system message.
    """

    def __init__(self, system: str | None, messages: list[dict[str, str]], prompt: Prompt | None = None) -> None:
        head = [{"role": "system", "content": system}] if system is not None else []
        super().__init__(head + [dict(m) for m in messages])
        self._system = system
        self._messages = [dict(m) for m in messages]
        self.prompt = prompt

    @property
    def system(self) -> str | None:
        return self._system

    @property
    def messages(self) -> list[dict[str, str]]:
        return [dict(m) for m in self._messages]

    @property
    def chat(self) -> list[dict[str, str]]:
        return [dict(m) for m in self]

    @property
    def anthropic(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._system is not None:
            out["system"] = self._system
        out["messages"] = self.messages
        return out

    @property
    def responses(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._system is not None:
            out["instructions"] = self._system
        out["input"] = self.messages
        return out

    @property
    def lineage(self) -> dict[str, str]:
        """The lineage of the prompt these messages were rendered from (empty without one)."""
        return self.prompt.lineage if self.prompt is not None else {}

    def __repr__(self) -> str:
        ref = f" of {self.prompt.ref}" if self.prompt is not None else ""
        return f"<RenderedPrompt{ref} {list.__repr__(self)}>"


# --------------------------------------------------------------------------------------------------
# Prompt


@dataclasses.dataclass(frozen=True, repr=False)
class Prompt:
    """One version of a prompt: the whole configuration of a provider call, as written in its file.

    Build it with :meth:`Prompt.from_config`, :func:`load_prompt` or :meth:`PromptRegistry.get`
    (the dataclass constructor does not validate).  Treat the dict fields as read-only.

    ``digest`` is the SHA-256 (hex) of the canonical JSON (keys sorted, no whitespace, UTF-8) of
    :attr:`config`: ``model`` (the file's, before any substitution), ``params``, ``tools``
    (normalised), ``retrieval``, ``system`` and ``messages`` (the templates).  It does not depend on
    comments, key order, quoting or layout of the file, nor on ``name``, ``version`` or
    ``description``: two versions with the same digest send the same thing.
    """

    name: str
    version: str
    model: str
    original_model: str
    params: dict[str, Any]
    tools: tuple[dict[str, Any], ...]
    retrieval: dict[str, Any]
    system: str | None
    messages: tuple[dict[str, str], ...]
    description: str | None
    path: Path | None
    digest: str
    variables: frozenset[str]

    # ---- construction

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        name: str,
        version: str,
        path: Path | str | None = None,
        model_map: Mapping[str, str] | None = None,
    ) -> Prompt:
        """Validate a configuration mapping (the content of a prompt file) and build the Prompt.

        Raises :class:`PromptFileError` / :class:`PromptTemplateError` like a file would.
        """
        p = Path(path) if path is not None else None
        doc = _Located(dict(config), None, p)
        _check_claims(doc, name, version)
        return _prompt_from_doc(doc, name, version, model_map)

    # ---- identity

    @property
    def ref(self) -> str:
        """``"name@version"``."""
        return f"{self.name}@{self.version}"

    @property
    def lineage(self) -> dict[str, str]:
        """``{"prompt": "name@version", "prompt_digest": digest}``, carried by logs and scores."""
        return {"prompt": self.ref, "prompt_digest": self.digest}

    @property
    def substitution(self) -> str | None:
        """``"OLD -> NEW"`` when ``--llm-model OLD=NEW`` replaced the file's model, else None."""
        if self.model != self.original_model:
            return f"{self.original_model} -> {self.model}"
        return None

    @property
    def config(self) -> dict[str, Any]:
        """The canonical configuration (a fresh copy) whose JSON the digest hashes."""
        return {
            "model": self.original_model,
            "params": copy.deepcopy(self.params),
            "tools": copy.deepcopy(list(self.tools)),
            "retrieval": copy.deepcopy(self.retrieval),
            "system": self.system,
            "messages": [dict(m) for m in self.messages],
        }

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.digest, self.model))

    def __repr__(self) -> str:
        model = self.model if self.substitution is None else f"{self.model} (was {self.original_model})"
        return f"<Prompt {self.ref} model={model} digest={self.digest[:12]}>"

    # ---- rendering

    def _where(self) -> str:
        return f"prompt {self.ref} ({_display(self.path)})" if self.path is not None else f"prompt {self.ref}"

    def render(self, /, **vars: Any) -> RenderedPrompt:
        """Fill the templates with ``vars`` (inserted as ``str(value)``, never re-expanded).

        Raises :class:`MissingVariableError` when a variable is not given and
        :class:`UnexpectedVariableError` when a given one is used by no template.  Inside a pytest
        test, the test then uses this version (its calls and scores carry :attr:`lineage`).
        """
        missing = sorted(self.variables - vars.keys())
        unexpected = sorted(vars.keys() - self.variables)
        expected = ", ".join(sorted(self.variables)) or "(none)"
        if missing:
            msg = (
                f"{self._where()} needs "
                + ("variable " if len(missing) == 1 else "variables ")
                + ", ".join(repr(m) for m in missing)
                + ", not given to render().\n"
                f"  variables of this prompt: {expected}\n"
                f"  given: {', '.join(sorted(vars)) or '(none)'}"
            )
            for name in unexpected:
                close = _close(name, missing)
                if close:
                    msg += f"\n  {name!r} is not a variable of this prompt: did you mean {close[0]!r}?"
            msg += "\n  Pass every variable, e.g. render(" + ", ".join(f"{m}=..." for m in missing) + ")."
            raise MissingVariableError(msg, ref=self.ref, names=missing)
        if unexpected:
            msg = (
                f"{self._where()} has no "
                + ("variable " if len(unexpected) == 1 else "variables ")
                + ", ".join(repr(u) for u in unexpected)
                + ", given to render().\n"
                f"  variables of this prompt: {expected}\n"
                "  Remove the extra argument, or add {{ "
                + unexpected[0]
                + " }} to a template in a new version of the prompt."
            )
            raise UnexpectedVariableError(msg, ref=self.ref, names=unexpected)
        values = {k: str(v) for k, v in vars.items()}
        system = None
        if self.system is not None:
            system = _render_parts(_parse_template(self.system, "system", self.path, None), values)
        messages = [
            {
                "role": m["role"],
                "content": _render_parts(_parse_template(m["content"], f"messages[{i}]", self.path, None), values),
            }
            for i, m in enumerate(self.messages)
        ]
        self._announce()
        return RenderedPrompt(system, messages, self)

    def _announce(self) -> None:
        """Tell the running pytest test (if any) that it uses this version: its provider calls and
        scores then carry this prompt's lineage.  Outside a test, ``current()`` is None: nothing."""
        ctx = _current_test()
        if ctx is not None:
            ctx.use_prompt(self.lineage)

    def call_kwargs(self, provider: str = "openai", /, **vars: Any) -> dict[str, Any]:
        """The keyword arguments of the SDK call for ``provider``, ready to splat.

        ``provider`` is ``"openai"`` (``client.chat.completions.create``), ``"responses"``
        (``client.responses.create``) or ``"anthropic"`` (``client.messages.create``).  The dict
        holds ``model`` (after substitution), the params mapped to the provider's names, the tools
        in the provider's format and, when ``vars`` are given (or the prompt has no variables), the
        rendered messages in the provider's shape.  See docs/prompts.md for the mapping table.
        Params the installed SDK's method does not name are passed in ``extra_body`` (the JSON body
        sent is the same; the SDK just would not accept them as keywords).
        """
        if provider not in PROVIDERS:
            close = _close(str(provider), list(PROVIDERS))
            raise UnknownProviderError(
                f"unknown provider {provider!r} for call_kwargs() of {self._where()}"
                + (f": did you mean {close[0]!r}?" if close else ".")
                + "\n  Use one of: 'openai' (chat.completions.create), 'responses' (responses.create), "
                "'anthropic' (messages.create)."
            )
        out: dict[str, Any] = {"model": self.model}
        if vars or not self.variables:
            rendered = self.render(**vars)
            if provider == "openai":
                out["messages"] = rendered.chat
            elif provider == "responses":
                out.update(rendered.responses)
            else:
                out.update(rendered.anthropic)
        out.update(_provider_params(self.params, provider))
        if self.tools:
            out["tools"] = [_provider_tool(t, provider) for t in self.tools]
        self._announce()
        return _split_extra_body(out, provider)


def _provider_tool(tool: Mapping[str, Any], provider: str) -> dict[str, Any]:
    name, desc, schema = tool["name"], tool.get("description") or "", copy.deepcopy(tool["parameters"])
    if provider == "anthropic":
        out: dict[str, Any] = {"name": name}
        if desc:
            out["description"] = desc
        out["input_schema"] = schema
        return out
    fn: dict[str, Any] = {"name": name}
    if desc:
        fn["description"] = desc
    fn["parameters"] = schema
    if provider == "responses":
        return {"type": "function", **fn}
    return {"type": "function", "function": fn}


def _provider_params(params: Mapping[str, Any], provider: str) -> dict[str, Any]:
    p = copy.deepcopy(dict(params))
    out: dict[str, Any] = {}
    max_key = next((k for k in _MAX_TOKENS_ALIASES if k in p), None)
    max_tokens = p.pop(max_key) if max_key else None
    stop = p.pop("stop", p.pop("stop_sequences", _MISSING))
    tool_choice = p.pop("tool_choice", _MISSING)
    parallel = p.pop("parallel_tool_calls", _MISSING)
    response_format = p.pop("response_format", _MISSING)

    if provider == "openai":
        if max_key is not None:
            out["max_tokens" if max_key == "max_tokens" else "max_completion_tokens"] = max_tokens
        if stop is not _MISSING:
            out["stop"] = stop
        if tool_choice is not _MISSING:
            out["tool_choice"] = (
                {"type": "function", "function": {"name": tool_choice["name"]}}
                if isinstance(tool_choice, dict)
                else tool_choice
            )
        if parallel is not _MISSING:
            out["parallel_tool_calls"] = parallel
        if response_format is not _MISSING:
            out["response_format"] = response_format
    elif provider == "responses":
        if max_key is not None:
            out["max_output_tokens"] = max_tokens
        if stop is not _MISSING:
            out["stop"] = stop  # not a Responses parameter: goes to extra_body, the API decides
        if tool_choice is not _MISSING:
            out["tool_choice"] = (
                {"type": "function", "name": tool_choice["name"]} if isinstance(tool_choice, dict) else tool_choice
            )
        if parallel is not _MISSING:
            out["parallel_tool_calls"] = parallel
        if response_format is not _MISSING:
            text = dict(p.pop("text", None) or {})
            text["format"] = _responses_format(response_format)
            out["text"] = text
    else:  # anthropic
        out["max_tokens"] = max_tokens if max_key is not None else ANTHROPIC_DEFAULT_MAX_TOKENS
        if stop is not _MISSING and stop is not None:
            out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        choice: dict[str, Any] | None = None
        if tool_choice is not _MISSING:
            if isinstance(tool_choice, dict):
                choice = {"type": "tool", "name": tool_choice["name"]}
            else:
                choice = {"type": {"auto": "auto", "none": "none", "required": "any"}[tool_choice]}
        if parallel is False:
            choice = choice or {"type": "auto"}
            if choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
        if choice is not None:
            out["tool_choice"] = choice
        if response_format is not _MISSING:
            out["response_format"] = response_format  # not translated: the API decides
    out.update(p)
    return out


def _responses_format(response_format: Any) -> Any:
    """Chat ``response_format`` -> Responses ``text.format``."""
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        inner = dict(response_format.get("json_schema") or {})
        return {"type": "json_schema", **inner}
    return response_format


_SDK_METHODS = {
    "openai": ("openai.resources.chat.completions", "Completions"),
    "responses": ("openai.resources.responses", "Responses"),
    "anthropic": ("anthropic.resources.messages", "Messages"),
}
_sdk_params_cache: dict[str, frozenset[str] | None] = {}


def _sdk_param_names(provider: str) -> frozenset[str] | None:
    """Keyword names of the installed SDK's create() for ``provider``; None when unknown."""
    if provider not in _sdk_params_cache:
        names: frozenset[str] | None = None
        try:
            import importlib
            import inspect

            module_name, cls_name = _SDK_METHODS[provider]
            create = getattr(importlib.import_module(module_name), cls_name).create
            params = inspect.signature(create).parameters.values()
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                names = frozenset(p.name for p in params if p.name != "self")
        except Exception:  # SDK missing or laid out differently: pass everything as keywords
            names = None
        _sdk_params_cache[provider] = names
    return _sdk_params_cache[provider]


def _split_extra_body(kwargs: dict[str, Any], provider: str) -> dict[str, Any]:
    accepted = _sdk_param_names(provider)
    if accepted is None or "extra_body" not in accepted:
        return kwargs
    out: dict[str, Any] = {}
    extra: dict[str, Any] = dict(kwargs.get("extra_body") or {})
    for key, value in kwargs.items():
        if key == "extra_body":
            continue
        if key in accepted:
            out[key] = value
        else:
            extra[key] = value
    if extra:
        out["extra_body"] = extra
    return out


def _prompt_from_doc(
    doc: _Located, name: str, version: str, model_map: Mapping[str, str] | None
) -> Prompt:
    config, description = _build_config(doc, name, version)
    system = config["system"]
    variables: set[str] = set()
    if system is not None:
        variables |= _template_vars(_parse_template(system, "system", doc.path, None))
    for i, m in enumerate(config["messages"]):
        variables |= _template_vars(_parse_template(m["content"], f"messages[{i}]", doc.path, None))
    original = config["model"]
    model = (model_map or {}).get(original, original)
    return Prompt(
        name=name,
        version=version,
        model=model,
        original_model=original,
        params=config["params"],
        tools=tuple(config["tools"]),
        retrieval=config["retrieval"],
        system=system,
        messages=tuple(config["messages"]),
        description=description,
        path=doc.path,
        digest=_digest(config),
        variables=frozenset(variables),
    )


def _identity_claims(doc: _Located) -> tuple[Any, Any]:
    data = doc.data if isinstance(doc.data, dict) else {}
    return data.get("name", _MISSING), data.get("version", _MISSING)


def load_prompt(path: Path | str, *, model_map: Mapping[str, str] | None = None) -> Prompt:
    """Load one prompt file outside a registry (name = folder, version = file stem).

    No duplicate detection and no lock: use :class:`PromptRegistry` for that.
    """
    p = Path(path).absolute()
    doc = _read_yaml(p)
    name, version = p.parent.name, p.stem
    _check_claims(doc, name, version)
    return _prompt_from_doc(doc, name, version, model_map)


def _check_claims(doc: _Located, name: str, version: str) -> None:
    claimed_name, claimed_version = _identity_claims(doc)
    v = _Validator(doc, f"{name}@{version}")
    if claimed_name is not _MISSING and claimed_name != name:
        raise v.error(
            ("name",),
            f"name: {claimed_name!r} does not match the folder {name!r}",
            f"The folder is the prompt's name: remove `name:` or move the file to "
            f"{_display_dir(doc.path.parent.parent / str(claimed_name)) if doc.path else str(claimed_name) + '/'}.",
            subject=False,
        )
    if claimed_version is not _MISSING and claimed_version != version:
        hint = (
            f'Quote it: version: "{claimed_version}"'
            if not isinstance(claimed_version, str)
            else f"The file name is the version: remove `version:` or rename the file to {claimed_version}.yaml."
        )
        raise v.error(
            ("version",), f"version: {claimed_version!r} does not match the file name {version!r}", hint, subject=False
        )


# --------------------------------------------------------------------------------------------------
# Lock file


@dataclasses.dataclass(frozen=True)
class LockViolation:
    """A locked prompt version whose file changed (``kind="changed"``) or is gone (``"removed"``)."""

    name: str
    version: str
    path: Path | None
    lock_path: Path
    locked_digest: str
    current_digest: str | None
    diff: str
    kind: Literal["changed", "removed"]
    next_version: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def message(self) -> str:
        """The full explanation: what changed, the unified diff, and what to do."""
        lock = _display(self.lock_path)
        if self.kind == "removed":
            return (
                f"prompt {self.ref} is locked in {lock} but its file is gone "
                f"({_display(self.path)}).\n"
                "A released prompt version must stay: recorded scores and logs refer to it.\n"
                "What to do:\n"
                f"  - restore the file (e.g. git checkout -- {_display(self.path)}), or\n"
                f"  - if removing the version is intended and reviewed, re-lock: pytest {LOCK_OPTION}"
            )
        path = _display(self.path)
        new_path = (
            _display(self.path.with_name(f"{self.next_version}{self.path.suffix}"))
            if self.path is not None and self.next_version
            else "a new version file"
        )
        return (
            f"prompt {self.ref} was edited after it was locked ({path}).\n"
            "A released prompt version must not change: recorded scores and logs refer to it by digest.\n"
            f"  locked digest:  {self.locked_digest[:12]}  ({lock})\n"
            f"  current digest: {(self.current_digest or '')[:12]}\n"
            f"{self.diff}"
            "What to do:\n"
            f"  - to change the prompt, create a new version: copy {path} to {new_path}, make the edit "
            f"there, and restore {path} (e.g. git checkout -- {path}); or\n"
            f"  - if this edit is intended and reviewed, re-lock: pytest {LOCK_OPTION}"
        )

    def __str__(self) -> str:
        return self.message


_LOCK_HEADER = (
    "# pytest-llmops prompt lock: the digest and configuration of each released prompt version.\n"
    "# Generated; review changes like code. Editing a locked version is a test-session error:\n"
    f"# create a new version instead, or re-lock after review with: pytest {LOCK_OPTION}\n"
)
_LOCK_FORMAT = 1


def _dump_yaml(data: Any) -> str:
    """Stable, diffable YAML: sorted keys, block style, multi-line strings as | blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = None
        if any(c in value for c in "\x85\u2028\u2029"):  # YAML line breaks PyYAML mangles unquoted
            style = '"'
        elif "\n" in value:
            style = "|"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    # No line folding (width=inf): folded quoted scalars are where PyYAML round-trips worst.
    options: dict[str, Any] = dict(
        Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=float("inf"), indent=2
    )
    text = yaml.dump(data, allow_unicode=True, **options)
    if yaml.safe_load(text) != data:  # a snapshot must read back as written: escape all non-ASCII
        text = yaml.dump(data, allow_unicode=False, **options)
    return text


def _snapshot_text(config: Mapping[str, Any]) -> str:
    return _dump_yaml(dict(config))


@dataclasses.dataclass
class _LockEntry:
    digest: str
    config: dict[str, Any]


def _parse_lock(path: Path) -> dict[tuple[str, str], _LockEntry]:
    if not path.exists():
        return {}
    doc = _read_yaml(path, what="prompt lock file")
    data = doc.data
    hint = f"The lock file is generated: restore it from version control, or re-lock with pytest {LOCK_OPTION}."

    def bad(problem: str, *keys: str | int) -> PromptFileError:
        line = doc.line(*keys)
        return PromptFileError(
            f"{_display(path)}" + (f":{line}" if line else "") + f": {problem}.\n  {hint}", path=path, line=line
        )

    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("prompts", {}), dict):
        raise bad("not a prompt lock file (expected a mapping with `prompts:`)")
    if data.get("lock_format", _LOCK_FORMAT) != _LOCK_FORMAT:
        raise bad(f"unknown lock_format {data.get('lock_format')!r}", "lock_format")
    out: dict[tuple[str, str], _LockEntry] = {}
    for name, versions in (data.get("prompts") or {}).items():
        if not isinstance(versions, dict):
            raise bad(f"prompts.{name} must be a mapping of versions", "prompts", name)
        for version, entry in versions.items():
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("digest"), str)
                or not isinstance(entry.get("config"), dict)
            ):
                raise bad(f"prompts.{name}.{version} must have digest and config", "prompts", name, version)
            out[(str(name), str(version))] = _LockEntry(entry["digest"], entry["config"])
    return out


def _lock_text(entries: Mapping[tuple[str, str], _LockEntry]) -> str:
    prompts: dict[str, dict[str, Any]] = {}
    for (name, version), entry in entries.items():
        prompts.setdefault(name, {})[version] = {"digest": entry.digest, "config": entry.config}
    body = _dump_yaml({"lock_format": _LOCK_FORMAT, "prompts": prompts})
    return _LOCK_HEADER + body


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same directory, then os.replace."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------------------------------
# Registry


class PromptRegistry:
    """The prompt versions under ``prompt_dir`` (``<prompt_dir>/<name>/<version>.yaml``).

    Nothing is read until first used: the directory is scanned once, each prompt's files are parsed
    on first access to that prompt and cached.  ``model_map`` (``{OLD: NEW}``, from
    ``--llm-model OLD=NEW``) substitutes models: ``Prompt.model`` is NEW, ``Prompt.original_model``
    OLD.  The lock file defaults to ``<prompt_dir>/prompts.lock``.

    Lock workflow: :meth:`get` raises :class:`PromptLockError` for an edited locked version and
    records an unlocked one (first use); :meth:`save_lock` writes the lock file if it changed;
    :meth:`check_lock` lists every violation; :meth:`relock` accepts the current files.
    """

    def __init__(
        self,
        prompt_dir: Path | str,
        *,
        lock_path: Path | str | None = None,
        model_map: Mapping[str, str] | None = None,
    ) -> None:
        # Absolute from the start: a test that changes the working directory must not move them.
        self.prompt_dir = Path(prompt_dir).absolute()
        self.lock_path = (
            Path(lock_path).absolute() if lock_path is not None else self.prompt_dir / DEFAULT_LOCK_NAME
        )
        self.model_map: dict[str, str] = {}
        for old, new in (model_map or {}).items():
            if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
                raise PromptError(
                    f"model substitution {old!r} -> {new!r} is not a pair of model names; "
                    "use --llm-model OLD=NEW, e.g. --llm-model gpt-4o-mini=gpt-4.1-mini."
                )
            self.model_map[old] = new
        self._files: dict[str, dict[str, list[Path]]] | None = None
        self._loaded: dict[str, dict[str, Prompt | PromptError]] = {}
        self._lock: dict[tuple[str, str], _LockEntry] | None = None
        self._new: dict[tuple[str, str], _LockEntry] = {}
        self._relocked = False

    def __repr__(self) -> str:
        return f"<PromptRegistry {_display_dir(self.prompt_dir)}>"

    # ---- discovery

    def _scan(self) -> dict[str, dict[str, list[Path]]]:
        if self._files is None:
            files: dict[str, dict[str, list[Path]]] = {}
            if self.prompt_dir.is_dir():
                for folder in sorted(self.prompt_dir.iterdir()):
                    if not folder.is_dir() or folder.name.startswith((".", "__")):
                        continue
                    for f in sorted(folder.iterdir()):
                        if f.is_file() and f.suffix in _PROMPT_SUFFIXES and not f.name.startswith("."):
                            files.setdefault(folder.name, {}).setdefault(f.stem, []).append(f)
            self._files = files
        return self._files

    def reload(self) -> None:
        """Forget the scanned directory and parsed files (the lock state is kept)."""
        self._files = None
        self._loaded.clear()

    def names(self) -> list[str]:
        """Names of all prompts (folders holding at least one version file), sorted."""
        return sorted(self._scan())

    def versions(self, name: str) -> list[str]:
        """Versions of prompt ``name`` in natural order (oldest first; see :func:`version_sort_key`)."""
        files = self._scan().get(name)
        if not files:
            raise self._unknown_name(name)
        return sorted(files, key=version_sort_key)

    def __iter__(self) -> Iterator[Prompt]:
        """Every version of every prompt, by name then version; each one as :meth:`get` gives it."""
        for name in self.names():
            for version in self.versions(name):
                yield self.get(name, version)

    def __contains__(self, ref: object) -> bool:
        """``"name"`` or ``"name@version"`` in registry."""
        if not isinstance(ref, str):
            return False
        name, _, version = ref.partition("@")
        files = self._scan().get(name)
        return bool(files) and (not version or version in files)

    def _unknown_name(self, name: str) -> PromptNotFoundError:
        names = self.names()
        where = _display_dir(self.prompt_dir)
        close = _close(name, names)
        if not self.prompt_dir.is_dir():
            msg = f"no prompt named {name!r}: the prompt directory {where} does not exist."
        else:
            msg = f"no prompt named {name!r} in {where}"
        lines = [msg]
        if close:
            lines.append("  did you mean: " + ", ".join(close) + "?")
        if names:
            lines.append("  available prompts: " + ", ".join(names))
        for suffix in _PROMPT_SUFFIXES:
            stray = self.prompt_dir / f"{name}{suffix}"
            if stray.is_file():
                lines.append(
                    f"  found {_display(stray)}: a prompt is a folder of versions; "
                    f"move it to {_display(self.prompt_dir / name / ('v1' + suffix))}"
                )
        lines.append(f"  A prompt version is a file {where}<name>/<version>.yaml.")
        return PromptNotFoundError("\n".join(lines), name=name, suggestions=close, available=names)

    # ---- loading

    def _load_name(self, name: str) -> dict[str, Prompt | PromptError]:
        if name in self._loaded:
            return self._loaded[name]
        files = self._scan().get(name)
        if not files:
            raise self._unknown_name(name)
        results: dict[str, Prompt | PromptError] = {}
        docs: dict[str, _Located] = {}
        for version, paths in files.items():
            if len(paths) > 1:
                results[version] = self._duplicate(name, version, paths[0], paths[1], None)
                continue
            try:
                docs[version] = _read_yaml(paths[0])
            except PromptError as exc:
                results[version] = exc
        # Identity: a `version:` key naming another existing version is a duplicate of it.
        for version, doc in docs.items():
            claimed_name, claimed_version = _identity_claims(doc)
            if (
                isinstance(claimed_version, str)
                and claimed_version != version
                and claimed_version in files
                and (claimed_name is _MISSING or claimed_name == name)
            ):
                other = files[claimed_version][0]
                err = self._duplicate(name, claimed_version, other, doc.path, version)
                results[claimed_version] = err
                results[version] = err
        for version, doc in docs.items():
            if version in results:
                continue
            try:
                _check_claims(doc, name, version)
                results[version] = _prompt_from_doc(doc, name, version, self.model_map)
            except PromptError as exc:
                results[version] = exc
        self._loaded[name] = results
        return results

    @staticmethod
    def _duplicate(
        name: str, version: str, first: Path, second: Path | None, second_stem: str | None
    ) -> DuplicatePromptError:
        ref = f"{name}@{version}"
        assert second is not None
        if second_stem is not None:
            detail = f"{_display(second)} says `version: {version}`"
            fix = (
                f"  Each version is exactly one file, named after the version: in {_display(second)} "
                f"remove the `version:` key (or set it to {second_stem})."
            )
        else:
            detail = "both are named after the version"
            fix = "  Each version is exactly one file: delete or rename one of them."
        return DuplicatePromptError(
            f"two files define prompt {ref}: {_display(first)} and {_display(second)} ({detail}).\n{fix}",
            ref=ref,
            paths=[first, second],
        )

    def _load(self, name: str, version: str) -> Prompt:
        result = self._load_name(name).get(version)
        if result is None:
            raise self._unknown_version(name, version)
        if isinstance(result, PromptError):
            # A cached error: raise it with a fresh traceback each time it is asked for.
            raise result.with_traceback(None) from None
        return result

    def _unknown_version(self, name: str, version: str) -> PromptNotFoundError:
        versions = self.versions(name)
        close = _close(version, versions)
        shown = [f"{v} (latest)" if v == versions[-1] else v for v in versions]
        lines = [f"prompt {name!r} has no version {version!r} in {_display_dir(self.prompt_dir / name)}"]
        if close:
            lines.append("  did you mean: " + ", ".join(close) + "?")
        lines.append("  available versions: " + ", ".join(shown))
        lines.append(f"  Omit version= to get the latest, or add {_display(self.prompt_dir / name / version)}.yaml.")
        return PromptNotFoundError(
            "\n".join(lines), name=name, version=version, suggestions=close, available=versions
        )

    def get(self, name: str, version: str | None = None) -> Prompt:
        """The prompt ``name`` at ``version`` (the latest version when None).

        Raises :class:`PromptNotFoundError` (with suggestions), :class:`PromptFileError`,
        :class:`DuplicatePromptError`, or :class:`PromptLockError` when the version is locked with
        another digest.  An unlocked version is recorded for the lock (written by :meth:`save_lock`).
        """
        if version is None:
            version = self.versions(name)[-1]
        prompt = self._load(name, str(version))
        key = (prompt.name, prompt.version)
        lock = self._lock_entries()
        entry = lock.get(key)
        if entry is None:
            self._new[key] = _LockEntry(prompt.digest, prompt.config)
            lock[key] = self._new[key]
        elif entry.digest != prompt.digest:
            raise PromptLockError([self._violation(prompt, entry)])
        return prompt

    def latest(self, name: str) -> Prompt:
        """Same as ``get(name)``."""
        return self.get(name)

    # ---- lock

    def _lock_entries(self) -> dict[tuple[str, str], _LockEntry]:
        if self._lock is None:
            self._lock = _parse_lock(self.lock_path)
        return self._lock

    def _violation(self, prompt: Prompt, entry: _LockEntry) -> LockViolation:
        import difflib

        lock_name = _display(self.lock_path)
        diff = "".join(
            difflib.unified_diff(
                _snapshot_text(entry.config).splitlines(keepends=True),
                _snapshot_text(prompt.config).splitlines(keepends=True),
                fromfile=f"{lock_name} ({prompt.ref}, locked)",
                tofile=f"{_display(prompt.path)} (now)",
            )
        )
        if diff and not diff.endswith("\n"):
            diff += "\n"
        versions = set(self.versions(prompt.name))
        return LockViolation(
            name=prompt.name,
            version=prompt.version,
            path=prompt.path,
            lock_path=self.lock_path,
            locked_digest=entry.digest,
            current_digest=prompt.digest,
            diff=diff,
            kind="changed",
            next_version=_next_version(max(versions, key=version_sort_key), versions),
        )

    def check_lock(self, *, unreadable: list[PromptError] | None = None) -> list[LockViolation]:
        """Every locked version whose file changed or was removed (empty when all is well).

        Only locked versions are read; a malformed locked file raises its :class:`PromptError`, or,
        when a list is given as ``unreadable``, the error is appended to it and the version skipped
        (the plugin reports such a file where a test uses it).
        """
        violations: list[LockViolation] = []
        for (name, version), entry in sorted(self._lock_entries().items()):
            if (name, version) in self._new:
                continue
            files = self._scan().get(name, {})
            if version not in files:
                violations.append(
                    LockViolation(
                        name=name,
                        version=version,
                        path=self.prompt_dir / name / f"{version}.yaml",
                        lock_path=self.lock_path,
                        locked_digest=entry.digest,
                        current_digest=None,
                        diff="",
                        kind="removed",
                    )
                )
                continue
            try:
                prompt = self._load(name, version)
            except PromptError as exc:
                if unreadable is None:
                    raise
                unreadable.append(exc)
                continue
            if prompt.digest != entry.digest:
                violations.append(self._violation(prompt, entry))
        return violations

    def verify_lock(self) -> None:
        """Raise :class:`PromptLockError` listing every violation of :meth:`check_lock`, if any."""
        violations = self.check_lock()
        if violations:
            raise PromptLockError(violations)

    def relock(self) -> list[str]:
        """Accept the current content of every version (after review); return the refs that changed.

        Reads every file first: on any error nothing changes.  Call :meth:`save_lock` to write.
        """
        entries: dict[tuple[str, str], _LockEntry] = {}
        for name in self.names():
            for version in self.versions(name):
                prompt = self._load(name, version)
                entries[(name, version)] = _LockEntry(prompt.digest, prompt.config)
        old = self._lock_entries()
        changed = sorted(
            f"{name}@{version}"
            for name, version in set(old) | set(entries)
            if (name, version) not in old
            or (name, version) not in entries
            or old[(name, version)].digest != entries[(name, version)].digest
        )
        self._lock = entries
        self._new = {}
        self._relocked = True
        return changed

    @property
    def newly_locked(self) -> list[str]:
        """Refs recorded for the lock on first use in this session, not yet in the lock file."""
        return sorted(f"{n}@{v}" for n, v in self._new)

    def save_lock(self) -> bool:
        """Write the lock file if its content changed; return whether it was written.

        The write is atomic (temp file in the same directory, then ``os.replace``).  Entries locked
        on first use are merged into the file as it is on disk now, so concurrent sessions (xdist
        workers) do not drop each other's entries; after :meth:`relock` the whole lock is replaced.
        """
        if self._relocked:
            entries = dict(self._lock_entries())
        else:
            entries = _parse_lock(self.lock_path)
            for key, entry in self._new.items():
                entries.setdefault(key, entry)
        current = self.lock_path.read_text(encoding="utf-8") if self.lock_path.exists() else None
        if not entries and current is None:
            return False
        text = _lock_text(dict(sorted(entries.items())))
        if text == current:
            self._new = {}
            self._relocked = False
            return False
        _write_atomic(self.lock_path, text)
        self._lock = entries
        self._new = {}
        self._relocked = False
        return True
