"""Tests of pytest_llmops.schema.assert_schema."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, Field

from pytest_llmops.jsonparse import JSONExtractionError
from pytest_llmops.schema import InvalidSchemaError, SchemaAssertionError, Violation, assert_schema

PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    },
    "additionalProperties": False,
}

ORDER = {
    "type": "object",
    "required": ["name", "age", "items"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["price"],
                "properties": {"price": {"type": "number", "minimum": 0}},
            },
        },
    },
}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str
    price: float = Field(ge=0)


class Order(BaseModel):
    customer: str = Field(min_length=2)
    items: list[Item]
    note: str | None = None


def paths(err: pytest.ExceptionInfo[SchemaAssertionError]) -> list[str]:
    return [v.path for v in err.value.violations]


# --------------------------------------------------------------------------------------------
# JSON Schema dicts


def test_dict_schema_pass_returns_data() -> None:
    data = {"name": "Ada", "age": 36, "tags": ["math"]}
    assert assert_schema(data, PERSON) == data
    assert assert_schema('{"name": "Ada", "age": 36}', PERSON) == {"name": "Ada", "age": 36}


def test_dict_schema_fail_lists_every_violation_with_path() -> None:
    data = {"name": "", "age": -1, "email": "not-an-email", "tags": ["a", "a", 3], "extra": 1, "more": 2}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(data, PERSON)
    got = [(v.path, v.keyword) for v in err.value.violations]
    assert got == [
        ("$.name", "minLength"),
        ("$.age", "minimum"),
        ("$.email", "format"),
        ("$.tags", "uniqueItems"),
        ("$.tags[2]", "type"),
        ("$.extra", "additionalProperties"),
        ("$.more", "additionalProperties"),
    ]
    message = str(err.value)
    assert message.startswith("output does not match schema (7 violations):\n")
    for v in err.value.violations:
        assert f"  {v.path}: {v.message}\n" in message


def test_message_as_a_whole() -> None:
    output = (
        "Sure! Here is the order you asked for:\n"
        "```json\n"
        '{"age": "42", "items": [{"price": 3.5}, {"price": -3}, {}],}\n'
        "```\n"
        "Let me know if you need anything else."
    )
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(output, ORDER)
    assert str(err.value) == textwrap.dedent(
        """\
        output does not match schema (4 violations):
          $.age: expected type integer, found string '42'
          $.items[1].price: expected minimum 0, found -3
          $.items[2].price: required property missing
          $.name: required property missing
        note: JSON taken from the ```json fenced block at line 2, repaired (trailing_comma)
        value:
          {
            "age": "42",
            "items": [
              {
                "price": 3.5
              },
              {
                "price": -3
              },
              {}
            ]
          }"""
    )
    assert err.value.violations[0] == Violation(
        "$.age", "expected type integer, found string '42'", "type integer", "string '42'", "type"
    )
    assert err.value.value == {"age": "42", "items": [{"price": 3.5}, {"price": -3}, {}]}
    assert err.value.info is not None and err.value.info.source == "fenced"


def test_nested_arrays() -> None:
    schema = {
        "type": "object",
        "properties": {
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}}
        },
    }
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema({"matrix": [[1, "x"], [2, 3, None], [4.5]]}, schema)
    assert paths(err) == ["$.matrix[0][1]", "$.matrix[1]", "$.matrix[1][2]", "$.matrix[2][0]"]
    messages = [v.message for v in err.value.violations]
    assert messages[1] == "expected at most 2 items, found 3 items"
    assert messages[2] == "expected type integer, found null"
    assert messages[3] == "expected type integer, found number 4.5"


def test_odd_keys_in_paths() -> None:
    schema = {"properties": {"a b": {"type": "string"}, "it's": {"type": "string"}, "ok_1": {"type": "string"}}}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema({"a b": 1, "it's": 2, "ok_1": 3}, schema)
    assert paths(err) == ["$['a b']", "$['it\\'s']", "$.ok_1"]


def test_anyof_names_the_closest_alternative() -> None:
    schema = {"properties": {"id": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^id-"}]}}}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema({"id": "x7"}, schema)
    (v,) = err.value.violations
    assert v.path == "$.id"
    assert v.message == (
        "expected a match for any of the 2 anyOf schemas, found 'x7' "
        "(closest: $.id: expected a match for /^id-/, found 'x7')"
    )


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        ({"enum": ["a", "b"]}, ["c"], '$[0]: expected one of ["a", "b"], found \'c\''),
        ({"const": 5}, [6], "$[0]: expected constant 5, found 6"),
        ({"multipleOf": 5}, [7], "$[0]: expected a multiple of 5, found 7"),
        ({"exclusiveMaximum": 3}, [3], "$[0]: expected exclusive maximum 3, found 3"),
        ({"maxLength": 2}, ["abc"], "$[0]: expected at most 2 characters, found 'abc' (3 characters)"),
        ({"minProperties": 1}, [{}], "$[0]: expected at least 1 property, found 0 properties"),
        ({"not": {"type": "null"}}, [None], '$[0]: expected no match for {"type": "null"}, found null'),
        (
            {"dependentRequired": {"a": ["b"]}},
            [{"a": 1}],
            "$[0].b: required property missing (required when 'a' is present)",
        ),
        ({"properties": {"a": False}}, [{"a": [1]}], "$[0].a: no value allowed here (schema is false), found [1]"),
        ({"prefixItems": [True], "items": False}, [[1, 2]], "$[0]: expected at most 1 item, found 2 items"),
        ({"format": "date"}, ["2024-13-01"], "$[0]: expected format 'date', found '2024-13-01'"),
    ],
)
def test_keyword_messages(schema: Any, value: list[Any], message: str) -> None:
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(value, {"type": "array", "items": schema})
    assert [str(v) for v in err.value.violations] == [message]


def test_long_values_are_truncated() -> None:
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(
            {"s": "x" * 500, "big": list(range(1000))}, {"properties": {"s": {"type": "integer"}}, "required": ["t"]}
        )
    v = err.value.violations[0]
    assert v.found == "string '" + "x" * 60 + "…' (500 characters)"
    message = str(err.value)
    assert "... (" in message and "more lines)" in message
    assert len(message) < 3000


def test_draft_from_dollar_schema() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"}]}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(["a", "b"], draft7)  # tuple validation: only the first item is checked
    assert paths(err) == ["$[0]"]
    # the same schema is invalid under the default, Draft 2020-12
    with pytest.raises(InvalidSchemaError):
        assert_schema(["a"], {"items": [{"type": "integer"}]})


def test_draft4_exclusive_minimum() -> None:
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 0, "exclusiveMinimum": True}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema([0], {"$schema": schema["$schema"], "items": schema})
    assert str(err.value.violations[0]) == "$[0]: expected exclusive minimum 0, found 0"


# --------------------------------------------------------------------------------------------
# invalid schemas


def test_invalid_schema_is_not_an_assertion_error() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integr"}, "code": {"pattern": "("}}, "required": "age"}
    with pytest.raises(InvalidSchemaError) as err:
        assert_schema({"age": 1}, schema)
    assert not isinstance(err.value, AssertionError)
    assert isinstance(err.value, ValueError)
    assert str(err.value) == "\n".join(
        [
            "invalid JSON Schema (Draft 2020-12), 3 problems:",
            "  $.properties.age.type: 'integr' is not one of "
            "['array', 'boolean', 'integer', 'null', 'number', 'object', 'string']",
            "  $.properties.code.pattern: '(' is not a 'regex'",
            "  $.required: 'age' is not of type 'array'",
        ]
    )
    assert len(err.value.problems) == 3


def test_unresolvable_reference() -> None:
    with pytest.raises(InvalidSchemaError, match="unresolvable reference"):
        assert_schema({"a": 1}, {"properties": {"a": {"$ref": "#/$defs/Missing"}}})


def test_schema_of_the_wrong_kind() -> None:
    with pytest.raises(TypeError, match=r"JSON Schema dict or a pydantic\.BaseModel subclass"):
        assert_schema({}, dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        assert_schema({}, "object")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# the value: text, bytes, prose, models


def test_value_as_bytes() -> None:
    assert assert_schema(b'{"name": "Ada", "age": 36}', PERSON) == {"name": "Ada", "age": 36}
    assert assert_schema('\ufeff{"name": "Ada", "age": 36}'.encode(), PERSON)["age"] == 36
    with pytest.raises(SchemaAssertionError):
        assert_schema(b'{"name": "Ada", "age": "x"}', PERSON)


def test_chatty_model_output() -> None:
    output = (
        "Of course! After careful consideration [1], here is the person record you requested:\n\n"
        "{'name': 'Ada Lovelace', 'age': 36, 'tags': ['math', 'poetry',],}\n\n"
        "I hope this helps. Let me know if you'd like me to add {more} fields!"
    )
    assert assert_schema(output, PERSON) == {"name": "Ada Lovelace", "age": 36, "tags": ["math", "poetry"]}


def test_note_for_prose_and_repairs() -> None:
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema("Here: {'name': 'Ada', 'age': None}", PERSON)
    lines = str(err.value).splitlines()
    assert lines[:3] == [
        "output does not match schema (1 violation):",
        "  $.age: expected type integer, found null",
        "note: JSON taken from the {...}/[...] span at line 1 (characters 6-34), "
        "repaired (single_quotes, python_literals)",
    ]
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema('{"name": "Ada", "age": null}', PERSON)
    assert "note:" not in str(err.value)  # plain JSON text: nothing to say


def test_no_json_in_output_is_an_assertion_failure() -> None:
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema("I'm sorry, I can't do that.", PERSON)
    assert str(err.value).startswith("output is not JSON: no JSON value found in the text (27 characters)")
    assert isinstance(err.value.extraction_error, JSONExtractionError)
    assert err.value.__cause__ is None  # no parser traceback in the pytest report
    assert err.value.violations == [
        Violation("$", "expected JSON, found none", "JSON", "\"I'm sorry, I can't do that.\"", "json")
    ]


def test_extract_false_needs_exact_json() -> None:
    assert assert_schema(' {"name": "Ada", "age": 1} ', PERSON, extract=False) == {"name": "Ada", "age": 1}
    with pytest.raises(SchemaAssertionError, match=r"output is not valid JSON \(extract=False\)"):
        assert_schema('Sure: {"name": "Ada", "age": 1}', PERSON, extract=False)
    with pytest.raises(SchemaAssertionError):
        assert_schema("{'name': 'Ada', 'age': 1}", PERSON, extract=False)


def test_parsed_scalars_and_lists() -> None:
    assert assert_schema(3, {"type": "integer"}) == 3
    assert assert_schema([1, 2], {"type": "array"}) == [1, 2]
    assert assert_schema("3", {"type": "integer"}) == 3  # text is JSON text
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(None, {"type": "object"})
    assert str(err.value.violations[0]) == "$: expected type object, found null"


# --------------------------------------------------------------------------------------------
# Pydantic


def test_pydantic_pass_returns_instance() -> None:
    output = 'Result:\n```json\n{"customer": "Ada", "items": [{"sku": "A1", "price": 2.5}]}\n```'
    order = assert_schema(output, Order)
    assert isinstance(order, Order)
    assert order.items[0].price == 2.5


def test_pydantic_fail_lists_every_violation() -> None:
    data = {"customer": "A", "items": [{"sku": "A1", "price": -1}, {"price": "cheap", "colour": "red"}]}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(data, Order)
    assert [str(v) for v in err.value.violations] == [
        "$.customer: expected string with at least 2 characters, found 'A'",
        "$.items[0].price: expected greater than or equal to 0, found -1",
        "$.items[1].sku: required property missing",
        "$.items[1].price: expected a valid number, unable to parse string as a number, found string 'cheap'",
        "$.items[1].colour: unexpected property (extra='forbid'), found 'red'",
    ]
    assert str(err.value).startswith("output does not match model Order (5 violations):\n")
    assert [v.keyword for v in err.value.violations][:3] == ["string_too_short", "greater_than_equal", "missing"]


def test_pydantic_wrong_top_level_type() -> None:
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema("[1, 2]", Order)
    assert str(err.value.violations[0]) == "$: expected a valid dictionary or instance of Order, found array [1, 2]"


def test_pydantic_validator_errors() -> None:
    class Positive(BaseModel):
        n: int

        @pydantic.field_validator("n")
        @classmethod
        def positive(cls, v: int) -> int:
            if v <= 0:
                raise ValueError("must be positive")
            return v

    with pytest.raises(SchemaAssertionError) as err:
        assert_schema({"n": -2}, Positive)
    assert str(err.value.violations[0]) == "$.n: Value error, must be positive, found -2"


def test_pydantic_instance_as_value() -> None:
    order = Order(customer="Ada", items=[Item(sku="A1", price=1.0)])
    assert assert_schema(order, Order) == order
    schema = {"type": "object", "required": ["customer"], "properties": {"note": {"type": "string"}}}
    with pytest.raises(SchemaAssertionError) as err:
        assert_schema(order, schema)
    assert str(err.value.violations[0]) == "$.note: expected type string, found null"
    bad = Order.model_construct(customer="A", items=[])
    with pytest.raises(SchemaAssertionError):
        assert_schema(bad, Order)


# --------------------------------------------------------------------------------------------
# API surface


def test_errors_are_assertion_errors() -> None:
    assert issubclass(SchemaAssertionError, AssertionError)
    assert issubclass(InvalidSchemaError, ValueError) and not issubclass(InvalidSchemaError, AssertionError)


def test_module_import_is_cheap() -> None:
    code = (
        "import sys, pytest_llmops; before = set(sys.modules); import pytest_llmops.schema; "
        "new = set(sys.modules) - before; "
        "heavy = sorted(m for m in new if m.split('.')[0] in ('jsonschema', 'pydantic', 'referencing')); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_all() -> None:
    import pytest_llmops.jsonparse as jsonparse
    import pytest_llmops.schema as schema

    assert set(schema.__all__) == {"InvalidSchemaError", "SchemaAssertionError", "Violation", "assert_schema"}
    assert {"extract_json", "extract_json_with_info", "find_json_candidates", "JSONExtractionError"} <= set(
        jsonparse.__all__
    )
