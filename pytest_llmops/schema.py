"""Assert that a model's output matches a JSON Schema or a Pydantic model.

:func:`assert_schema` takes what the model wrote (text, already-parsed data, or a Pydantic model
instance) and a schema (a JSON Schema dict or a Pydantic model class). It returns the validated
data, or fails the test with a :class:`SchemaAssertionError` that lists every violation with its
JSON path, what was expected and what was found::

    output does not match schema (3 violations):
      $.age: expected type integer, found string '42'
      $.items[1].price: expected minimum 0, found -3
      $.name: required property missing
    note: JSON taken from the ```json fenced block at line 2
    value:
      {
        "age": "42",
        ...

Text goes through :func:`pytest_llmops.jsonparse.extract_json` first (``extract=False`` demands
that the whole text be valid JSON instead). A schema that is itself broken raises
:class:`InvalidSchemaError` (a :class:`ValueError`, not an assertion failure: the test is wrong, not
the model). jsonschema and pydantic are imported on first use only.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .jsonparse import ExtractionInfo, JSONExtractionError, extract_json_with_info

if TYPE_CHECKING:
    import pydantic
    from jsonschema.exceptions import ValidationError

__all__ = ["InvalidSchemaError", "SchemaAssertionError", "Violation", "assert_schema"]

_VALUE_LINES = 40  # lines of the pretty-printed value shown in a failure
_LINE_WIDTH = 160
_SHORT = 60  # characters of a value quoted in a violation


@dataclass(frozen=True)
class Violation:
    """One way the output breaks the schema.

    ``path`` is a JSON path into the output (``$``, ``$.items[2].price``, ``$['odd key']``);
    ``message`` the full explanation (``expected type integer, found string '42'``); ``expected``
    and ``found`` its two halves, short and human-readable; ``keyword`` the JSON Schema keyword or
    Pydantic error type that failed.
    """

    path: str
    message: str
    expected: str
    found: str
    keyword: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SchemaAssertionError(AssertionError):
    """The output does not match the schema (or holds no JSON at all).

    :attr:`violations` lists every :class:`Violation`; :attr:`value` is the parsed output (``None``
    when no JSON was found); :attr:`info` says where in the text the JSON was found and which
    repairs it needed (``None`` when the output was not text); :attr:`extraction_error` is the
    :class:`~pytest_llmops.jsonparse.JSONExtractionError` when the output held no JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[Violation],
        value: Any = None,
        info: ExtractionInfo | None = None,
    ) -> None:
        super().__init__(message)
        self.violations: list[Violation] = list(violations)
        self.value = value
        self.info = info
        self.extraction_error: JSONExtractionError | None = None


