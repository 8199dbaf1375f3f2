"""Declared fields of JSON documents: types derived from dataclasses, one-line messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from blockbench.core.fields import Fields, ListOf, MapOf, check_value, expected, fields_of
from blockbench.core.formats import FormatError


@dataclass
class Inner:
    n: int
    mean: float | None = None


@dataclass
class Outer:
    name: str
    inner: Inner
    values: dict[int, float]
    options: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    flag: bool = False
    note: str | None = None


def _error(document: Any, fields: Fields) -> str:
    with pytest.raises(FormatError) as info:
        fields.check(document, "thing")
    assert "\n" not in str(info.value)
    return str(info.value)


GOOD = {"name": "a", "inner": {"n": 2, "mean": 0.5}, "values": {"0": 0.5, "1": 1},
        "options": {"x": [1]}, "tags": ["t"], "flag": True, "note": None}


def test_fields_of_a_dataclass_follow_its_annotations():
    fields = fields_of(Outer)
    assert fields.required == ("name", "inner", "values")
    fields.check(GOOD, "thing")
    fields.check({"name": "a", "inner": {"n": 1, "mean": None}, "values": {}}, "thing")


@pytest.mark.parametrize(("change", "message"), [
    ({"name": 3}, "thing field 'name' must be a string, got 3"),
    ({"inner": {"n": "2"}}, "thing field 'inner.n' must be a whole number, got '2'"),
    ({"inner": {"n": 1.0}}, "thing field 'inner.n' must be a whole number, got 1.0"),
    ({"inner": {}}, "thing field 'inner.n' is missing"),
    ({"inner": None}, "thing field 'inner' must be an object, got null"),
    ({"values": {"zero": 0.5}}, "thing field 'values' must be keyed by whole numbers, got the key 'zero'"),
    ({"values": {"0": "high"}}, "thing field 'values.0' must be a number or null, got 'high'"),
    ({"tags": "t"}, "thing field 'tags' must be a list of strings, got 't'"),
    ({"tags": ["t", 2]}, "thing field 'tags[1]' must be a string, got 2"),
    ({"flag": 1}, "thing field 'flag' must be true or false, got 1"),
    ({"nmae": "a"}, "thing has an unknown field 'nmae'; did you mean 'name'?"),
])
def test_a_field_that_does_not_fit_is_named_with_what_would(change, message):
    assert _error(GOOD | change, fields_of(Outer)) == message


def test_a_missing_required_field_and_a_non_object():
    assert _error({k: v for k, v in GOOD.items() if k != "values"}, fields_of(Outer)) == \
        "thing field 'values' is missing"
    assert _error([1], fields_of(Outer)) == "not a thing (expected a JSON object)"


def test_overrides_extra_fields_choices_and_nullable_objects():
    fields = fields_of(Outer, extra=True, name=("a", "b"),
                       inner=Fields({"n": "integer"}, ("n",), nullable=True))
    fields.check(GOOD | {"inner": None, "more": 1}, "thing")
    assert _error(GOOD | {"name": "c"}, fields) == "thing field 'name' must be one of 'a', 'b', got 'c'"
    assert _error(GOOD | {"inner": 3}, fields) == "thing field 'inner' must be an object or null, got 3"


def test_lists_of_objects_and_maps_of_values():
    check_value([{"n": 1}], ListOf(fields_of(Inner)), "thing", "items")
    with pytest.raises(FormatError, match=r"^thing field 'items\[1\]\.n' is missing$"):
        check_value([{"n": 1}, {}], ListOf(fields_of(Inner)), "thing", "items")
    with pytest.raises(FormatError, match=r"^thing field 'm\.a' must be a string, got true$"):
        check_value({"a": True}, MapOf("string"), "thing", "m")
    assert expected(ListOf(fields_of(Inner))) == "a list of objects"
    assert expected(MapOf("number", seeds=True)) == "an object of numbers keyed by number"
    assert expected("integer|null") == "a whole number or null"