class InvalidSchemaError(ValueError):
    """The schema given to :func:`assert_schema` is not a valid JSON Schema.

    :attr:`problems` holds one line per problem, each starting with the path of the bad part of the
    schema (``$.properties.age.type: ...``).
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems)


# --------------------------------------------------------------------------------------------
# rendering

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DRAFT_NAMES = {
    "Draft3Validator": "Draft 3",
    "Draft4Validator": "Draft 4",
    "Draft6Validator": "Draft 6",
    "Draft7Validator": "Draft 7",
    "Draft201909Validator": "Draft 2019-09",
    "Draft202012Validator": "Draft 2020-12",
}


def _format_path(parts: Iterable[Any]) -> str:
    """``$``, ``$.a.b``, ``$.items[2]``, ``$['a key']``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif isinstance(part, str) and _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            text = str(part).replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{text}']")
    return "".join(out)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _short(value: Any, limit: int = _SHORT) -> str:
    """A value in one short line: strings as Python literals, everything else as compact JSON."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        text = repr(value[:limit])
        return f"{text[:-1]}…{text[-1]} ({len(value)} characters)"
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _typed(value: Any) -> str:
    """``string '42'``, ``integer 3``, ``null``, ``object {"a": 1}``."""
    kind = _json_type(value)
    return kind if value is None else f"{kind} {_short(value)}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _pretty(value: Any) -> list[str]:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        import pprint

        text = pprint.pformat(value, width=100)
    lines = text.splitlines() or [""]
    lines = [line if len(line) <= _LINE_WIDTH else line[: _LINE_WIDTH - 1] + "…" for line in lines]
    if len(lines) > _VALUE_LINES:
        hidden = len(lines) - _VALUE_LINES
        lines = [*lines[:_VALUE_LINES], f"... ({_plural(hidden, 'more line')})"]
    return lines


def _note(info: ExtractionInfo | None) -> str | None:
    if info is None or not (info.extracted or info.repaired):
        return None
    return f"note: JSON taken from {info.describe()}"


def _failure(header: str, violations: list[Violation], value: Any, info: ExtractionInfo | None) -> SchemaAssertionError:
    lines = [f"{header} ({_plural(len(violations), 'violation')}):"]
    lines += [f"  {v}" for v in violations]
    note = _note(info)
    if note:
        lines.append(note)
    lines.append("value:")
    lines += [f"  {line}" for line in _pretty(value)]
    return SchemaAssertionError("\n".join(lines), violations=violations, value=value, info=info)


# --------------------------------------------------------------------------------------------
# input


def _is_model_instance(value: Any) -> bool:
    pydantic = sys.modules.get("pydantic")  # no pydantic imported: no pydantic instance exists
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _model_class(schema: Any) -> type[pydantic.BaseModel] | None:
    if isinstance(schema, type):
        import pydantic

        if issubclass(schema, pydantic.BaseModel):
            return schema
        raise TypeError(
            "assert_schema() needs a JSON Schema dict or a pydantic.BaseModel subclass, "
            f"not the class {schema.__name__}"
        )
    if isinstance(schema, (Mapping, bool)):
        return None
    raise TypeError(
        f"assert_schema() needs a JSON Schema dict or a pydantic.BaseModel subclass, not {type(schema).__name__}"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_text(text: str | bytes | bytearray, extract: bool) -> tuple[Any, ExtractionInfo | None]:
    __tracebackhide__ = True
    if extract:
        try:
            return extract_json_with_info(text)
        except JSONExtractionError as exc:
            violation = Violation("$", "expected JSON, found none", "JSON", exc.excerpt, "json")
            failure = SchemaAssertionError(f"output is not JSON: {exc}", violations=[violation])
            failure.extraction_error = exc
            raise failure from None  # the message says it all; no parser traceback in the report
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8-sig")
        return json.loads(text, parse_constant=_reject_constant), None
    except (ValueError, RecursionError) as exc:
        excerpt = _short(text, 200)
        violation = Violation("$", f"expected JSON text, found {excerpt}", "JSON", excerpt, "json")
        raise SchemaAssertionError(
            f"output is not valid JSON (extract=False): {exc}\ntext: {excerpt}", violations=[violation]
        ) from None


# --------------------------------------------------------------------------------------------
# JSON Schema


def _validator_class(schema: Mapping[str, Any] | bool) -> Any:
    from jsonschema import validators

    return validators.validator_for(schema, default=validators.Draft202012Validator)


def _schema_problems(cls: Any, schema: Mapping[str, Any] | bool) -> list[str]:
    from jsonschema.exceptions import best_match

    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    problems = []
    for error in sorted(meta.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path]):
        detail = best_match(error.context) if error.context else error
        problems.append(f"{_format_path(error.absolute_path)}: {(detail or error).message}")
    return problems


def _doc_order(data: Any) -> Any:
    """Sort key for instance paths: the order of the output itself, missing keys after present ones."""
    indexes: dict[int, dict[Any, int]] = {}

    def key(parts: tuple[Any, ...]) -> tuple[int, ...]:
        out = []
        node = data
        for part in parts:
            if isinstance(node, Mapping):
                index = indexes.get(id(node))
                if index is None:
                    index = indexes[id(node)] = {k: i for i, k in enumerate(node)}
                out.append(index.get(part, len(index)))
                node = node.get(part)
            elif isinstance(node, (list, tuple)) and isinstance(part, int):
                out.append(part)
                node = node[part] if 0 <= part < len(node) else None
            else:
                out.append(0)
                node = None
        return tuple(out)

    return key


def _at(data: Any, parts: Iterable[Any]) -> Any:
    node = data
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


_BOUNDS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive minimum",
    "exclusiveMaximum": "exclusive maximum",
}


def _explain(error: ValidationError, data: Any) -> Iterator[tuple[tuple[Any, ...], Violation]]:
    """Turn one jsonschema error into violations (one per missing or unexpected property)."""
    keyword: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    parts = tuple(error.absolute_path)

    def violation(
        message: str, expected: str, found: str, at: tuple[Any, ...] | None = None
    ) -> tuple[tuple[Any, ...], Violation]:
        at = parts if at is None else at
        return at, Violation(_format_path(at), message, expected, found, str(keyword or "false"))

    def expect(expected: str, found: str) -> tuple[tuple[Any, ...], Violation]:
        return violation(f"expected {expected}, found {found}", expected, found)

    if keyword == "required" and isinstance(instance, Mapping):
        for name in value:
            if name not in instance:
                yield violation("required property missing", "required property", "missing", (*parts, name))
        return
    if keyword in ("dependentRequired", "dependencies") and isinstance(instance, Mapping):
        shown = False
        for name, needed in value.items():
            if name in instance and isinstance(needed, list):
                for other in needed:
                    if other not in instance:
                        shown = True
                        yield violation(
                            f"required property missing (required when {name!r} is present)",
                            "required property",
                            "missing",
                            (*parts, other),
                        )
        if shown:
            return
    if keyword == "additionalProperties" and value is False and isinstance(instance, Mapping):
        declared = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, Mapping) else {}
        extra = [k for k in instance if k not in declared and not any(re.search(p, k) for p in patterns)]
        for name in extra:
            yield violation(
                f"unexpected property (additionalProperties is false), found {_short(instance[name])}",
                "no other properties",
                _short(instance[name]),
                (*parts, name),
            )
        if extra:
            return

    if keyword is None:  # a `false` subschema
        # jsonschema leaves the last step out of the path here: find it when it is unambiguous
        parent = _at(data, parts)
        if isinstance(parent, Mapping):
            keys = [k for k, v in parent.items() if v is instance]
            if len(keys) == 1:
                parts = (*parts, keys[0])
        elif isinstance(parent, list):
            keys = [i for i, v in enumerate(parent) if v is instance]
            if len(keys) == 1:
                parts = (*parts, keys[0])
        yield violation(
            f"no value allowed here (schema is false), found {_short(instance)}", "nothing", _short(instance)
        )
    elif keyword == "type":
        types = [value] if isinstance(value, str) else list(value)
        yield expect("type " + " or ".join(types), _typed(instance))
    elif keyword == "enum":
        yield expect(f"one of {_short(list(value), 120)}", _short(instance))
    elif keyword == "const":
        yield expect(f"constant {_short(value)}", _short(instance))
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = _BOUNDS[keyword]
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        if keyword in ("minimum", "maximum") and schema.get("exclusive" + keyword.title()) is True:
            bound = "exclusive " + bound  # Draft 4 style
        yield expect(f"{bound} {_short(value)}", _short(instance))
    elif keyword == "multipleOf":
        yield expect(f"a multiple of {_short(value)}", _short(instance))
    elif keyword in ("minLength", "maxLength") and isinstance(instance, str):
        least = "at least" if keyword == "minLength" else "at most"
        found = f"{_short(instance)}" + ("" if len(instance) > _SHORT else f" ({_plural(len(instance), 'character')})")
        yield expect(f"{least} {_plural(value, 'character')}", found)
    elif keyword == "items" and value is False and isinstance(instance, (list, tuple)):
        allowed = len(error.schema.get("prefixItems", ())) if isinstance(error.schema, Mapping) else 0
        yield expect(f"at most {_plural(allowed, 'item')}", _plural(len(instance), "item"))
    elif keyword in ("minItems", "maxItems") and isinstance(instance, (list, tuple)):
        least = "at least" if keyword == "minItems" else "at most"
        yield expect(f"{least} {_plural(value, 'item')}", _plural(len(instance), "item"))
    elif keyword in ("minProperties", "maxProperties") and isinstance(instance, Mapping):
        least = "at least" if keyword == "minProperties" else "at most"
        yield expect(
            f"{least} {_plural(value, 'property', 'properties')}", _plural(len(instance), "property", "properties")
        )
    elif keyword == "pattern":
        yield expect(f"a match for /{value}/", _short(instance))
    elif keyword == "format":
        yield expect(f"format {value!r}", _short(instance))
    elif keyword == "uniqueItems" and isinstance(instance, (list, tuple)):
        seen: set[str] = set()
        duplicate: Any = None
        for item in instance:
            marker = json.dumps(item, sort_keys=True, default=repr)
            if marker in seen:
                duplicate = item
                break
            seen.add(marker)
        yield expect("unique items", f"{_short(duplicate)} more than once")
    elif keyword in ("anyOf", "oneOf") and error.context:
        expected = f"a match for {'one' if keyword == 'oneOf' else 'any'} of the {len(value)} {keyword} schemas"
        # the closest alternative: one that at least has the right type, failing deepest
        closest = min(error.context, key=lambda e: (e.validator == "type", -len(e.relative_path)))
        first = next(_explain(closest, data), None)
        detail = f" (closest: {first[1]})" if first is not None else ""
        yield violation(f"expected {expected}, found {_short(instance)}{detail}", expected, _short(instance))
    elif keyword == "oneOf":
        expected = f"a match for exactly one of the {len(value)} oneOf schemas"
        yield violation(
            f"expected {expected}, found {_short(instance)}, which matches more than one", expected, _short(instance)
        )
    elif keyword == "not":
        yield expect(f"no match for {_short(value)}", _short(instance))
    else:
        message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
        yield violation(f"{message} ({keyword})", f"{keyword} {_short(value)}", _short(instance))


def _check_json_schema(data: Any, schema: Mapping[str, Any] | bool, info: ExtractionInfo | None) -> Any:
    __tracebackhide__ = True  # pytest shows the caller's line, not these internals
    from referencing.exceptions import Unresolvable

    cls = _validator_class(schema)
    problems = _schema_problems(cls, schema)
    draft = _DRAFT_NAMES.get(cls.__name__, cls.__name__)
    if problems:
        raise InvalidSchemaError(
            f"invalid JSON Schema ({draft}), {_plural(len(problems), 'problem')}:\n"
            + "\n".join(f"  {p}" for p in problems),
            problems,
        )
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    try:
        errors = list(validator.iter_errors(data))
    except Unresolvable as exc:
        raise InvalidSchemaError(f"invalid JSON Schema ({draft}): unresolvable reference: {exc}", [str(exc)]) from exc
    if not errors:
        return data
    order = _doc_order(data)
    found: list[tuple[tuple[Any, ...], Violation]] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        for parts, v in _explain(error, data):
            if (v.path, v.message) not in seen:
                seen.add((v.path, v.message))
                found.append((parts, v))
    found.sort(key=lambda item: order(item[0]))
    raise _failure("output does not match schema", [v for _, v in found], data, info)


# --------------------------------------------------------------------------------------------
# Pydantic

_SHOULD = re.compile(r"(?P<subject>\w+(?: \w+)?) should (?P<verb>have|be|match|not)?\s*(?P<rest>.*)", re.S)


def _pydantic_expected(msg: str) -> str:
    """``Input should be a valid integer`` -> ``a valid integer``; ``String should have at least
    3 characters`` -> ``string with at least 3 characters``."""
    if msg.startswith("Input should be "):
        return msg[len("Input should be ") :]
    m = _SHOULD.match(msg)
    if m:
        subject, verb, rest = m.group("subject").lower(), m.group("verb"), m.group("rest")
        if subject == "input":
            return f"{verb} {rest}" if verb and verb != "be" else rest
        if verb == "have":
            return f"{subject} with {rest}"
        if verb == "be":
            return f"{subject} {rest}"
        return f"{subject} to {verb + ' ' if verb else ''}{rest}"
    return msg[:1].lower() + msg[1:]


def _check_model(data: Any, model: type[pydantic.BaseModel], info: ExtractionInfo | None) -> Any:
    __tracebackhide__ = True
    import pydantic

    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        violations = []
        for err in exc.errors(include_url=False):
            kind = err["type"]
            path = _format_path(err["loc"])
            found_value = err.get("input")
            if kind == "missing":
                violations.append(Violation(path, "required property missing", "required property", "missing", kind))
                continue
            if kind == "extra_forbidden":
                found = _short(found_value)
                violations.append(
                    Violation(
                        path, f"unexpected property (extra='forbid'), found {found}", "no other properties", found, kind
                    )
                )
                continue
            found = _typed(found_value) if kind.endswith(("_type", "_parsing")) else _short(found_value)
            msg = err["msg"]
            if msg.startswith(("Value error, ", "Assertion failed, ")):
                expected = msg
                message = f"{msg}, found {found}"
            else:
                expected = _pydantic_expected(msg)
                message = f"expected {expected}, found {found}"
            violations.append(Violation(path, message, expected, found, kind))
        raise _failure(f"output does not match model {model.__name__}", violations, data, info) from None


# --------------------------------------------------------------------------------------------


def assert_schema(
    value: Any,
    schema: Mapping[str, Any] | bool | type[pydantic.BaseModel],
    *,
    extract: bool = True,
) -> Any:
    """Assert that ``value`` matches ``schema`` and return the validated data.

    ``value`` is what the model produced:

    * ``str`` or ``bytes``: JSON text. With ``extract=True`` (the default) the JSON is found by
      :func:`pytest_llmops.jsonparse.extract_json` (fences, prose, cheap repairs); with
      ``extract=False`` the whole text must be valid JSON.
    * a Pydantic model instance: its ``model_dump(mode="json", by_alias=True)``.
    * anything else: already-parsed data (``dict``, ``list``, ...), used as is.

    ``schema`` is a JSON Schema (a ``dict``; validated with jsonschema, by the draft its
    ``$schema`` names, Draft 2020-12 when it names none or one jsonschema does not know; ``format``
    is checked) or a Pydantic model class (validated with ``model_validate``).

    Returns the parsed data for a JSON Schema and the model instance for a Pydantic model.

    Raises :class:`SchemaAssertionError` (an ``AssertionError``) when the output holds no JSON or
    does not match, listing every violation; :class:`InvalidSchemaError` when the JSON Schema is
    itself invalid; :class:`TypeError` when ``schema`` is neither.
    """
    __tracebackhide__ = True
    model = _model_class(schema)
    info: ExtractionInfo | None = None
    if isinstance(value, (str, bytes, bytearray)):
        data, info = _parse_text(value, extract)
    elif _is_model_instance(value):
        data = value.model_dump(mode="json", by_alias=True)
    else:
        data = value
    if model is not None:
        return _check_model(data, model, info)
    return _check_json_schema(data, schema, info)  # type: ignore[arg-type]
